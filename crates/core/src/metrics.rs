//! Prometheus metrics on `prometheus-client`: the families every service shares, typed
//! (counters count, histograms time), rendered in the OpenMetrics text format.
//!
//! Every label comes from a small fixed set — route templates, methods, status codes,
//! verdicts, job kinds — never from ids, so the number of series stays bounded. Values
//! that other parts of the process already count (cache hits) are read at scrape
//! time through [`Metrics::counter_fn`]; nothing a scrape reads costs a query.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, RwLock};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// The content type of [`Metrics::render`]'s output.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Upper bounds (seconds) of the latency histogram buckets.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    service: &'static str,
    route: &'static str,
    method: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VerdictLabels {
    verdict: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct JobLabels {
    kind: &'static str,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ModeLabels {
    mode: &'static str,
}

fn latency_histogram() -> Histogram {
    Histogram::new(BUCKETS)
}

type LatencyFamily = Family<HttpLabels, Histogram, fn() -> Histogram>;

struct Inner {
    registry: Mutex<Registry>,
    http_requests: Family<HttpLabels, Counter>,
    http_latency: LatencyFamily,
    scans: Family<VerdictLabels, Counter>,
    jobs: Family<JobLabels, Counter>,
    uploads_initiated: Family<ModeLabels, Counter>,
    uploads_completed: Counter,
    imports: Counter,
    queue_depth: Gauge,
    /// Route templates seen so far, kept for the life of the process so labels borrow
    /// them without an allocation per request (routes are a small fixed set).
    routes: RwLock<HashSet<&'static str>>,
}

/// The metrics of one process. Cheap to clone; clones share the series.
#[derive(Clone)]
pub struct Metrics(Arc<Inner>);

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let http_requests = Family::<HttpLabels, Counter>::default();
        registry.register(
            "fluidcloud_http_requests",
            "HTTP requests answered, by service, route, method and status",
            http_requests.clone(),
        );
        let http_latency: LatencyFamily = Family::new_with_constructor(latency_histogram);
        registry.register(
            "fluidcloud_http_request_duration_seconds",
            "HTTP request latency, by service, route, method and status",
            http_latency.clone(),
        );
        let scans = Family::<VerdictLabels, Counter>::default();
        registry.register(
            "fluidcloud_scans",
            "Scan verdicts recorded, by verdict",
            scans.clone(),
        );
        let jobs = Family::<JobLabels, Counter>::default();
        registry.register(
            "fluidcloud_jobs",
            "Jobs run, by kind and outcome",
            jobs.clone(),
        );
        let uploads_initiated = Family::<ModeLabels, Counter>::default();
        registry.register(
            "fluidcloud_uploads_initiated",
            "Upload tickets handed out, by mode",
            uploads_initiated.clone(),
        );
        let uploads_completed = Counter::default();
        registry.register(
            "fluidcloud_uploads_completed",
            "Uploads turned into files",
            uploads_completed.clone(),
        );
        let imports = Counter::default();
        registry.register(
            "fluidcloud_imports",
            "Files imported from URLs",
            imports.clone(),
        );
        let queue_depth = Gauge::default();
        registry.register(
            "fluidcloud_jobs_queue_depth",
            "Jobs waiting or running, as last sampled (-1: unknown)",
            queue_depth.clone(),
        );
        queue_depth.set(-1);
        Metrics(Arc::new(Inner {
            registry: Mutex::new(registry),
            http_requests,
            http_latency,
            scans,
            jobs,
            uploads_initiated,
            uploads_completed,
            imports,
            queue_depth,
            routes: RwLock::default(),
        }))
    }
}

/// A standard method's name, or `other`: labels come from a fixed set.
fn method_label(method: &str) -> &'static str {
    match method {
        "GET" => "GET",
        "HEAD" => "HEAD",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "OPTIONS" => "OPTIONS",
        _ => "other",
    }
}

