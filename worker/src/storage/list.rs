//! Listing objects by name prefix (JSON API `objects.list`), page by page, each page
//! retried like any other request.

use reqwest::Method;
use serde::Deserialize;

use super::{Gcs, StorageError, Try, check, describe};
use crate::config::encode;

/// One listed object.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Listed {
    pub name: String,
    #[serde(deserialize_with = "super::de_u64_string")]
    pub size: u64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Page {
    #[serde(default)]
    items: Vec<Listed>,
    next_page_token: Option<String>,
}

/// A listing stops here: a prefix is meant to match a handful of sidecar files.
const MAX_LISTED: usize = 10_000;

impl Gcs {
    /// The objects whose names start with `prefix`, in the service's (name) order.
    pub async fn list(&self, bucket: &str, prefix: &str) -> Result<Vec<Listed>, StorageError> {
        let url = format!("{}/storage/v1/b/{}/o", self.cfg.endpoint, encode(bucket));
        let what = format!("gs://{bucket}/{prefix}*: list");
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut tries = self.retries(&what);
            let page = loop {
                let mut query = vec![("prefix", prefix.to_string())];
                if let Some(t) = &token {
                    query.push(("pageToken", t.clone()));
                }
                let resp = match self
                    .request(Method::GET, &url)
                    .await?
                    .query(&query)
                    .send()
                    .await
                {
                    Ok(r) => r,
                    Err(e) => {
                        tries.again(describe(&e)).await?;
                        continue;
                    }
                };
                let attempt = match check(resp, &what).await? {
                    Try::Done(r) => match r.json::<Page>().await {
                        Ok(p) => Try::Done(p),
                        Err(e) => Try::Retry(format!("unreadable listing: {}", describe(&e))),
                    },
                    Try::Retry(d) => Try::Retry(d),
                };
                match attempt {
                    Try::Done(p) => break p,
                    Try::Retry(d) => tries.again(d).await?,
                }
            };
            out.extend(page.items);
            if out.len() > MAX_LISTED {
                return Err(StorageError::Permanent {
                    what,
                    detail: format!("more than {MAX_LISTED} objects share the prefix"),
                });
            }
            match page.next_page_token {
                Some(t) if !t.is_empty() => token = Some(t),
                _ => return Ok(out),
            }
        }
    }
}
