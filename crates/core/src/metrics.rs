//! A small Prometheus registry: labelled counters and latency histograms kept in
//! atomics, rendered in the text exposition format at `/metrics`.
//!
//! Series are created on first use and never removed; labels must therefore come from
//! small fixed sets (route templates, status codes, verdicts), never from ids.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

/// Upper bounds (seconds) of the latency histogram buckets.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

type Labels = Vec<(&'static str, String)>;

struct Histogram {
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    /// Sum in microseconds, to stay in integers.
    sum_micros: AtomicU64,
}

impl Histogram {
    fn new() -> Self {
        Histogram {
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            count: AtomicU64::new(0),
            sum_micros: AtomicU64::new(0),
        }
    }
}

#[derive(Default)]
struct Families {
    counters: BTreeMap<(&'static str, Labels), Arc<AtomicU64>>,
    histograms: BTreeMap<(&'static str, Labels), Arc<Histogram>>,
    help: BTreeMap<&'static str, &'static str>,
}

/// The metrics of one process. Cheap to clone; clones share the series.
#[derive(Clone, Default)]
pub struct Metrics {
    families: Arc<RwLock<Families>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

fn labels(pairs: &[(&'static str, &str)]) -> Labels {
    pairs.iter().map(|(k, v)| (*k, (*v).to_owned())).collect()
}

impl Metrics {
    /// Adds `by` to a counter.
    pub fn add(
        &self,
        name: &'static str,
        help: &'static str,
        pairs: &[(&'static str, &str)],
        by: u64,
    ) {
        let key = (name, labels(pairs));
        if let Some(counter) = self
            .families
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .counters
            .get(&key)
        {
            counter.fetch_add(by, Ordering::Relaxed);
            return;
        }
        let mut families = self.families.write().unwrap_or_else(|e| e.into_inner());
        families.help.insert(name, help);
        families
            .counters
            .entry(key)
            .or_default()
            .fetch_add(by, Ordering::Relaxed);
    }

    /// Counts one event.
    pub fn inc(&self, name: &'static str, help: &'static str, pairs: &[(&'static str, &str)]) {
        self.add(name, help, pairs, 1);
    }

    /// Records a duration in seconds.
    pub fn observe(
        &self,
        name: &'static str,
        help: &'static str,
        pairs: &[(&'static str, &str)],
        seconds: f64,
    ) {
        let key = (name, labels(pairs));
        let existing = self
            .families
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .histograms
            .get(&key)
            .cloned();
        let histogram = existing.unwrap_or_else(|| {
            let mut families = self.families.write().unwrap_or_else(|e| e.into_inner());
            families.help.insert(name, help);
            Arc::clone(
                families
                    .histograms
                    .entry(key)
                    .or_insert_with(|| Arc::new(Histogram::new())),
            )
        });
        for (bucket, bound) in histogram.buckets.iter().zip(BUCKETS) {
            if seconds <= bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        histogram.count.fetch_add(1, Ordering::Relaxed);
        let micros = (seconds * 1e6).max(0.0) as u64;
        histogram.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }

    /// Records one HTTP request of `service` (route templates only, never raw paths).
    pub fn http(&self, service: &str, route: &str, method: &str, status: u16, seconds: f64) {
        let status = status.to_string();
        self.inc(
            "fluidcloud_http_requests_total",
            "HTTP requests answered, by service, route, method and status.",
            &[
                ("service", service),
                ("route", route),
                ("method", method),
                ("status", &status),
            ],
        );
        self.observe(
            "fluidcloud_http_request_duration_seconds",
            "HTTP request latency, by service, route and method.",
            &[("service", service), ("route", route), ("method", method)],
            seconds,
        );
    }

    /// The exposition text, with `gauges` (name, help, value) computed by the caller
    /// appended.
    pub fn render(&self, gauges: &[(&str, &str, f64)]) -> String {
        let families = self.families.read().unwrap_or_else(|e| e.into_inner());
        let mut out = String::new();
        let mut last = "";
        for ((name, labels), value) in &families.counters {
            if *name != last {
                let _ = writeln!(
                    out,
                    "# HELP {name} {}\n# TYPE {name} counter",
                    families.help[name]
                );
                last = name;
            }
            let _ = writeln!(
                out,
                "{name}{} {}",
                format_labels(labels, None),
                value.load(Ordering::Relaxed)
            );
        }
        for ((name, labels), histogram) in &families.histograms {
            if *name != last {
                let _ = writeln!(
                    out,
                    "# HELP {name} {}\n# TYPE {name} histogram",
                    families.help[name]
                );
                last = name;
            }
            for (bucket, bound) in histogram.buckets.iter().zip(BUCKETS) {
                let le = bound.to_string();
                let _ = writeln!(
                    out,
                    "{name}_bucket{} {}",
                    format_labels(labels, Some(&le)),
                    bucket.load(Ordering::Relaxed)
                );
            }
            let count = histogram.count.load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "{name}_bucket{} {count}",
                format_labels(labels, Some("+Inf"))
            );
            let sum = histogram.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
            let _ = writeln!(out, "{name}_sum{} {sum}", format_labels(labels, None));
            let _ = writeln!(out, "{name}_count{} {count}", format_labels(labels, None));
        }
        for (name, help, value) in gauges {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
            );
        }
        out
    }
}

fn format_labels(labels: &Labels, le: Option<&str>) -> String {
    if labels.is_empty() && le.is_none() {
        return String::new();
    }
    let mut parts: Vec<String> = labels
        .iter()
        .map(|(k, v)| {
            format!(
                "{k}=\"{}\"",
                v.replace('\\', "\\\\")
                    .replace('"', "\\\"")
                    .replace('\n', "\\n")
            )
        })
        .collect();
    if let Some(le) = le {
        parts.push(format!("le=\"{le}\""));
    }
    format!("{{{}}}", parts.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_histograms_and_gauges() {
        let metrics = Metrics::default();
        metrics.inc(
            "requests_total",
            "Requests.",
            &[("route", "/a"), ("status", "200")],
        );
        metrics.inc(
            "requests_total",
            "Requests.",
            &[("route", "/a"), ("status", "200")],
        );
        metrics.observe("latency_seconds", "Latency.", &[("route", "/a")], 0.003);
        let text = metrics.render(&[("queue_depth", "Jobs waiting.", 4.0)]);
        assert!(text.contains("# TYPE requests_total counter\n"));
        assert!(text.contains("requests_total{route=\"/a\",status=\"200\"} 2\n"));
        assert!(text.contains("latency_seconds_bucket{route=\"/a\",le=\"0.0025\"} 0\n"));
        assert!(text.contains("latency_seconds_bucket{route=\"/a\",le=\"0.005\"} 1\n"));
        assert!(text.contains("latency_seconds_bucket{route=\"/a\",le=\"+Inf\"} 1\n"));
        assert!(text.contains("latency_seconds_count{route=\"/a\"} 1\n"));
        assert!(text.contains("queue_depth 4\n"));
    }
}
