//! Google Cloud Storage through its JSON API: streamed, resumable downloads; simple
//! (multipart) uploads for small objects and resumable sessions for large ones; a
//! timeout on every request and bounded retries with jittered backoff.

mod auth;
mod crc32c;
mod download;
mod list;
mod retry;
mod upload;

use std::time::Duration;

use bytes::Bytes;
use reqwest::{Method, RequestBuilder, Response};
use serde::Deserialize;

use crate::config::{StorageConfig, encode};
pub use auth::Auth;
use retry::Retries;
pub use retry::backoff;

/// What went wrong with a storage request. `Transient` errors already had their retries.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("gs://{bucket}/{object}: no such object")]
    NotFound { bucket: String, object: String },
    #[error("{what}: HTTP {status}: {body}")]
    Rejected {
        what: String,
        status: u16,
        body: String,
    },
    #[error("{what}: {detail} (gave up after {attempts} tries)")]
    Transient {
        what: String,
        detail: String,
        attempts: u32,
    },
    #[error("{what}: {detail}")]
    Permanent { what: String, detail: String },
    #[error("credentials: {0}")]
    Auth(String),
    #[error("{what}: {source}")]
    LocalIo {
        what: String,
        source: std::io::Error,
    },
}

impl StorageError {
    /// Worth running the whole job again later.
    pub fn is_transient(&self) -> bool {
        match self {
            StorageError::Transient { .. }
            | StorageError::LocalIo { .. }
            | StorageError::Auth(_) => true,
            StorageError::Rejected { status, .. } => *status == 401,
            _ => false,
        }
    }
}

/// Object metadata the worker needs.
#[derive(Debug, Deserialize)]
pub struct ObjectMeta {
    /// The JSON API sends sizes as decimal strings.
    #[serde(deserialize_with = "de_u64_string")]
    pub size: u64,
    /// Base64 of the big-endian CRC32C of the content.
    #[serde(default)]
    pub crc32c: Option<String>,
}

fn de_u64_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let s = String::deserialize(d)?;
    s.parse().map_err(serde::de::Error::custom)
}

/// One object to upload.
pub struct Upload<'a> {
    pub name: &'a str,
    pub data: Bytes,
    pub content_type: &'a str,
    pub cache_control: &'a str,
}

/// The outcome of one try, as the retry loop sees it.
enum Try<T> {
    Done(T),
    Retry(String),
}

/// A Cloud Storage client. Cheap to clone.
#[derive(Clone)]
pub struct Gcs {
    http: reqwest::Client,
    cfg: StorageConfig,
    auth: Auth,
}

impl Gcs {
    pub async fn new(cfg: &StorageConfig) -> Result<Self, StorageError> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(cfg.request_timeout)
            .user_agent(concat!("dashpack/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| StorageError::Auth(format!("HTTP client: {e}")))?;
        let auth = if cfg.anonymous {
            Auth::anonymous()
        } else {
            let path = cfg
                .credentials
                .as_deref()
                .ok_or_else(|| StorageError::Auth("no service-account key".into()))?;
            Auth::service_account(path).await?
        };
        Ok(Gcs {
            http,
            cfg: cfg.clone(),
            auth,
        })
    }

    fn object_url(&self, bucket: &str, object: &str) -> String {
        format!(
            "{}/storage/v1/b/{}/o/{}",
            self.cfg.endpoint,
            encode(bucket),
            encode(object)
        )
    }

    async fn request(&self, method: Method, url: &str) -> Result<RequestBuilder, StorageError> {
        let rb = self.http.request(method, url);
        Ok(match self.auth.token().await? {
            Some(token) => rb.bearer_auth(token),
            None => rb,
        })
    }

    /// Counts tries of one operation and waits between them.
    fn retries<'a>(&'a self, what: &'a str) -> Retries<'a> {
        Retries {
            cfg: &self.cfg,
            what,
            attempt: 0,
        }
    }
}

/// Sorts a response: success, worth retrying, or a failure with the server's words.
async fn check(resp: Response, what: &str) -> Result<Try<Response>, StorageError> {
    let status = resp.status();
    if status.is_success() {
        return Ok(Try::Done(resp));
    }
    let body = resp.text().await.unwrap_or_default();
    let body: String = body.chars().take(300).collect();
    if retry::transient_status(status) {
        return Ok(Try::Retry(format!("HTTP {status}: {}", body.trim())));
    }
    Err(StorageError::Rejected {
        what: what.to_string(),
        status: status.as_u16(),
        body: body.trim().to_string(),
    })
}

/// A reqwest error with its causes, without the URL (it can carry a session id).
fn describe(e: &reqwest::Error) -> String {
    let mut s = if e.is_timeout() {
        "timed out".to_string()
    } else if e.is_connect() {
        "could not connect".to_string()
    } else {
        "connection failed".to_string()
    };
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        s.push_str(": ");
        s.push_str(&cause.to_string());
        source = cause.source();
    }
    s
}
