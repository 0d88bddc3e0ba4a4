//! Which storage failures are worth another try, and how long to wait before it.

use std::hash::{BuildHasher, RandomState};
use std::time::Duration;

use reqwest::StatusCode;

use super::StorageError;
use crate::config::StorageConfig;

/// Longest single wait between tries.
const CAP: Duration = Duration::from_secs(30);

/// Exponential backoff with full jitter: a random wait in `[0, min(cap, base * 2^try))`,
/// so many workers retrying the same outage do not return in step.
pub fn backoff(base: Duration, attempt: u32) -> Duration {
    let ceiling = base.saturating_mul(1u32 << attempt.min(16)).min(CAP);
    let random = RandomState::new().hash_one(attempt);
    let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
    Duration::from_nanos(random % nanos.max(1))
}

/// Statuses that say "later" rather than "no".
pub fn transient_status(status: StatusCode) -> bool {
    status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
        || status.is_server_error()
}

/// Tries of one operation: counts them and waits with backoff between them.
pub(super) struct Retries<'a> {
    pub cfg: &'a StorageConfig,
    pub what: &'a str,
    pub attempt: u32,
}

impl Retries<'_> {
    /// Waits before the next try, or gives up with the last failure.
    pub async fn again(&mut self, detail: String) -> Result<(), StorageError> {
        self.attempt += 1;
        if self.attempt >= self.cfg.attempts {
            return Err(StorageError::Transient {
                what: self.what.to_string(),
                detail,
                attempts: self.attempt,
            });
        }
        let wait = backoff(self.cfg.backoff, self.attempt - 1);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_stays_capped() {
        let base = Duration::from_millis(100);
        for attempt in 0..40 {
            let ceiling = (base * 2u32.pow(attempt.min(16))).min(CAP);
            for _ in 0..20 {
                assert!(backoff(base, attempt) < ceiling);
            }
        }
        // Jitter: 20 draws are not all the same.
        let draws: std::collections::HashSet<_> = (0..20).map(|_| backoff(base, 5)).collect();
        assert!(draws.len() > 1);
    }

    #[test]
    fn only_later_statuses_are_transient() {
        for s in [408, 429, 500, 502, 503, 504] {
            assert!(transient_status(StatusCode::from_u16(s).unwrap()), "{s}");
        }
        for s in [200, 400, 401, 403, 404, 412] {
            assert!(!transient_status(StatusCode::from_u16(s).unwrap()), "{s}");
        }
    }
}
