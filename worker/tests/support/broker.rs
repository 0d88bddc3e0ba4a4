//! The test's queues on a RabbitMQ broker: publish jobs, take results and dead letters.

use std::time::{Duration, Instant};

use lapin::options::{BasicGetOptions, QueueDeleteOptions};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Connection};
use serde_json::Value;

use super::*;

/// Queue and exchange names private to one test, on the shared broker.
pub struct Broker {
    pub url: String,
    pub conn: Connection,
    pub queue: String,
    pub failed: String,
    pub result: String,
    pub dlx: String,
    pub key: String,
}

impl Broker {
    pub async fn new(test: &str) -> Broker {
        Broker::on(AMQP, test).await
    }

    /// Names private to `test` on the broker at `url`.
    pub async fn on(url: &str, test: &str) -> Broker {
        let conn = super::rabbit::connect(url).await.unwrap_or_else(|| {
            panic!("RabbitMQ at {url}: no connection (scripts/dev-services starts the shared one)")
        });
        let id = format!("t-{test}-{}", std::process::id());
        let b = Broker {
            url: url.to_string(),
            conn,
            failed: format!("{id}-failed"),
            result: format!("{id}-result"),
            dlx: format!("{id}-dlx"),
            key: format!("{id}-key"),
            queue: id,
        };
        b.cleanup().await;
        b
    }

    /// A new connection, after the broker closed or lost the old one.
    pub async fn reconnect(&mut self) {
        let start = Instant::now();
        loop {
            match super::rabbit::connect(&self.url).await {
                Some(c) => {
                    self.conn = c;
                    return;
                }
                None => assert!(start.elapsed() < WAIT, "reconnect to {}", self.url),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("AMQP_URL", self.url.as_str()),
            ("RABBITMQ_CONSUMER_QUEUE_NAME", &self.queue),
            ("RABBITMQ_DLX", &self.dlx),
            ("RABBITMQ_NOTIFICATION_ROUTING_KEY", &self.key),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    /// Publishes a raw body to the job queue (as a producer would).
    pub async fn publish(&self, body: &[u8]) {
        let ch = self.conn.create_channel().await.unwrap();
        ch.confirm_select(Default::default()).await.unwrap();
        let c = ch
            .basic_publish(
                "".into(),
                self.queue.as_str().into(),
                lapin::options::BasicPublishOptions {
                    mandatory: true,
                    ..Default::default()
                },
                body,
                BasicProperties::default().with_delivery_mode(2),
            )
            .await
            .unwrap()
            .await
            .unwrap();
        assert!(
            c.is_ack() && c.take_message().is_none(),
            "job queue missing"
        );
    }

    /// Takes up to `n` messages from a queue, waiting at most `timeout` for them.
    pub async fn take(&self, queue: &str, n: usize, timeout: Duration) -> Vec<Vec<u8>> {
        let mut ch = self.conn.create_channel().await.unwrap();
        let mut out = Vec::new();
        let start = Instant::now();
        while out.len() < n && start.elapsed() < timeout {
            match ch
                .basic_get(queue.into(), BasicGetOptions { no_ack: true })
                .await
            {
                Ok(Some(m)) => out.push(m.delivery.data.clone()),
                Ok(None) => tokio::time::sleep(Duration::from_millis(50)).await,
                // A queue not declared yet closes the channel: start a new one.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    ch = self.conn.create_channel().await.unwrap();
                }
            }
        }
        out
    }

    pub async fn results(&self, n: usize, timeout: Duration) -> Vec<Value> {
        self.take(&self.result.clone(), n, timeout)
            .await
            .iter()
            .map(|b| serde_json::from_slice(b).unwrap())
            .collect()
    }

    pub async fn depth(&self, queue: &str) -> u32 {
        let ch = self.conn.create_channel().await.unwrap();
        ch.queue_declare(
            queue.into(),
            lapin::options::QueueDeclareOptions {
                passive: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .map(|q| q.message_count())
        .unwrap_or(0)
    }

    /// Waits until the worker has declared its topology (the result queue comes last).
    pub async fn wait_for_queue(&self, w: &Worker) {
        let start = Instant::now();
        loop {
            let ch = self.conn.create_channel().await.unwrap();
            let passive = lapin::options::QueueDeclareOptions {
                passive: true,
                ..Default::default()
            };
            if ch
                .queue_declare(self.result.as_str().into(), passive, FieldTable::default())
                .await
                .is_ok()
            {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "the worker never declared its queue; log:\n{}",
                w.log_text()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn cleanup(&self) {
        let ch = self.conn.create_channel().await.unwrap();
        for q in [&self.queue, &self.failed, &self.result] {
            let _ = ch
                .queue_delete(q.as_str().into(), QueueDeleteOptions::default())
                .await;
        }
        let _ = ch
            .exchange_delete(self.dlx.as_str().into(), Default::default())
            .await;
    }
}
