//! Prometheus metrics and a health endpoint on a loopback port.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::limits::{
    METRICS_CONNECTION_LIFETIME as CONNECTION_LIFETIME, METRICS_HEADER_TIMEOUT as HEADER_TIMEOUT,
    METRICS_MAX_CONNECTIONS as MAX_CONNECTIONS,
};

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
    /// Media bytes written and to write by the jobs in flight: their progress, for a
    /// long job (a ladder) that holds a message for many minutes.
    bytes_done: Gauge<i64, AtomicI64>,
    bytes_total: Gauge<i64, AtomicI64>,
    /// A consumer is registered on a live channel.
    consuming: Arc<AtomicBool>,
    /// A publisher channel is open or can be reopened (shared with the `Publisher`).
    publishing: Arc<AtomicBool>,
    open_connections: Arc<Semaphore>,
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
            "Messages settled, by outcome: completed; failed (refused for what it is) or \
             given_up (delivery limit reached), both dead-lettered; retried (a transient \
             failure, back to the queue) or redelivered (its worker stopped, back to the queue)",
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
        let bytes_done = Gauge::<i64, AtomicI64>::default();
        registry.register(
            "packaging_bytes_done",
            "Media bytes the jobs in flight have written",
            bytes_done.clone(),
        );
        let bytes_total = Gauge::<i64, AtomicI64>::default();
        registry.register(
            "packaging_bytes_total",
            "Media bytes the jobs in flight will write when done",
            bytes_total.clone(),
        );
        Metrics {
            registry: Arc::new(registry),
            jobs,
            stages,
            in_flight,
            bytes_done,
            bytes_total,
            consuming: Arc::new(AtomicBool::new(false)),
            publishing: Arc::new(AtomicBool::new(false)),
            open_connections: Arc::new(Semaphore::new(MAX_CONNECTIONS)),
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

    /// A job's share of the progress gauges, taken back when it drops.
    pub fn job_progress(&self) -> JobProgress {
        JobProgress {
            done: self.bytes_done.clone(),
            total: self.bytes_total.clone(),
            last: Default::default(),
        }
    }

    /// Counts a job in flight until the guard drops.
    pub fn in_flight(&self) -> InFlight {
        self.in_flight.inc();
        InFlight(self.in_flight.clone())
    }

    pub fn set_consuming(&self, up: bool) {
        self.consuming.store(up, Ordering::Relaxed);
    }

    /// The flag a `Publisher` keeps up to date.
    pub fn publishing(&self) -> Arc<AtomicBool> {
        self.publishing.clone()
    }

    /// Whether the worker can consume, publish and ack right now.
    pub fn healthy(&self) -> bool {
        self.consuming.load(Ordering::Relaxed) && self.publishing.load(Ordering::Relaxed)
    }

    fn render(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }

    /// Serves `/metrics` and `/healthz` (200 while the worker can consume, publish and
    /// ack, else 503). Returns the bound address (port 0 picks a free one).
    ///
    /// Scrapers are trusted no more than anything else on the network: at most
    /// `MAX_CONNECTIONS` open at once (more are closed at once), request headers within
    /// `HEADER_TIMEOUT`, each connection closed after `CONNECTION_LIFETIME`, GET and
    /// HEAD only. A failed accept (out of descriptors) waits before the next.
    pub async fn serve(&self, addr: SocketAddr) -> std::io::Result<SocketAddr> {
        let listener = TcpListener::bind(addr).await?;
        let bound = listener.local_addr()?;
        let metrics = self.clone();
        tokio::spawn(async move {
            let mut accept_errors = 0u32;
            loop {
                let stream = match listener.accept().await {
                    Ok((stream, _)) => {
                        accept_errors = 0;
                        stream
                    }
                    Err(e) => {
                        accept_errors += 1;
                        if accept_errors.is_power_of_two() {
                            tracing::warn!(error = %e, times = accept_errors, "metrics endpoint: accept failed");
                        }
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let Ok(permit) = metrics.open_connections.clone().try_acquire_owned() else {
                    drop(stream); // at the cap: close rather than hold a descriptor
                    continue;
                };
                let metrics = metrics.clone();
                tokio::spawn(async move {
                    let _permit = permit;
                    let service = hyper::service::service_fn(move |req| {
                        let metrics = metrics.clone();
                        async move { Ok::<_, Infallible>(metrics.answer(&req)) }
                    });
                    let conn = hyper::server::conn::http1::Builder::new()
                        .timer(TokioTimer::new())
                        .header_read_timeout(HEADER_TIMEOUT)
                        .max_buf_size(16 << 10)
                        .serve_connection(TokioIo::new(stream), service);
                    let _ = tokio::time::timeout(CONNECTION_LIFETIME, conn).await;
                });
            }
        });
        Ok(bound)
    }

    fn answer<B>(&self, req: &Request<B>) -> Response<Full<Bytes>> {
        let (status, body, kind) = if req.method() != Method::GET && req.method() != Method::HEAD {
            (
                StatusCode::METHOD_NOT_ALLOWED,
                "GET only\n".into(),
                "text/plain",
            )
        } else {
            match req.uri().path() {
                "/metrics" => (
                    StatusCode::OK,
                    self.render(),
                    "application/openmetrics-text; version=1.0.0; charset=utf-8",
                ),
                "/healthz" if self.healthy() => (StatusCode::OK, "ok\n".into(), "text/plain"),
                "/healthz" if self.consuming.load(Ordering::Relaxed) => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "cannot publish to the broker\n".into(),
                    "text/plain",
                ),
                "/healthz" => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "not consuming from the broker\n".into(),
                    "text/plain",
                ),
                _ => (StatusCode::NOT_FOUND, "not found\n".into(), "text/plain"),
            }
        };
        let mut resp = Response::new(Full::new(Bytes::from(body)));
        *resp.status_mut() = status;
        if let Ok(v) = hyper::header::HeaderValue::from_str(kind) {
            resp.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
        }
        if status == StatusCode::METHOD_NOT_ALLOWED {
            resp.headers_mut().insert(
                hyper::header::ALLOW,
                hyper::header::HeaderValue::from_static("GET, HEAD"),
            );
        }
        resp
    }
}

