//! Downloads: object metadata, and a streamed download that resumes where a broken
//! connection left it.

use std::path::Path;

use futures_util::StreamExt;
use reqwest::{Method, Response, StatusCode, header};
use tokio::io::AsyncWriteExt;

use super::{Gcs, ObjectMeta, StorageError, Try, check, describe};

impl Gcs {
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
                // A cut answer reads as undecodable too: ask again, within the tries.
                Err(e) => Ok(Try::Retry(format!("unreadable metadata: {}", describe(&e)))),
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
