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
    fn record(&self, seconds: f64) {
        for (bucket, bound) in self.buckets.iter().zip(BUCKETS) {
            if seconds <= bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        let micros = (seconds * 1e6).max(0.0) as u64;
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, labels: &Labels) {
        for (bucket, bound) in self.buckets.iter().zip(BUCKETS) {
            let le = bound.to_string();
            let _ = writeln!(
                out,
                "{name}_bucket{} {}",
                format_labels(labels, Some(&le)),
                bucket.load(Ordering::Relaxed)
            );
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "{name}_bucket{} {count}",
            format_labels(labels, Some("+Inf"))
        );
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{name}_sum{} {sum}", format_labels(labels, None));
        let _ = writeln!(out, "{name}_count{} {count}", format_labels(labels, None));
    }

    fn new() -> Self {
        Histogram {
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            count: AtomicU64::new(0),
            sum_micros: AtomicU64::new(0),
        }
    }
}

/// One HTTP series: the request counter and latency histogram of a (service, route,
/// method, status). Kept apart from the generic families so the per-request path is a
/// hash and two atomic adds, with no allocation.
struct HttpSeries {
    labels: Labels,
    count: AtomicU64,
    latency: Histogram,
}

#[derive(Default)]
struct Families {
    counters: BTreeMap<(&'static str, Labels), Arc<AtomicU64>>,
    histograms: BTreeMap<(&'static str, Labels), Arc<Histogram>>,
    help: BTreeMap<&'static str, &'static str>,
}

#[derive(Default)]
struct HttpFamilies {
    series: std::collections::HashMap<u64, Arc<HttpSeries>>,
}

/// The metrics of one process. Cheap to clone; clones share the series.
#[derive(Clone, Default)]
pub struct Metrics {
    families: Arc<RwLock<Families>>,
    http: Arc<RwLock<HttpFamilies>>,
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
        histogram.record(seconds);
    }

    /// Records one HTTP request of `service` (route templates only, never raw paths).
    pub fn http(&self, service: &str, route: &str, method: &str, status: u16, seconds: f64) {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::hash::DefaultHasher::new();
        (service, route, method, status).hash(&mut hasher);
        let key = hasher.finish();
        let existing = self
            .http
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .series
            .get(&key)
            .cloned();
        let series = existing.unwrap_or_else(|| {
            let status = status.to_string();
            let labels = labels(&[
                ("service", service),
                ("route", route),
                ("method", method),
                ("status", &status),
            ]);
            let mut http = self.http.write().unwrap_or_else(|e| e.into_inner());
            let series = http.series.entry(key).or_insert_with(|| {
                Arc::new(HttpSeries {
                    labels,
                    count: AtomicU64::new(0),
                    latency: Histogram::new(),
                })
            });
            Arc::clone(series)
        });
        series.count.fetch_add(1, Ordering::Relaxed);
        series.latency.record(seconds);
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
            histogram.render(&mut out, name, labels);
        }
        let http = self.http.read().unwrap_or_else(|e| e.into_inner());
        let mut series: Vec<&Arc<HttpSeries>> = http.series.values().collect();
        series.sort_by(|a, b| a.labels.cmp(&b.labels));
        if !series.is_empty() {
            let name = "fluidcloud_http_requests_total";
            let _ = writeln!(
                out,
                "# HELP {name} HTTP requests answered, by service, route, method and status."
            );
            let _ = writeln!(out, "# TYPE {name} counter");
            for one in &series {
                let _ = writeln!(
                    out,
                    "{name}{} {}",
                    format_labels(&one.labels, None),
                    one.count.load(Ordering::Relaxed)
                );
            }
            let name = "fluidcloud_http_request_duration_seconds";
            let _ = writeln!(
                out,
                "# HELP {name} HTTP request latency, by service, route, method and status."
            );
            let _ = writeln!(out, "# TYPE {name} histogram");
            for one in &series {
                one.latency.render(&mut out, name, &one.labels);
            }
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
        metrics.http("api", "/api/v1/me", "GET", 200, 0.002);
        metrics.http("api", "/api/v1/me", "GET", 200, 0.02);
        metrics.http("api", "/api/v1/me", "GET", 401, 0.001);
        let text = metrics.render(&[("queue_depth", "Jobs waiting.", 4.0)]);
        let me = "service=\"api\",route=\"/api/v1/me\",method=\"GET\"";
        assert!(
            text.contains(&format!(
                "fluidcloud_http_requests_total{{{me},status=\"200\"}} 2\n"
            )),
            "{text}"
        );
        assert!(text.contains(&format!(
            "fluidcloud_http_requests_total{{{me},status=\"401\"}} 1\n"
        )));
        assert!(text.contains(&format!("fluidcloud_http_request_duration_seconds_bucket{{{me},status=\"200\",le=\"0.0025\"}} 1\n")), "{text}");
        assert_eq!(
            text.matches("# TYPE fluidcloud_http_requests_total counter")
                .count(),
            1
        );
        assert!(text.contains("# TYPE requests_total counter\n"));
        assert!(text.contains("requests_total{route=\"/a\",status=\"200\"} 2\n"));
        assert!(text.contains("latency_seconds_bucket{route=\"/a\",le=\"0.0025\"} 0\n"));
        assert!(text.contains("latency_seconds_bucket{route=\"/a\",le=\"0.005\"} 1\n"));
        assert!(text.contains("latency_seconds_bucket{route=\"/a\",le=\"+Inf\"} 1\n"));
        assert!(text.contains("latency_seconds_count{route=\"/a\"} 1\n"));
        assert!(text.contains("queue_depth 4\n"));
    }
}