/// One job's progress in the gauges: each update adds what changed since the last.
pub struct JobProgress {
    done: Gauge<i64, AtomicI64>,
    total: Gauge<i64, AtomicI64>,
    last: std::sync::Mutex<(i64, i64)>,
}

impl JobProgress {
    pub fn update(&self, done: u64, total: u64) {
        let (done, total) = (
            i64::try_from(done).unwrap_or(i64::MAX),
            i64::try_from(total).unwrap_or(i64::MAX),
        );
        if let Ok(mut last) = self.last.lock() {
            self.done.inc_by(done - last.0);
            self.total.inc_by(total - last.1);
            *last = (done, total);
        }
    }
}

impl Drop for JobProgress {
    fn drop(&mut self) {
        if let Ok(last) = self.last.lock() {
            self.done.dec_by(last.0);
            self.total.dec_by(last.1);
        }
    }
}

pub struct InFlight(Gauge<i64, AtomicI64>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_progress_adds_up_across_jobs_and_leaves_with_them() {
        let m = Metrics::new();
        let a = m.job_progress();
        let b = m.job_progress();
        a.update(10, 100);
        a.update(40, 100);
        b.update(5, 50);
        let text = m.render();
        assert!(text.contains("dashpack_packaging_bytes_done 45"), "{text}");
        assert!(
            text.contains("dashpack_packaging_bytes_total 150"),
            "{text}"
        );
        drop(a);
        let text = m.render();
        assert!(text.contains("dashpack_packaging_bytes_done 5"), "{text}");
        drop(b);
        assert!(m.render().contains("dashpack_packaging_bytes_total 0"));
    }
}
