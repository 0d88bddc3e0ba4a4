//! RabbitMQ: the connection, the topology the worker declares for itself, and
//! publishing with `mandatory` and publisher confirms.

mod hold;
mod publisher;
mod topology;

use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::types::{AMQPValue, ShortString};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};

use crate::config::{BrokerConfig, redact_url};
pub use hold::{Hold, is_held, unheld};
pub use publisher::{PublishError, Publisher};

/// Declares the topology. A declaration that fails because the connection went away
/// (a broker restarting) is a lost connection to retry, not a topology conflict.
pub async fn declare(conn: &Connection, cfg: &BrokerConfig) -> Result<(), QueueError> {
    match topology::declare(conn, cfg).await {
        Err(QueueError::Topology { what, detail }) if !conn.status().connected() => Err(
            QueueError::Lost(format!("while declaring {what}: {detail}")),
        ),
        other => other,
    }
}

/// Header counting how often the worker has seen a message (classic queues keep no
/// delivery count of their own).
pub const DELIVERIES_HEADER: &str = "x-dashpack-deliveries";

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("RabbitMQ at {url}: {source}")]
    Connect { url: String, source: lapin::Error },
    #[error("{what}: {source}")]
    Broker { what: String, source: lapin::Error },
    #[error("broker connection lost: {0}")]
    Lost(String),
    #[error("{what}: {detail}")]
    Topology { what: String, detail: String },
    #[error("publish to exchange {exchange:?} with key {key:?}: {detail}")]
    Publish {
        exchange: String,
        key: String,
        detail: String,
    },
}

pub fn broker_err(what: impl Into<String>) -> impl FnOnce(lapin::Error) -> QueueError {
    let what = what.into();
    move |source| QueueError::Broker { what, source }
}

pub async fn connect(cfg: &BrokerConfig, name: &str) -> Result<Connection, QueueError> {
    let props = ConnectionProperties::default().with_connection_name(name.into());
    Connection::connect(&cfg.amqp_url, props)
        .await
        .map_err(|source| QueueError::Connect {
            url: redact_url(&cfg.amqp_url),
            source,
        })
}

/// A channel in confirm mode, for results and re-queued copies.
pub async fn publisher(conn: &Connection) -> Result<Channel, QueueError> {
    let ch = conn
        .create_channel()
        .await
        .map_err(broker_err("open a channel"))?;
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .map_err(broker_err("enable publisher confirms"))?;
    Ok(ch)
}

/// Publishes a persistent message and waits for the broker's confirm. A message no
/// queue takes (returned under `mandatory`) or a nack is an error.
pub async fn publish(
    ch: &Channel,
    exchange: &str,
    key: &str,
    body: &[u8],
    props: BasicProperties,
) -> Result<(), QueueError> {
    let fail = |detail: String| QueueError::Publish {
        exchange: exchange.to_string(),
        key: key.to_string(),
        detail,
    };
    let confirm = ch
        .basic_publish(
            exchange.into(),
            key.into(),
            BasicPublishOptions {
                mandatory: true,
                ..BasicPublishOptions::default()
            },
            body,
            props.with_delivery_mode(2),
        )
        .await
        .map_err(|e| fail(e.to_string()))?
        .await
        .map_err(|e| fail(e.to_string()))?;
    if confirm.is_nack() {
        return Err(fail("the broker refused it (nack)".into()));
    }
    if let Some(returned) = confirm.take_message() {
        return Err(fail(format!(
            "unroutable: {} {} (no queue is bound for it)",
            returned.reply_code, returned.reply_text
        )));
    }
    Ok(())
}

/// JSON properties for a result message.
pub fn json_props() -> BasicProperties {
    BasicProperties::default().with_content_type("application/json".into())
}

/// How many times the worker has had this message, from its header.
pub fn deliveries(props: &BasicProperties) -> u32 {
    props
        .headers()
        .as_ref()
        .and_then(|h| h.inner().get(DELIVERIES_HEADER))
        .and_then(|v| match v {
            AMQPValue::LongInt(n) => u32::try_from(*n).ok(),
            AMQPValue::LongLongInt(n) => u32::try_from(*n).ok(),
            AMQPValue::ShortInt(n) => u32::try_from(*n).ok(),
            AMQPValue::LongUInt(n) => Some(*n),
            _ => None,
        })
        .unwrap_or(1)
}

/// The same properties with the delivery count set to `n`.
pub fn with_deliveries(props: &BasicProperties, n: u32) -> BasicProperties {
    let mut headers = props.headers().clone().unwrap_or_default();
    headers.insert(
        ShortString::from(DELIVERIES_HEADER),
        AMQPValue::LongLongInt(i64::from(n)),
    );
    props.clone().with_headers(headers)
}
