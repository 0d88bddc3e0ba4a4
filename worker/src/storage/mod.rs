//! Google Cloud Storage through its JSON API: streamed, resumable downloads; simple
//! (multipart) uploads for small objects and resumable sessions for large ones; a
//! timeout on every request and bounded retries with jittered backoff.

mod auth;
mod retry;

use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use reqwest::{Method, RequestBuilder, Response, StatusCode, header};
use serde::Deserialize;
use tokio::io::AsyncWriteExt;

use crate::config::{StorageConfig, encode};
pub use auth::Auth;
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

    /// The object's metadata; `NotFound` when it does not exist.
    pub async fn metadata(&self, bucket: &str, object: &str) -> Result<ObjectMeta, StorageError> {
        let url = self.object_url(bucket, object);
        let what = format!("gs://{bucket}/{object}: metadata");
        let mut tries = self.retries(&what);
        loop {
            match self.metadata_once(bucket, object, &url, &what).await? {
                Try::Done(m) => return Ok(m),
                Try::Retry(d) => tries.again(d).await?,
            }
        }
    }

    async fn metadata_once(
        &self,
        bucket: &str,
        object: &str,
        url: &str,
        what: &str,
    ) -> Result<Try<ObjectMeta>, StorageError> {
        let resp = match self.request(Method::GET, url).await?.send().await {
            Ok(r) => r,
            Err(e) => return Ok(Try::Retry(describe(&e))),
        };
        match check(found(resp, bucket, object)?, what).await? {
            Try::Done(resp) => match resp.json::<ObjectMeta>().await {
                Ok(m) => Ok(Try::Done(m)),
                Err(e) if e.is_decode() => Err(StorageError::Permanent {
                    what: what.to_string(),
                    detail: format!("unexpected metadata: {e}"),
                }),
                Err(e) => Ok(Try::Retry(describe(&e))),
            },
            Try::Retry(d) => Ok(Try::Retry(d)),
        }
    }

    /// Streams the object (of `size` bytes, from [`Gcs::metadata`]) into `dest`, created
    /// or truncated. A dropped connection resumes with a range request from the bytes
    /// already on disk. `written(n)` is called whenever bytes `0..n` are on disk.
    pub async fn download(
        &self,
        bucket: &str,
        object: &str,
        dest: &Path,
        size: u64,
        written: impl Fn(u64),
    ) -> Result<u64, StorageError> {
        let what = format!("gs://{bucket}/{object}: download");
        let local = |source| StorageError::LocalIo {
            what: format!("{}", dest.display()),
            source,
        };
        let mut file = tokio::fs::File::create(dest).await.map_err(local)?;
        let url = format!("{}?alt=media", self.object_url(bucket, object));
        let mut have: u64 = 0;
        let mut tries = self.retries(&what);
        loop {
            let before = have;
            match self
                .download_once(
                    bucket, object, &url, &what, &mut file, &mut have, size, &written,
                )
                .await?
            {
                Try::Done(()) => break,
                // Progress earns a fresh set of tries: only stalls count.
                Try::Retry(d) if have > before => {
                    tries = self.retries(&what);
                    tries.again(d).await?
                }
                Try::Retry(d) => tries.again(d).await?,
            }
        }
        Ok(have)
    }

    #[allow(clippy::too_many_arguments)]
    async fn download_once(
        &self,
        bucket: &str,
        object: &str,
        url: &str,
        what: &str,
        file: &mut tokio::fs::File,
        have: &mut u64,
        size: u64,
        written: &impl Fn(u64),
    ) -> Result<Try<()>, StorageError> {
        let local = |source| StorageError::LocalIo {
            what: what.to_string(),
            source,
        };
        let mut rb = self.request(Method::GET, url).await?;
        if *have > 0 {
            rb = rb.header(header::RANGE, format!("bytes={have}-"));
        }
        let resp = match rb.send().await {
            Ok(r) => r,
            Err(e) => return Ok(Try::Retry(describe(&e))),
        };
        let resp = found(resp, bucket, object)?;
        // A server that ignores the range sends everything again: skip what we have.
        // The file only ever grows, because readers may already use its first bytes.
        let mut skip = if *have > 0 && resp.status() == StatusCode::OK {
            *have
        } else {
            0
        };
        let resp = match check(resp, what).await? {
            Try::Done(r) => r,
            Try::Retry(d) => return Ok(Try::Retry(d)),
        };
        let mut body = resp.bytes_stream();
        let mut reported = (*have, std::time::Instant::now());
        while let Some(chunk) = body.next().await {
            let mut chunk = match chunk {
                Ok(chunk) => chunk,
                Err(e) => {
                    file.flush().await.map_err(local)?;
                    written(*have);
                    return Ok(Try::Retry(format!("after {have} bytes: {}", describe(&e))));
                }
            };
            if skip > 0 {
                let n = skip.min(chunk.len() as u64);
                skip -= n;
                chunk = chunk.slice(n as usize..);
            }
            file.write_all(&chunk).await.map_err(local)?;
            *have += chunk.len() as u64;
            if *have > size {
                return Err(StorageError::Permanent {
                    what: what.to_string(),
                    detail: format!("more than the {size} bytes the metadata gives"),
                });
            }
            // Tell readers about progress every 1 MiB or 50 ms (each report costs a
            // flush), so a slow link still feeds the packager steadily.
            if *have - reported.0 >= 1 << 20 || reported.1.elapsed().as_millis() >= 50 {
                file.flush().await.map_err(local)?;
                written(*have);
                reported = (*have, std::time::Instant::now());
            }
        }
        file.flush().await.map_err(local)?;
        written(*have);
        if *have < size {
            return Ok(Try::Retry(format!(
                "body ended after {have} of {} bytes",
                size
            )));
        }
        Ok(Try::Done(()))
    }

    /// Uploads one object, replacing any object of that name.
    pub async fn upload(&self, bucket: &str, up: Upload<'_>) -> Result<(), StorageError> {
        if up.data.len() >= self.cfg.resumable_threshold {
            self.upload_resumable(bucket, &up).await
        } else {
            self.upload_multipart(bucket, &up).await
        }
    }

    fn metadata_json(up: &Upload<'_>) -> String {
        serde_json::json!({
            "name": up.name,
            "contentType": up.content_type,
            "cacheControl": up.cache_control,
        })
        .to_string()
    }

    async fn upload_multipart(&self, bucket: &str, up: &Upload<'_>) -> Result<(), StorageError> {
        let what = format!("gs://{bucket}/{}: upload", up.name);
        let url = format!(
            "{}/upload/storage/v1/b/{}/o?uploadType=multipart",
            self.cfg.endpoint,
            encode(bucket)
        );
        let boundary = boundary_for(&up.data);
        let mut body = Vec::with_capacity(up.data.len() + 512);
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n{}\r\n\
                 --{boundary}\r\nContent-Type: {}\r\n\r\n",
                Self::metadata_json(up),
                up.content_type
            )
            .as_bytes(),
        );
        body.extend_from_slice(&up.data);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let body = Bytes::from(body);
        let expected = up.data.len() as u64;
        let mut tries = self.retries(&what);
        loop {
            let resp = self
                .request(Method::POST, &url)
                .await?
                .header(
                    header::CONTENT_TYPE,
                    format!("multipart/related; boundary={boundary}"),
                )
                .body(body.clone())
                .send()
                .await;
            let outcome = match resp {
                Ok(resp) => match check(resp, &what).await? {
                    Try::Done(resp) => finished(resp, expected, &what).await?,
                    Try::Retry(d) => Try::Retry(d),
                },
                Err(e) => Try::Retry(describe(&e)),
            };
            match outcome {
                Try::Done(()) => return Ok(()),
                Try::Retry(d) => tries.again(d).await?,
            }
        }
    }

    /// A resumable session sent in `chunk_size` pieces. After a failed piece the session
    /// is asked how much it holds; a session that is gone, or that finalised an object of
    /// the wrong size, is started again from the first byte.
    async fn upload_resumable(&self, bucket: &str, up: &Upload<'_>) -> Result<(), StorageError> {
        let what = format!("gs://{bucket}/{}: resumable upload", up.name);
        let start_url = format!(
            "{}/upload/storage/v1/b/{}/o?uploadType=resumable",
            self.cfg.endpoint,
            encode(bucket)
        );
        let mut session: Option<String> = None;
        let mut offset: u64 = 0;
        let mut tries = self.retries(&what);
        loop {
            let sent = offset;
            match self
                .resumable_once(&start_url, &what, up, &mut session, &mut offset)
                .await?
            {
                Try::Done(()) => return Ok(()),
                Try::Retry(d) if offset > sent => {
                    tries = self.retries(&what);
                    tries.again(d).await?
                }
                Try::Retry(d) => tries.again(d).await?,
            }
        }
    }

    async fn resumable_once(
        &self,
        start_url: &str,
        what: &str,
        up: &Upload<'_>,
        session: &mut Option<String>,
        offset: &mut u64,
    ) -> Result<Try<()>, StorageError> {
        let total = up.data.len() as u64;
        {
            {
                let uri = match session.clone() {
                    Some(uri) => uri,
                    None => {
                        let resp = self
                            .request(Method::POST, start_url)
                            .await?
                            .query(&[("name", up.name)])
                            .header(header::CONTENT_TYPE, "application/json; charset=UTF-8")
                            .header("X-Upload-Content-Type", up.content_type)
                            .header("X-Upload-Content-Length", total.to_string())
                            .body(Self::metadata_json(up))
                            .send()
                            .await;
                        let resp = match resp {
                            Ok(r) => r,
                            Err(e) => return Ok(Try::Retry(describe(&e))),
                        };
                        let resp = match check(resp, what).await? {
                            Try::Done(r) => r,
                            Try::Retry(d) => return Ok(Try::Retry(d)),
                        };
                        let Some(loc) = resp
                            .headers()
                            .get(header::LOCATION)
                            .and_then(|v| v.to_str().ok())
                        else {
                            return Err(StorageError::Permanent {
                                what: what.to_string(),
                                detail: "no session URI in the answer".into(),
                            });
                        };
                        *session = Some(loc.to_string());
                        *offset = 0;
                        loc.to_string()
                    }
                };
                while *offset < total {
                    let end = (*offset + self.cfg.chunk_size as u64).min(total);
                    let chunk = up.data.slice(*offset as usize..end as usize);
                    let resp = self
                        .request(Method::PUT, &uri)
                        .await?
                        .header(
                            header::CONTENT_RANGE,
                            format!("bytes {}-{}/{total}", *offset, end - 1),
                        )
                        .body(chunk)
                        .send()
                        .await;
                    let failure = match resp {
                        Ok(resp) if resp.status().as_u16() == 308 => {
                            *offset = committed(&resp);
                            continue;
                        }
                        Ok(resp) if resp.status().is_success() => {
                            return match finished(resp, total, what).await? {
                                Try::Retry(d) => {
                                    *session = None;
                                    Ok(Try::Retry(d))
                                }
                                done => Ok(done),
                            };
                        }
                        Ok(resp) if matches!(resp.status().as_u16(), 404 | 410) => {
                            *session = None;
                            return Ok(Try::Retry(format!("session gone ({})", resp.status())));
                        }
                        Ok(resp) => match check(resp, what).await? {
                            Try::Retry(d) => d,
                            Try::Done(_) => "unexpected status".into(),
                        },
                        Err(e) => describe(&e),
                    };
                    // Ask the session how much it kept, then carry on from there.
                    return self
                        .query_session(&uri, total, what, session, offset, failure)
                        .await;
                }
                Ok(Try::Retry(
                    "session holds every byte but did not finish".into(),
                ))
            }
        }
    }

    async fn query_session(
        &self,
        uri: &str,
        total: u64,
        what: &str,
        session: &mut Option<String>,
        offset: &mut u64,
        failure: String,
    ) -> Result<Try<()>, StorageError> {
        let resp = self
            .request(Method::PUT, uri)
            .await?
            .header(header::CONTENT_RANGE, format!("bytes */{total}"))
            .body(Bytes::new())
            .send()
            .await;
        match resp {
            Ok(resp) if resp.status().as_u16() == 308 => {
                *offset = committed(&resp);
            }
            Ok(resp) if resp.status().is_success() => {
                // Finished: right if every byte arrived, else start again.
                if let Try::Done(()) = finished(resp, total, what).await? {
                    return Ok(Try::Done(()));
                }
                *session = None;
            }
            Ok(resp) if matches!(resp.status().as_u16(), 404 | 410) => *session = None,
            // Unknown state: try the status query again next round.
            _ => {}
        }
        Ok(Try::Retry(failure))
    }
}