impl Metrics {
    fn route(&self, route: &str) -> &'static str {
        let routes = &self.0.routes;
        if let Some(known) = routes.read().unwrap_or_else(|e| e.into_inner()).get(route) {
            return known;
        }
        let mut routes = routes.write().unwrap_or_else(|e| e.into_inner());
        if let Some(known) = routes.get(route) {
            return known;
        }
        // Leaked once per distinct template; callers pass route templates only.
        let interned: &'static str = Box::leak(route.to_owned().into_boxed_str());
        routes.insert(interned);
        interned
    }

    /// Records one HTTP request of `service` (route templates only, never raw paths).
    pub fn http(
        &self,
        service: &'static str,
        route: &str,
        method: &str,
        status: u16,
        seconds: f64,
    ) {
        let labels = HttpLabels {
            service,
            route: self.route(route),
            method: method_label(method),
            status,
        };
        self.0.http_requests.get_or_create(&labels).inc();
        self.0.http_latency.get_or_create(&labels).observe(seconds);
    }

    /// Counts one recorded scan verdict.
    pub fn scan_recorded(&self, verdict: &'static str) {
        self.0.scans.get_or_create(&VerdictLabels { verdict }).inc();
    }

    /// Counts one job run to its end (`done` or `failed`).
    pub fn job_ran(&self, kind: &'static str, outcome: &'static str) {
        self.0
            .jobs
            .get_or_create(&JobLabels { kind, outcome })
            .inc();
    }

    /// Counts one upload ticket handed out.
    pub fn upload_initiated(&self, mode: &'static str) {
        self.0
            .uploads_initiated
            .get_or_create(&ModeLabels { mode })
            .inc();
    }

    /// Counts one upload turned into a file.
    pub fn upload_completed(&self) {
        self.0.uploads_completed.inc();
    }

    /// Counts one file imported from a URL.
    pub fn imported(&self) {
        self.0.imports.inc();
    }

    /// Sets the sampled depth of the job queue (`-1`: unknown).
    pub fn set_queue_depth(&self, depth: i64) {
        self.0.queue_depth.set(depth);
    }

    /// Registers a counter whose value `read` gives at scrape time, for totals kept
    /// elsewhere in the process (cache hits and misses). `name` without `_total`.
    pub fn counter_fn(
        &self,
        name: &'static str,
        help: &'static str,
        read: impl Fn() -> u64 + Send + Sync + 'static,
    ) {
        self.0
            .registry
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .register_collector(Box::new(ScrapeCounter {
                name,
                help,
                read: Box::new(read),
            }));
    }

    /// The OpenMetrics exposition text (serve it as [`CONTENT_TYPE`]).
    pub fn render(&self) -> String {
        let mut out = String::new();
        let registry = self.0.registry.lock().unwrap_or_else(|e| e.into_inner());
        prometheus_client::encoding::text::encode(&mut out, &registry)
            .expect("writing to a String cannot fail");
        out
    }
}

/// A counter read from elsewhere at scrape time.
struct ScrapeCounter {
    name: &'static str,
    help: &'static str,
    read: Box<dyn Fn() -> u64 + Send + Sync>,
}

impl std::fmt::Debug for ScrapeCounter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

impl Collector for ScrapeCounter {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let counter = ConstCounter::new((self.read)());
        let metric =
            encoder.encode_descriptor(self.name, self.help, None, counter.metric_type())?;
        counter.encode(metric)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_histograms_gauges_and_scrape_time_counters() {
        let metrics = Metrics::default();
        metrics.http("api", "/api/v1/me", "GET", 200, 0.002);
        metrics.http("api", "/api/v1/me", "GET", 200, 0.02);
        metrics.http("api", "/api/v1/me", "GET", 401, 0.001);
        metrics.http("api", "/api/v1/me", "BREW", 405, 0.001);
        metrics.scan_recorded("clean");
        metrics.job_ran("scan", "done");
        metrics.upload_completed();
        metrics.set_queue_depth(4);
        let hits = Arc::new(std::sync::atomic::AtomicU64::new(7));
        let read = Arc::clone(&hits);
        metrics.counter_fn(
            "fluidcloud_key_cache_hits",
            "Key lookups answered from memory",
            move || read.load(std::sync::atomic::Ordering::Relaxed),
        );
        let text = metrics.render();
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
        assert!(
            text.contains("method=\"other\",status=\"405\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains(&format!(
                "fluidcloud_http_request_duration_seconds_bucket{{le=\"0.0025\",{me},status=\"200\"}} 1\n"
            )) || text.contains(&format!(
                "fluidcloud_http_request_duration_seconds_bucket{{{me},status=\"200\",le=\"0.0025\"}} 1\n"
            )),
            "{text}"
        );
        assert!(
            text.contains("# TYPE fluidcloud_http_requests counter\n"),
            "{text}"
        );
        assert!(text.contains("# TYPE fluidcloud_http_request_duration_seconds histogram\n"));
        assert!(text.contains("fluidcloud_scans_total{verdict=\"clean\"} 1\n"));
        assert!(text.contains("fluidcloud_jobs_total{kind=\"scan\",outcome=\"done\"} 1\n"));
        assert!(text.contains("fluidcloud_uploads_completed_total 1\n"));
        assert!(text.contains("fluidcloud_jobs_queue_depth 4\n"));
        assert!(
            text.contains("fluidcloud_key_cache_hits_total 7\n"),
            "{text}"
        );
        hits.store(9, std::sync::atomic::Ordering::Relaxed);
        assert!(
            metrics
                .render()
                .contains("fluidcloud_key_cache_hits_total 9\n")
        );
        assert!(text.ends_with("# EOF\n"));
    }
}
