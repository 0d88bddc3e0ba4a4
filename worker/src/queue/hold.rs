//! Jobs that outlast the broker's delivery acknowledgement timeout (RabbitMQ's
//! `consumer_timeout`, 30 minutes by default, after which the broker closes the channel
//! and requeues the message).
//!
//! Before that point the message is moved into a hold queue of its own and the
//! delivery acked. The hold queue dead-letters its copy back to the job queue when the
//! copy's lease ends, so a worker that dies while holding loses nothing; a live worker
//! renews the lease, and deletes the hold queue when the job has ended. Works on every
//! RabbitMQ version and queue type: it needs only TTL and dead-lettering.

use std::sync::Arc;
use std::time::Duration;

use lapin::options::{BasicAckOptions, BasicGetOptions, QueueDeclareOptions, QueueDeleteOptions};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{BasicProperties, Connection};

use super::topology::channel;
use super::{PublishError, Publisher, QueueError, broker_err, with_deliveries};
use crate::config::BrokerConfig;

/// Header on a held copy: when it comes back to the job queue, its holder stopped.
pub const HELD_HEADER: &str = "x-dashpack-held";

/// A message held for a running job: its copy sits in `queue`, leased for `lease`.
pub struct Hold {
    conn: Arc<Connection>,
    queue: String,
    job_queue: String,
    dlx: String,
    body: Vec<u8>,
    /// The properties of the held copy (delivery count raised, held header set).
    props: BasicProperties,
}

/// True when a message is a held copy that came back: its holder stopped.
pub fn is_held(props: &BasicProperties) -> bool {
    props
        .headers()
        .as_ref()
        .is_some_and(|h| h.inner().contains_key(HELD_HEADER))
}

/// The properties without the held header (for a copy that goes back to work).
pub fn unheld(props: &BasicProperties) -> BasicProperties {
    let Some(old) = props.headers() else {
        return props.clone();
    };
    let mut headers = FieldTable::default();
    for (k, v) in old.inner() {
        if k.as_str() != HELD_HEADER {
            headers.insert(k.clone(), v.clone());
        }
    }
    props.clone().with_headers(headers)
}

impl Hold {
    /// Puts a copy counted as delivery `next` into the hold queue named after `key`
    /// (the job id). The caller acks the delivery once this has returned.
    pub async fn take(
        publisher: &Publisher,
        cfg: &BrokerConfig,
        key: &str,
        body: &[u8],
        props: &BasicProperties,
        next: u32,
        lease: Duration,
    ) -> Result<Hold, QueueError> {
        let conn = publisher.connection().clone();
        let queue = format!("{}.hold.{key}", cfg.queue);
        let ms =
            |d: Duration| AMQPValue::LongLongInt(i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        let mut args = FieldTable::default();
        let mut arg = |k: &str, v: AMQPValue| {
            args.insert(ShortString::from(k), v);
        };
        arg(
            "x-queue-type",
            AMQPValue::LongString(LongString::from("classic")),
        );
        arg(
            "x-dead-letter-exchange",
            AMQPValue::LongString(LongString::from("")),
        );
        arg(
            "x-dead-letter-routing-key",
            AMQPValue::LongString(LongString::from(cfg.queue.as_str())),
        );
        arg("x-message-ttl", ms(lease));
        // A hold queue nobody renews or deletes (its worker died) goes away by itself,
        // long after its copy has returned to the job queue.
        arg("x-expires", ms(lease.saturating_mul(4)));
        let ch = channel(&conn).await?;
        ch.queue_declare(queue.as_str().into(), QueueDeclareOptions::durable(), args)
            .await
            .map_err(broker_err(format!("declare the hold queue {queue:?}")))?;
        let _ = ch.close(200, "declared".into()).await;

        let mut headers = with_deliveries(props, next)
            .headers()
            .clone()
            .unwrap_or_default();
        headers.insert(ShortString::from(HELD_HEADER), AMQPValue::Boolean(true));
        let hold = Hold {
            conn,
            queue,
            job_queue: cfg.queue.clone(),
            dlx: cfg.dlx.clone(),
            body: body.to_vec(),
            props: props.clone().with_headers(headers),
        };
        hold.put(publisher).await?;
        Ok(hold)
    }

    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The properties a copy for the job queue gets (count kept, held header off).
    pub fn properties(&self) -> BasicProperties {
        unheld(&self.props)
    }

    async fn put(&self, publisher: &Publisher) -> Result<(), QueueError> {
        publisher
            .send("", &self.queue, &self.body, self.props.clone())
            .await
            .map_err(|e| QueueError::Lost(format!("hold queue {:?}: {e}", self.queue)))
    }

    /// A fresh copy (a full lease again), then the older one taken off the queue.
    pub async fn renew(&self, publisher: &Publisher) -> Result<(), QueueError> {
        self.put(publisher).await?;
        let ch = channel(&self.conn).await?;
        let old = ch
            .basic_get(self.queue.as_str().into(), BasicGetOptions::default())
            .await
            .map_err(broker_err(format!(
                "take the old copy from {:?}",
                self.queue
            )))?;
        if let Some(m) = old {
            m.ack(BasicAckOptions::default())
                .await
                .map_err(broker_err("ack the old copy"))?;
        }
        let _ = ch.close(200, "renewed".into()).await;
        Ok(())
    }

    /// The job has ended and its outcome is published: the copy goes with its queue.
    pub async fn release(&self) -> Result<(), QueueError> {
        let ch = channel(&self.conn).await?;
        ch.queue_delete(self.queue.as_str().into(), QueueDeleteOptions::default())
            .await
            .map_err(broker_err(format!(
                "delete the hold queue {:?}",
                self.queue
            )))?;
        let _ = ch.close(200, "released".into()).await;
        Ok(())
    }

    /// What `basic.reject` does for a delivery: the message to the dead-letter
    /// exchange, then the hold released.
    pub async fn dead_letter(&self, publisher: &Publisher) -> Result<(), PublishError> {
        publisher
            .send(&self.dlx, &self.job_queue, &self.body, self.properties())
            .await?;
        self.release()
            .await
            .map_err(|e| PublishError::Lost(e.to_string()))
    }

    /// What `basic.nack` with requeue does: the message back to the job queue now,
    /// rather than when the lease ends.
    pub async fn give_back(&self, publisher: &Publisher) -> Result<(), PublishError> {
        publisher
            .send("", &self.job_queue, &self.body, self.properties())
            .await?;
        self.release()
            .await
            .map_err(|e| PublishError::Lost(e.to_string()))
    }
}
