//! Prometheus metrics and a health endpoint on a loopback port.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Outcome {
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Stage {
    stage: String,
}

/// The worker's counters. Cheap to clone.
#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    jobs: Family<Outcome, Counter>,
    stages: Family<Stage, Histogram>,
    in_flight: Gauge<i64, AtomicI64>,
    connected: Arc<AtomicBool>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("dashpack");
        let jobs = Family::<Outcome, Counter>::default();
        registry.register(
            "jobs",
            "Jobs finished, by outcome (completed, failed, retried, requeued)",
            jobs.clone(),
        );
        let stages = Family::<Stage, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.01, 2.0, 18))
        });
        registry.register(
            "job_stage_seconds",
            "Seconds spent per job stage",
            stages.clone(),
        );
        let in_flight = Gauge::<i64, AtomicI64>::default();
        registry.register("jobs_in_flight", "Jobs being processed", in_flight.clone());
        Metrics {
            registry: Arc::new(registry),
            jobs,
            stages,
            in_flight,
            connected: Arc::new(AtomicBool::new(false)),
        }
    }

    pub fn job_done(&self, outcome: &str) {
        self.jobs
            .get_or_create(&Outcome {
                outcome: outcome.to_string(),
            })
            .inc();
    }

    pub fn stage(&self, stage: &str, took: Duration) {
        self.stages
            .get_or_create(&Stage {
                stage: stage.to_string(),
            })
            .observe(took.as_secs_f64());
    }

    /// Counts a job in flight until the guard drops.
    pub fn in_flight(&self) -> InFlight {
        self.in_flight.inc();
        InFlight(self.in_flight.clone())
    }

    pub fn set_connected(&self, up: bool) {
        self.connected.store(up, Ordering::Relaxed);
    }

    fn render(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }

    /// Serves `/metrics` and `/healthz` (200 while connected to the broker, else 503).
    /// Returns the bound address (port 0 picks a free one).
    pub async fn serve(&self, addr: SocketAddr) -> std::io::Result<SocketAddr> {
        let listener = TcpListener::bind(addr).await?;
        let bound = listener.local_addr()?;
        let metrics = self.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let metrics = metrics.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let metrics = metrics.clone();
                        async move { Ok::<_, Infallible>(metrics.answer(&req)) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(bound)
    }

    fn answer<B>(&self, req: &Request<B>) -> Response<Full<Bytes>> {
        let (status, body, kind) = match req.uri().path() {
            "/metrics" => (
                StatusCode::OK,
                self.render(),
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            ),
            "/healthz" if self.connected.load(Ordering::Relaxed) => {
                (StatusCode::OK, "ok\n".into(), "text/plain")
            }
            "/healthz" => (
                StatusCode::SERVICE_UNAVAILABLE,
                "broker not connected\n".into(),
                "text/plain",
            ),
            _ => (StatusCode::NOT_FOUND, "not found\n".into(), "text/plain"),
        };
        let mut resp = Response::new(Full::new(Bytes::from(body)));
        *resp.status_mut() = status;
        if let Ok(v) = hyper::header::HeaderValue::from_str(kind) {
            resp.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
        }
        resp
    }
}

pub struct InFlight(Gauge<i64, AtomicI64>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}
