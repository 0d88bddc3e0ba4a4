//! Real services for the worker tests: a fake-gcs-server process per test, an optional
//! fault-injecting HTTP proxy in front of it, the shared RabbitMQ with names private to
//! the test, and the worker binary as a child process.
#![allow(clippy::unwrap_used, dead_code)]

pub mod broker;
pub mod gcs;
pub mod process;
pub mod proxy;
pub mod rabbit;

pub use broker::*;
pub use gcs::*;
pub use process::*;
pub use proxy::*;

use std::collections::BTreeMap;
use std::net::TcpListener as StdListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

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
