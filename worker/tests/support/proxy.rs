//! Faults between the worker and storage: a proxy that fails, cuts and delays
//! requests, and a TCP relay that can cut every connection.

use std::convert::Infallible;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{StreamExt, stream};
use http_body_util::{BodyExt, StreamBody, combinators::BoxBody};
use hyper::body::Frame;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::sync::Notify;

/// What the proxy does to the traffic it forwards.
#[derive(Default)]
pub struct Faults {
    /// Answer every Nth request with 503 instead of forwarding it (0: never).
    pub fail_every: u64,
    /// Cut the first media download after half its body.
    pub cut_download_once: AtomicBool,
    /// Forward the first upload request whose body is at least this large, then drop
    /// the connection instead of answering (0: never).
    pub cut_upload_at_least: AtomicU64,
    /// Hold every upload request this long before forwarding it.
    pub upload_delay: Duration,
    /// Send media downloads in 64 KiB pieces, this long apart (a slow link).
    pub download_delay_per_64k: Duration,
    /// Hold the MPD's upload this long before forwarding it.
    pub mpd_delay: Duration,
    /// Of the requests forwarded, cut every Nth answer after half its body (0: never):
    /// the emulator has done the request (an upload is stored), the worker cannot
    /// read the answer.
    pub cut_answer_every: u64,
    /// Answer every upload with 503 (a bucket that never takes an object).
    pub fail_uploads: bool,
}

/// An HTTP proxy in front of the emulator that injects faults and records what the
/// worker sent.
pub struct Proxy {
    pub url: String,
    state: Arc<ProxyState>,
}

struct ProxyState {
    target: Mutex<String>,
    faults: Faults,
    requests: AtomicU64,
    forwarded: AtomicU64,
    injected: AtomicU64,
    uploads: AtomicU64,
    upload_seen: Notify,
    mpd_uploads: AtomicU64,
    first_upload_at: Mutex<Option<Instant>>,
    download_done_at: Mutex<Option<Instant>>,
    authorization: Mutex<Vec<String>>,
    http: reqwest::Client,
}

type ProxyBody = BoxBody<Bytes, io::Error>;

impl Proxy {
    /// Binds now; forwards once [`Proxy::target`] is set.
    pub async fn start(faults: Faults) -> Proxy {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(ProxyState {
            target: Mutex::new(String::new()),
            faults,
            requests: AtomicU64::new(0),
            forwarded: AtomicU64::new(0),
            injected: AtomicU64::new(0),
            uploads: AtomicU64::new(0),
            upload_seen: Notify::new(),
            mpd_uploads: AtomicU64::new(0),
            first_upload_at: Mutex::new(None),
            download_done_at: Mutex::new(None),
            authorization: Mutex::new(Vec::new()),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
        });
        let st = state.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let st = st.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let st = st.clone();
                        async move { st.handle(req).await }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Proxy { url, state }
    }

    pub fn target(&self, url: &str) {
        *self.state.target.lock().unwrap() = url.to_string();
    }

    pub fn injected(&self) -> u64 {
        self.state.injected.load(Ordering::Relaxed)
    }

    pub fn uploads(&self) -> u64 {
        self.state.uploads.load(Ordering::Relaxed)
    }

    /// MPD uploads that have reached the proxy.
    pub fn mpd_uploads(&self) -> u64 {
        self.state.mpd_uploads.load(Ordering::Relaxed)
    }

    pub async fn first_upload(&self) {
        if self.uploads() == 0 {
            self.state.upload_seen.notified().await;
        }
    }

    /// When the first upload arrived and when the last slow download finished.
    pub fn timeline(&self) -> (Option<Instant>, Option<Instant>) {
        (
            *self.state.first_upload_at.lock().unwrap(),
            *self.state.download_done_at.lock().unwrap(),
        )
    }

    pub fn authorization(&self) -> Vec<String> {
        self.state.authorization.lock().unwrap().clone()
    }
}

fn full(b: impl Into<Bytes>) -> ProxyBody {
    http_body_util::Full::new(b.into())
        .map_err(|e: Infallible| match e {})
        .boxed()
}

