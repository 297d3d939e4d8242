//! A worker's metric families, how their instruments are made, and `GET /metrics` in
//! Prometheus text format 0.0.4, as sdk-core serves it: one small HTTP/1 server on the
//! worker's control runtime; every other path is a 404.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::future::ready;
use std::sync::{Arc, Mutex};

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::CONTENT_TYPE;
use hyper::{Method, Request, Response, StatusCode};
use prometheus::core::Collector;
use prometheus::proto::{MetricFamily, MetricType};
use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts,
    TextEncoder,
};
use tokio::net::TcpListener;

use crate::http_server;

/// The metric families of one worker, in the order a scrape lists them (by name).
///
/// Not `prometheus::Registry`: that one drops families without series, and a family
/// declared but not yet recorded (no failure so far) should still show its `# TYPE`, as
/// the Python client does, so that an operator sees what the worker can report.
#[derive(Clone, Default)]
pub(crate) struct Families(Arc<Mutex<Vec<Box<dyn Collector>>>>);

impl Families {
    /// Adds a metric (or vector of them) and returns it, for recording.
    pub(crate) fn register<C: Collector + Clone + 'static>(&self, collector: C) -> C {
        self.0.lock().unwrap().push(Box::new(collector.clone()));
        collector
    }

    /// Every family in text format: sorted by name, series sorted by label values.
    pub(crate) fn encode(&self) -> String {
        let mut by_name: BTreeMap<String, MetricFamily> = BTreeMap::new();
        for collector in self.0.lock().unwrap().iter() {
            for mut family in collector.collect() {
                match by_name.get_mut(family.name()) {
                    Some(existing) => existing.mut_metric().append(&mut family.take_metric()),
                    None => {
                        by_name.insert(family.name().to_owned(), family);
                    }
                }
            }
        }
        let mut text = String::new();
        for (name, mut family) in by_name {
            if family.get_metric().is_empty() {
                let _ = writeln!(text, "# HELP {name} {}", family.help());
                let _ = writeln!(text, "# TYPE {name} {}", kind(family.get_field_type()));
                continue;
            }
            family.mut_metric().sort_by(|a, b| {
                let (a, b) = (a.get_label().iter(), b.get_label().iter());
                a.map(|label| label.value())
                    .cmp(b.map(|label| label.value()))
            });
            // Only fails on a family without series or name, excluded above.
            let _ = TextEncoder::new().encode_utf8(&[family], &mut text);
        }
        text
    }
}

/// Builds instruments that carry a fixed set of labels, and registers them.
pub(crate) struct Factory<'a> {
    pub(crate) families: &'a Families,
    pub(crate) labels: HashMap<String, String>,
}

impl Factory<'_> {
    fn opts(&self, name: &str, help: &str, extra: &[(&str, &str)]) -> Opts {
        let mut labels = self.labels.clone();
        labels.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        Opts::new(name, help).const_labels(labels)
    }

    pub(crate) fn counter(&self, name: &str, help: &str) -> IntCounter {
        let counter = IntCounter::with_opts(self.opts(name, help, &[]));
        self.families.register(counter.expect("valid metric name"))
    }

    pub(crate) fn counters(&self, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
        let counters = IntCounterVec::new(self.opts(name, help, &[]), labels);
        self.families.register(counters.expect("valid metric name"))
    }

    pub(crate) fn gauge(&self, name: &str, help: &str, extra: &[(&str, &str)]) -> IntGauge {
        let gauge = IntGauge::with_opts(self.opts(name, help, extra));
        self.families.register(gauge.expect("valid metric name"))
    }

    pub(crate) fn histogram(&self, name: &str, help: &str, buckets: &[f64]) -> Histogram {
        self.histograms(name, help, buckets, &[])
            .with_label_values(&[] as &[&str])
    }

    pub(crate) fn histograms(
        &self,
        name: &str,
        help: &str,
        buckets: &[f64],
        labels: &[&str],
    ) -> HistogramVec {
        let opts = HistogramOpts::from(self.opts(name, help, &[])).buckets(buckets.to_vec());
        let histograms = HistogramVec::new(opts, labels);
        self.families
            .register(histograms.expect("valid metric name"))
    }
}

/// Label pairs as `Opts` wants them.
pub(crate) fn labels(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn kind(kind: MetricType) -> &'static str {
    match kind {
        MetricType::COUNTER => "counter",
        MetricType::GAUGE => "gauge",
        MetricType::HISTOGRAM => "histogram",
        MetricType::SUMMARY => "summary",
        MetricType::UNTYPED => "untyped",
    }
}

/// Serves `/metrics` until the runtime it runs on stops.
pub(crate) async fn serve(listener: TcpListener, families: Families) {
    http_server::serve(listener, "metrics server", move |request| {
        ready(respond(&request, &families))
    })
    .await
}

fn respond(request: &Request<Incoming>, families: &Families) -> Response<Full<Bytes>> {
    let builder = Response::builder();
    let response = match (request.method(), request.uri().path()) {
        (&Method::GET, "/metrics") => builder
            .header(CONTENT_TYPE, TextEncoder::new().format_type())
            .body(Full::new(Bytes::from(families.encode()))),
        _ => builder
            .status(StatusCode::NOT_FOUND)
            .body(Full::new(Bytes::new())),
    };
    response.expect("a response of static parts is valid")
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus::{IntCounterVec, Opts};

    #[test]
    fn declares_families_without_series_and_sorts_the_rest() {
        let families = Families::default();
        let failures = families.register(
            IntCounterVec::new(Opts::new("b_failure", "Failures."), &["operation"]).unwrap(),
        );
        let requests = families.register(
            IntCounterVec::new(Opts::new("a_request", "Requests."), &["operation"]).unwrap(),
        );
        requests.with_label_values(&["Poll"]).inc();
        requests.with_label_values(&["Describe"]).inc_by(2);
        assert_eq!(
            families.encode(),
            "# HELP a_request Requests.\n# TYPE a_request counter\n\
             a_request{operation=\"Describe\"} 2\na_request{operation=\"Poll\"} 1\n\
             # HELP b_failure Failures.\n# TYPE b_failure counter\n"
        );
        drop(failures);
    }
}
