//! The exchanges, queues and bindings the worker needs, declared idempotently at start.
//! Built-in `amq.*` exchanges are only checked (declaring them is refused).

use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{Connection, ExchangeKind};

use super::QueueError;
use crate::config::{BrokerConfig, QueueType};

/// Declares (or checks) everything. Each step runs on a fresh channel, because the
/// broker closes a channel on the first refused declaration.
pub async fn declare(conn: &Connection, cfg: &BrokerConfig) -> Result<(), QueueError> {
    exchange(conn, &cfg.dlx, ExchangeKind::Fanout).await?;
    queue(conn, &cfg.failed_queue, typed(cfg)).await?;
    bind(conn, &cfg.failed_queue, &cfg.dlx, "").await?;

    let mut args = typed(cfg);
    args.insert(
        ShortString::from("x-dead-letter-exchange"),
        AMQPValue::LongString(LongString::from(cfg.dlx.as_str())),
    );
    if let Some(limit) = cfg.delivery_limit {
        args.insert(
            ShortString::from("x-delivery-limit"),
            AMQPValue::LongLongInt(i64::from(limit)),
        );
    }
    queue(conn, &cfg.queue, args).await?;

    exchange(conn, &cfg.notification_exchange, ExchangeKind::Direct).await?;
    queue(conn, &cfg.result_queue, typed(cfg)).await?;
    bind(
        conn,
        &cfg.result_queue,
        &cfg.notification_exchange,
        &cfg.routing_key,
    )
    .await
}

/// Arguments naming the queue type: none for classic queues, so that queues the old
/// service declared keep matching.
fn typed(cfg: &BrokerConfig) -> FieldTable {
    let mut args = FieldTable::default();
    if cfg.queue_type == QueueType::Quorum {
        args.insert(
            ShortString::from("x-queue-type"),
            AMQPValue::LongString(LongString::from("quorum")),
        );
    }
    args
}

pub(super) async fn channel(conn: &Connection) -> Result<lapin::Channel, QueueError> {
    conn.create_channel()
        .await
        .map_err(super::broker_err("open a channel"))
}

async fn exchange(conn: &Connection, name: &str, kind: ExchangeKind) -> Result<(), QueueError> {
    let builtin = name.starts_with("amq.");
    let options = ExchangeDeclareOptions {
        passive: builtin,
        durable: true,
        ..ExchangeDeclareOptions::default()
    };
    let ch = channel(conn).await?;
    ch.exchange_declare(name.into(), kind.clone(), options, FieldTable::default())
        .await
        .map_err(|e| QueueError::Topology {
            what: format!("exchange {name:?}"),
            detail: if builtin {
                format!("built-in exchange not found: {e}")
            } else {
                format!("cannot declare it as a durable {kind:?} exchange: {e}")
            },
        })?;
    let _ = ch.close(200, "declared".into()).await;
    Ok(())
}

async fn queue(conn: &Connection, name: &str, args: FieldTable) -> Result<(), QueueError> {
    let ch = channel(conn).await?;
    ch.queue_declare(name.into(), QueueDeclareOptions::durable(), args)
        .await
        .map_err(|e| QueueError::Topology {
            what: format!("queue {name:?}"),
            detail: format!(
                "exists with other settings, or cannot be declared: {e}. Delete it or \
                 make it durable with the dead-letter exchange, queue type and delivery \
                 limit this worker is configured for"
            ),
        })?;
    let _ = ch.close(200, "declared".into()).await;
    Ok(())
}

async fn bind(conn: &Connection, queue: &str, exchange: &str, key: &str) -> Result<(), QueueError> {
    let ch = channel(conn).await?;
    ch.queue_bind(
        queue.into(),
        exchange.into(),
        key.into(),
        QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await
    .map_err(|e| QueueError::Topology {
        what: format!("binding of queue {queue:?} to exchange {exchange:?} with key {key:?}"),
        detail: e.to_string(),
    })?;
    let _ = ch.close(200, "declared".into()).await;
    Ok(())
}
