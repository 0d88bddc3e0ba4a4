//! The publishing side of one broker connection, supervised: the broker closes a
//! channel on a refused publish (a message over `max_message_size` is a 406), so a
//! closed channel is reopened before the next publish instead of failing every later
//! one on it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use lapin::{BasicProperties, Channel, Connection};
use tokio::sync::Mutex;

use super::{QueueError, publish};

/// Longest wait for a broker's confirm. A broker that blocks publishers (memory or disk
/// alarm) otherwise holds a job, its permit and its work folder forever.
const CONFIRM_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a publish did not happen.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The broker refused this message (too large, unroutable, nacked) while the
    /// connection stayed up: trying the same message again cannot help.
    #[error("refused by the broker: {0}")]
    Refused(String),
    /// The connection is gone (or the broker did not answer in time): the delivery
    /// cannot be acked either, and comes back once the worker has reconnected.
    #[error("broker connection lost: {0}")]
    Lost(String),
}

/// A confirm-mode channel on one connection, reopened when the broker has closed it.
pub struct Publisher {
    conn: Arc<Connection>,
    channel: Mutex<Option<Channel>>,
    /// False once a channel could not be opened on a live connection: read by `/healthz`.
    healthy: Arc<AtomicBool>,
}

impl Publisher {
    pub async fn open(conn: Arc<Connection>, healthy: Arc<AtomicBool>) -> Result<Self, QueueError> {
        let ch = super::publisher(&conn).await?;
        healthy.store(true, Ordering::Relaxed);
        Ok(Publisher {
            conn,
            channel: Mutex::new(Some(ch)),
            healthy,
        })
    }

    pub fn connection(&self) -> &Arc<Connection> {
        &self.conn
    }

    pub fn connection_up(&self) -> bool {
        self.conn.status().connected()
    }

    /// Publishes with confirms. A failure on a live connection is retried once on a
    /// fresh channel (the first may have been closed under it by an earlier refusal);
    /// a second failure is this message's fault.
    pub async fn send(
        &self,
        exchange: &str,
        key: &str,
        body: &[u8],
        props: BasicProperties,
    ) -> Result<(), PublishError> {
        let mut last = String::new();
        for _ in 0..2 {
            // Opening a channel is a broker round trip too: bounded like the confirm.
            let ch = tokio::time::timeout(CONFIRM_TIMEOUT, self.channel())
                .await
                .map_err(|_| {
                    PublishError::Lost(format!(
                        "no channel opened within {} s",
                        CONFIRM_TIMEOUT.as_secs()
                    ))
                })??;
            let sent = tokio::time::timeout(
                CONFIRM_TIMEOUT,
                publish(&ch, exchange, key, body, props.clone()),
            )
            .await;
            match sent {
                Ok(Ok(())) => return Ok(()),
                Ok(Err(e)) => last = e.to_string(),
                Err(_) => {
                    return Err(PublishError::Lost(format!(
                        "no confirm within {} s (is the broker blocking publishers?)",
                        CONFIRM_TIMEOUT.as_secs()
                    )));
                }
            }
            if !self.connection_up() {
                return Err(PublishError::Lost(last));
            }
        }
        Err(PublishError::Refused(last))
    }

    /// The open channel, or a new one when the broker closed the last.
    async fn channel(&self) -> Result<Channel, PublishError> {
        let mut slot = self.channel.lock().await;
        if let Some(ch) = slot.as_ref()
            && ch.status().connected()
        {
            return Ok(ch.clone());
        }
        *slot = None;
        if !self.connection_up() {
            return Err(PublishError::Lost("the connection is closed".into()));
        }
        match super::publisher(&self.conn).await {
            Ok(ch) => {
                tracing::info!("publisher channel reopened");
                self.healthy.store(true, Ordering::Relaxed);
                *slot = Some(ch.clone());
                Ok(ch)
            }
            Err(e) => {
                self.healthy.store(false, Ordering::Relaxed);
                Err(PublishError::Lost(e.to_string()))
            }
        }
    }
}
