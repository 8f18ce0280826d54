//! A minimal `metrics` recorder that renders the Prometheus text format, and the tiny HTTP
//! server that serves it on `/metrics` (and the controller's readiness on `/readyz`).
//! A real program would more likely install `metrics-exporter-prometheus`; any recorder
//! receives the library's figures the same way.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use k8s_client::runtime::controller::Readiness;
use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};

/// Sum and count of a histogram (rendered as a Prometheus summary without quantiles).
#[derive(Default)]
struct SumCount {
    sum_bits: AtomicU64,
    count: AtomicU64,
}

impl metrics::HistogramFn for SumCount {
    fn record(&self, value: f64) {
        let _ = self
            .sum_bits
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| {
                Some((f64::from_bits(bits) + value).to_bits())
            });
        self.count.fetch_add(1, Ordering::Relaxed);
    }
}

#[derive(Default)]
struct Families {
    counters: BTreeMap<Key, Arc<AtomicU64>>,
    gauges: BTreeMap<Key, Arc<AtomicU64>>,
    histograms: BTreeMap<Key, Arc<SumCount>>,
}

/// The recorder: clones share the figures.
#[derive(Clone, Default)]
pub struct TextRecorder {
    families: Arc<Mutex<Families>>,
}

impl Recorder for TextRecorder {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        let mut f = self.families.lock().unwrap_or_else(|e| e.into_inner());
        Counter::from_arc(f.counters.entry(key.clone()).or_default().clone())
    }
    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        let mut f = self.families.lock().unwrap_or_else(|e| e.into_inner());
        Gauge::from_arc(f.gauges.entry(key.clone()).or_default().clone())
    }
    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        let mut f = self.families.lock().unwrap_or_else(|e| e.into_inner());
        Histogram::from_arc(f.histograms.entry(key.clone()).or_default().clone())
    }
}

fn series(name: &str, key: &Key) -> String {
    let labels: Vec<String> = key
        .labels()
        .map(|l| format!("{}=\"{}\"", l.key(), l.value().replace('"', "\\\"")))
        .collect();
    if labels.is_empty() {
        name.to_string()
    } else {
        format!("{name}{{{}}}", labels.join(","))
    }
}

impl TextRecorder {
    /// The Prometheus text exposition of every figure recorded so far.
    pub fn render(&self) -> String {
        let f = self.families.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = String::new();
        for (key, v) in &f.counters {
            let _ = writeln!(
                out,
                "{} {}",
                series(key.name(), key),
                v.load(Ordering::Relaxed)
            );
        }
        for (key, v) in &f.gauges {
            let value = f64::from_bits(v.load(Ordering::Relaxed));
            let _ = writeln!(out, "{} {value}", series(key.name(), key));
        }
        for (key, h) in &f.histograms {
            let sum = f64::from_bits(h.sum_bits.load(Ordering::Relaxed));
            let count = h.count.load(Ordering::Relaxed);
            let _ = writeln!(out, "{} {sum}", series(&format!("{}_sum", key.name()), key));
            let _ = writeln!(
                out,
                "{} {count}",
                series(&format!("{}_count", key.name()), key)
            );
        }
        out
    }
}

/// Serves `/metrics` and `/readyz` on `listener` until the task is dropped.
pub async fn serve(listener: tokio::net::TcpListener, recorder: TextRecorder, ready: Readiness) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let (recorder, ready) = (recorder.clone(), ready.clone());
        tokio::spawn(async move {
            let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                let (recorder, ready) = (recorder.clone(), ready.clone());
                async move {
                    let (status, body) = match req.uri().path() {
                        "/metrics" => (200, recorder.render()),
                        "/readyz" if ready.is_ready() => (200, "ok\n".to_string()),
                        "/readyz" => (503, "caches not synced\n".to_string()),
                        _ => (404, "not found\n".to_string()),
                    };
                    let response = hyper::Response::builder()
                        .status(status)
                        .header("content-type", "text/plain; version=0.0.4")
                        .body(Full::new(Bytes::from(body)))
                        .unwrap_or_default();
                    Ok::<_, Infallible>(response)
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
