//! Uploads: one multipart request for small objects, a resumable session for large
//! ones that picks up from what the service has persisted.

use bytes::Bytes;
use reqwest::{Method, Response, header};

use super::{Gcs, ObjectMeta, StorageError, Try, Upload, check, crc32c, describe};
use crate::config::encode;

impl Gcs {
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
                    Try::Done(resp) => self.finished(resp, bucket, up).await,
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
                .resumable_once(bucket, &start_url, &what, up, &mut session, &mut offset)
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

    #[allow(clippy::too_many_arguments)]
    async fn resumable_once(
        &self,
        bucket: &str,
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
                            return match self.finished(resp, bucket, up).await {
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
                        .query_session(bucket, &uri, up, session, offset, failure)
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
        bucket: &str,
        uri: &str,
        up: &Upload<'_>,
        session: &mut Option<String>,
        offset: &mut u64,
        failure: String,
    ) -> Result<Try<()>, StorageError> {
        let total = up.data.len() as u64;
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
                if let Try::Done(()) = self.finished(resp, bucket, up).await {
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

impl Gcs {
    /// Reads a finished upload's object resource and checks its size. An answer that
    /// cannot be read (cut mid-body, truncated, garbled) leaves open whether the object
    /// was stored: the object is asked for instead.
    async fn finished(&self, resp: Response, bucket: &str, up: &Upload<'_>) -> Try<()> {
        let expected = up.data.len() as u64;
        match resp.json::<ObjectMeta>().await {
            Ok(m) if m.size == expected => Try::Done(()),
            Ok(m) => Try::Retry(format!("stored {} bytes instead of {expected}", m.size)),
            Err(e) => self.settle(bucket, up, &describe(&e)).await,
        }
    }

    /// Done when the stored object is the one sent (byte count and CRC32C); otherwise
    /// the upload is sent again (the same name and bytes, so a second copy is harmless).
    async fn settle(&self, bucket: &str, up: &Upload<'_>, lost: &str) -> Try<()> {
        let again = |why: &str| Try::Retry(format!("answer lost ({lost}); {why}"));
        let url = self.object_url(bucket, up.name);
        let resp = match self.request(Method::GET, &url).await {
            Ok(rb) => rb.send().await,
            Err(e) => return again(&e.to_string()),
        };
        let meta = match resp {
            Ok(r) if r.status().is_success() => r.json::<ObjectMeta>().await.ok(),
            _ => None,
        };
        let sent = crc32c::to_base64(crc32c::crc32c(&up.data));
        match meta {
            Some(m) if m.size == up.data.len() as u64 && m.crc32c.as_deref() == Some(&sent) => {
                tracing::info!(what = %format!("gs://{bucket}/{}", up.name), lost, "upload answer lost; the stored object matches what was sent");
                Try::Done(())
            }
            Some(_) => again("the stored object differs"),
            None => again("the object is not there"),
        }
    }
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