/// Bytes the session has persisted, from a 308's `Range: bytes=0-N`.
fn committed(resp: &Response) -> u64 {
    resp.headers()
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("bytes=0-"))
        .and_then(|n| n.parse::<u64>().ok())
        .map_or(0, |n| n + 1)
}

/// A 404 for a download is the object missing, which no retry can fix.
fn found(resp: Response, bucket: &str, object: &str) -> Result<Response, StorageError> {
    if resp.status() == StatusCode::NOT_FOUND {
        return Err(StorageError::NotFound {
            bucket: bucket.into(),
            object: object.into(),
        });
    }
    Ok(resp)
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

/// Reads a finished upload's object resource and checks its size.
async fn finished(resp: Response, expected: u64, what: &str) -> Result<Try<()>, StorageError> {
    match resp.json::<ObjectMeta>().await {
        Ok(m) if m.size == expected => Ok(Try::Done(())),
        Ok(m) => Ok(Try::Retry(format!(
            "stored {} bytes instead of {expected}",
            m.size
        ))),
        Err(e) if e.is_decode() => Err(StorageError::Permanent {
            what: what.to_string(),
            detail: format!("unexpected answer to an upload: {e}"),
        }),
        Err(e) => Ok(Try::Retry(describe(&e))),
    }
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

/// A multipart boundary that does not occur in `data`.
fn boundary_for(data: &[u8]) -> String {
    use std::hash::{BuildHasher, RandomState};
    loop {
        let b = format!(
            "dashpack-{:016x}{:016x}",
            RandomState::new().hash_one(1u8),
            RandomState::new().hash_one(2u8)
        );
        if !data.windows(b.len()).any(|w| w == b.as_bytes()) {
            return b;
        }
    }
}

/// Tries of one operation: counts them and waits with backoff between them.
struct Retries<'a> {
    cfg: &'a StorageConfig,
    what: &'a str,
    attempt: u32,
}

impl Retries<'_> {
    /// Waits before the next try, or gives up with the last failure.
    async fn again(&mut self, detail: String) -> Result<(), StorageError> {
        self.attempt += 1;
        if self.attempt >= self.cfg.attempts {
            return Err(StorageError::Transient {
                what: self.what.to_string(),
                detail,
                attempts: self.attempt,
            });
        }
        let wait = retry::backoff(self.cfg.backoff, self.attempt - 1);
        tracing::warn!(
            what = self.what,
            %detail,
            attempt = self.attempt,
            wait_ms = wait.as_millis() as u64,
            "retrying"
        );
        tokio::time::sleep(wait).await;
        Ok(())
    }
}