impl ProxyState {
    async fn handle(
        self: Arc<Self>,
        req: Request<hyper::body::Incoming>,
    ) -> Result<Response<ProxyBody>, io::Error> {
        let n = self.requests.fetch_add(1, Ordering::Relaxed) + 1;
        let auth = req
            .headers()
            .get(hyper::header::AUTHORIZATION)
            .map(|v| v.to_str().unwrap_or("").to_string())
            .unwrap_or_default();
        self.authorization.lock().unwrap().push(auth);
        let path_q = req
            .uri()
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_default();
        let is_upload = path_q.starts_with("/upload/");
        let is_media = path_q.contains("alt=media");
        if is_upload {
            self.first_upload_at
                .lock()
                .unwrap()
                .get_or_insert_with(Instant::now);
            self.uploads.fetch_add(1, Ordering::Relaxed);
            self.upload_seen.notify_waiters();
            tokio::time::sleep(self.faults.upload_delay).await;
        }
        if (self.faults.fail_every > 0 && n.is_multiple_of(self.faults.fail_every))
            || (is_upload && self.faults.fail_uploads)
        {
            self.injected.fetch_add(1, Ordering::Relaxed);
            let mut r = Response::new(full("injected fault"));
            *r.status_mut() = hyper::StatusCode::SERVICE_UNAVAILABLE;
            return Ok(r);
        }
        let method = req.method().clone();
        let headers = req.headers().clone();
        let body = req
            .into_body()
            .collect()
            .await
            .map_err(io::Error::other)?
            .to_bytes();
        if is_upload && body.windows(20).any(|w| w == b"application/dash+xml") {
            self.mpd_uploads.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(self.faults.mpd_delay).await;
        }
        let target = self.target.lock().unwrap().clone();
        let mut fwd = self
            .http
            .request(method, format!("{target}{path_q}"))
            .body(body.clone());
        for (k, v) in &headers {
            // Host goes through: the emulator builds session URIs from it, so they
            // point back at the proxy.
            if k != hyper::header::CONTENT_LENGTH {
                fwd = fwd.header(k, v);
            }
        }
        let resp = fwd.send().await.map_err(io::Error::other)?;
        let cut_at = self.faults.cut_upload_at_least.load(Ordering::Relaxed);
        if is_upload
            && cut_at > 0
            && body.len() as u64 >= cut_at
            && self
                .faults
                .cut_upload_at_least
                .compare_exchange(cut_at, 0, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            // The emulator has the request; the worker never hears back.
            self.injected.fetch_add(1, Ordering::Relaxed);
            return Err(io::Error::other(
                "injected: connection dropped after upload",
            ));
        }
        let status = resp.status();
        let resp_headers = resp.headers().clone();
        let data = resp.bytes().await.map_err(io::Error::other)?;
        let every = self.faults.cut_answer_every;
        let forwarded = self.forwarded.fetch_add(1, Ordering::Relaxed) + 1;
        let body = if every > 0 && forwarded.is_multiple_of(every) && data.len() > 2 {
            self.injected.fetch_add(1, Ordering::Relaxed);
            // The status line, headers and half the body reach the worker before the
            // cut (an error at once would close the connection before any of it).
            let half = data.slice(..data.len() / 2);
            let frames =
                stream::once(async move { Ok(Frame::data(half)) }).chain(stream::once(async {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    Err(io::Error::other("injected: answer cut mid-body"))
                }));
            BodyExt::boxed(StreamBody::new(frames))
        } else if is_media
            && data.len() > 2
            && self.faults.cut_download_once.swap(false, Ordering::Relaxed)
        {
            self.injected.fetch_add(1, Ordering::Relaxed);
            let half = data.slice(..data.len() / 2);
            let frames: Vec<Result<Frame<Bytes>, io::Error>> = vec![
                Ok(Frame::data(half)),
                Err(io::Error::other("injected: connection reset mid-download")),
            ];
            BodyExt::boxed(StreamBody::new(stream::iter(frames)))
        } else if is_media && !self.faults.download_delay_per_64k.is_zero() {
            let pieces: Vec<Bytes> = data.chunks(64 << 10).map(Bytes::copy_from_slice).collect();
            let delay = self.faults.download_delay_per_64k;
            let st = self.clone();
            let slow = stream::unfold(pieces.into_iter(), move |mut rest| {
                let st = st.clone();
                async move {
                    match rest.next() {
                        Some(p) => {
                            tokio::time::sleep(delay).await;
                            if rest.len() == 0 {
                                *st.download_done_at.lock().unwrap() = Some(Instant::now());
                            }
                            Some((Ok::<_, io::Error>(Frame::data(p)), rest))
                        }
                        None => None,
                    }
                }
            });
            BodyExt::boxed(StreamBody::new(slow))
        } else {
            full(data)
        };
        let mut r = Response::new(body);
        *r.status_mut() = status;
        for (k, v) in &resp_headers {
            if k != hyper::header::TRANSFER_ENCODING && k != hyper::header::CONNECTION {
                r.headers_mut().insert(k, v.clone());
            }
        }
        Ok(r)
    }
}

/// A TCP relay whose connections can all be cut at once (a broker that goes away).
pub struct TcpCut {
    pub port: u16,
    conns: Arc<Mutex<Vec<tokio::task::AbortHandle>>>,
}

impl TcpCut {
    pub async fn start(target: &'static str) -> TcpCut {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let conns: Arc<Mutex<Vec<tokio::task::AbortHandle>>> = Arc::default();
        let list = conns.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    continue;
                };
                let task = tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                list.lock().unwrap().push(task.abort_handle());
            }
        });
        TcpCut { port, conns }
    }

    /// Drops every open connection; new ones are relayed again.
    pub fn cut(&self) -> usize {
        let conns: Vec<_> = self.conns.lock().unwrap().drain(..).collect();
        for c in &conns {
            c.abort();
        }
        conns.len()
    }
}
