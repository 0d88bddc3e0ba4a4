//! The long-running worker: consume, run jobs side by side, publish results, ack;
//! reconnect when the broker goes away; drain on SIGTERM/SIGINT.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions,
    BasicRejectOptions,
};
use lapin::types::FieldTable;
use lapin::{Channel, Connection};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;

use crate::config::Config;
use crate::job::{self, Context, JobError, JobFailure, JobMessage};
use crate::metrics::Metrics;
use crate::queue::{self, QueueError};
use crate::storage::Gcs;

/// Runs until a signal asks it to stop and in-flight jobs are done (or the shutdown
/// timeout passes). Errors only for what retrying cannot fix (bad topology, credentials).
pub async fn run(cfg: Config) -> Result<(), Box<dyn std::error::Error>> {
    std::fs::create_dir_all(&cfg.work_dir)
        .map_err(|e| format!("localStoragePath {}: {e}", cfg.work_dir.display()))?;
    let gcs = Gcs::new(&cfg.storage).await?;
    let metrics = Metrics::new();
    if let Some(addr) = cfg.metrics_addr {
        let bound = metrics
            .serve(addr)
            .await
            .map_err(|e| format!("DASHPACK_METRICS_ADDR {addr}: {e}"))?;
        tracing::info!(%bound, "serving /metrics and /healthz");
    }
    let ctx = Arc::new(Context::new(cfg, gcs, metrics));
    let (stop_tx, mut stop) = watch::channel(false);
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("stop requested: finishing jobs in flight, taking no new ones");
        let _ = stop_tx.send(true);
        wait_for_signal().await;
        tracing::warn!("second stop signal: exiting now; unfinished jobs return to the queue");
        std::process::exit(130);
    });

    let permits = Arc::new(Semaphore::new(ctx.cfg.workers));
    let mut jobs = JoinSet::new();
    let mut failures = 0u32;
    loop {
        let ended = session(&ctx, &mut stop, &permits, &mut jobs).await;
        ctx.metrics.set_connected(false);
        match ended {
            Ok(()) => return Ok(()),
            Err(e @ QueueError::Topology { .. }) => return Err(e.into()),
            Err(e) => {
                failures += 1;
                let wait = Duration::from_millis(250 * 2u64.pow(failures.min(7)))
                    .min(Duration::from_secs(30));
                tracing::error!(error = %e, retry_in_ms = wait.as_millis() as u64, "broker connection lost");
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = stop.changed() => {
                        drain(&ctx, &mut jobs).await;
                        return Ok(());
                    }
                }
            }
        }
        if *stop.borrow() {
            drain(&ctx, &mut jobs).await;
            return Ok(());
        }
    }
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// One broker connection: declare, consume, dispatch. `Ok` means stopped on request.
async fn session(
    ctx: &Arc<Context>,
    stop: &mut watch::Receiver<bool>,
    permits: &Arc<Semaphore>,
    jobs: &mut JoinSet<()>,
) -> Result<(), QueueError> {
    let b = &ctx.cfg.broker;
    let conn = queue::connect(b, &b.consumer_name).await?;
    queue::declare(&conn, b).await?;
    let publisher = queue::publisher(&conn).await?;
    let ch = conn
        .create_channel()
        .await
        .map_err(queue::broker_err("open the consumer channel"))?;
    let prefetch = u16::try_from(ctx.cfg.workers).unwrap_or(u16::MAX);
    ch.basic_qos(prefetch, BasicQosOptions::default())
        .await
        .map_err(queue::broker_err("set the prefetch count"))?;
    let tag = format!("{}-{}", b.consumer_name, std::process::id());
    let mut consumer = ch
        .basic_consume(
            b.queue.as_str().into(),
            tag.as_str().into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .map_err(queue::broker_err(format!(
            "consume from queue {:?}",
            b.queue
        )))?;
    ctx.metrics.set_connected(true);
    tracing::info!(queue = %b.queue, prefetch, "consuming");
    loop {
        tokio::select! {
            _ = stop.changed() => {
                let _ = ch.basic_cancel(tag.as_str().into(), BasicCancelOptions::default()).await;
                drain(ctx, jobs).await;
                let _ = conn.close(200, "worker stopping".into()).await;
                return Ok(());
            }
            Some(_) = jobs.join_next(), if !jobs.is_empty() => {}
            next = consumer.next() => match next {
                Some(Ok(delivery)) => {
                    let Ok(permit) = permits.clone().acquire_owned().await else {
                        return Ok(());
                    };
                    jobs.spawn(handle(ctx.clone(), publisher.clone(), delivery, permit));
                }
                Some(Err(e)) => return Err(QueueError::Broker { what: "consumer".into(), source: e }),
                None => return Err(lost(&conn)),
            },
        }
    }
}

fn lost(conn: &Connection) -> QueueError {
    QueueError::Lost(format!("consumer ended (connection {:?})", conn.status()))
}

/// Waits for in-flight jobs, at most the shutdown timeout; what is left is dropped and
/// its messages return to the queue when the connection closes.
async fn drain(ctx: &Context, jobs: &mut JoinSet<()>) {
    if jobs.is_empty() {
        return;
    }
    tracing::info!(jobs = jobs.len(), "waiting for jobs in flight");
    let all = async { while jobs.join_next().await.is_some() {} };
    if tokio::time::timeout(ctx.cfg.shutdown_timeout, all)
        .await
        .is_err()
    {
        tracing::warn!(
            jobs = jobs.len(),
            "shutdown timeout: leaving unfinished jobs to be redelivered"
        );
        jobs.abort_all();
    }
}

/// One delivery, from its body to its ack (or reject).
async fn handle(ctx: Arc<Context>, publisher: Channel, d: Delivery, _permit: OwnedSemaphorePermit) {
    let _in_flight = ctx.metrics.in_flight();
    let seen = queue::deliveries(&d.properties);
    if d.redelivered {
        // The worker that had it died or lost its connection: count it, or give up.
        let text = format!(
            "given up after {seen} deliveries: the worker stopped (crash, kill or lost \
             connection) while processing this message each time"
        );
        if seen >= ctx.cfg.max_deliveries {
            return fail(&ctx, &publisher, &d, &text).await;
        }
        return requeue(&ctx, &publisher, &d, seen + 1, "redelivered").await;
    }
    let msg = match JobMessage::parse(&d.data) {
        Ok(m) => m,
        Err(text) => return fail(&ctx, &publisher, &d, &text).await,
    };
    let ids = msg.ids();
    let _same_job = ctx.lock_job(ids.job_id).await;
    let started = std::time::Instant::now();
    match job::run(&ctx, &msg, ids).await {
        Ok(result) => {
            job::state(&ids, "FINISHING", started);
            let body = serde_json::to_vec(&result).unwrap_or_default();
            let b = &ctx.cfg.broker;
            if let Err(e) = queue::publish(
                &publisher,
                &b.notification_exchange,
                &b.routing_key,
                &body,
                queue::json_props(),
            )
            .await
            {
                tracing::error!(job_id = %ids.job_id, error = %e, "could not publish the result");
                return requeue(&ctx, &publisher, &d, seen + 1, "result not published").await;
            }
            match d.ack(BasicAckOptions::default()).await {
                Ok(_) => {
                    ctx.metrics.job_done("completed");
                    tracing::info!(job_id = %ids.job_id, video_id = %ids.video_id, status = "COMPLETED", "job state");
                }
                Err(e) => tracing::warn!(
                    job_id = %ids.job_id,
                    error = %e,
                    "result published but the ack failed; the message will be redelivered \
                     and the result repeated with the same job id"
                ),
            }
        }
        Err(JobError::Permanent(text)) => fail(&ctx, &publisher, &d, &text).await,
        Err(JobError::Transient(text)) if seen >= ctx.cfg.max_deliveries => {
            let text = format!("given up after {seen} tries: {text}");
            fail(&ctx, &publisher, &d, &text).await
        }
        Err(JobError::Transient(text)) => {
            tracing::warn!(job_id = %ids.job_id, error = %text, try_ = seen, "job failed, will retry");
            requeue(&ctx, &publisher, &d, seen + 1, "transient failure").await
        }
        Err(JobError::Interrupted) => {
            let _ = d
                .nack(BasicNackOptions {
                    requeue: true,
                    ..BasicNackOptions::default()
                })
                .await;
        }
    }
}

/// Publishes the failure message, then rejects the delivery so it is dead-lettered.
async fn fail(ctx: &Context, publisher: &Channel, d: &Delivery, text: &str) {
    let failure = JobFailure {
        message: String::from_utf8_lossy(&d.data).into_owned(),
        error: text.to_string(),
    };
    let body = serde_json::to_vec(&failure).unwrap_or_default();
    let b = &ctx.cfg.broker;
    let published = queue::publish(
        publisher,
        &b.notification_exchange,
        &b.routing_key,
        &body,
        queue::json_props(),
    )
    .await;
    let job_id = JobMessage::parse(&d.data)
        .ok()
        .map(|m| m.ids().job_id.to_string());
    if let Err(e) = published {
        // Keep the message rather than dead-letter it with nobody told.
        tracing::error!(error = %e, "could not publish a failure; the message goes back to the queue");
        let _ = d
            .nack(BasicNackOptions {
                requeue: true,
                ..BasicNackOptions::default()
            })
            .await;
        return;
    }
    let _ = d.reject(BasicRejectOptions { requeue: false }).await;
    ctx.metrics.job_done("failed");
    tracing::warn!(
        job_id = job_id.as_deref().unwrap_or("-"),
        status = "FAILED",
        error = text,
        "job state"
    );
}

/// Puts a copy with the delivery count raised at the back of the queue, then acks the
/// original. A crash in between leaves two copies; the output converges either way.
async fn requeue(ctx: &Context, publisher: &Channel, d: &Delivery, next: u32, why: &str) {
    let props = queue::with_deliveries(&d.properties, next);
    match queue::publish(publisher, "", &ctx.cfg.broker.queue, &d.data, props).await {
        Ok(()) => {
            let _ = d.ack(BasicAckOptions::default()).await;
            ctx.metrics.job_done("retried");
            tracing::info!(why, delivery = next, "message queued again");
        }
        Err(e) => {
            tracing::error!(error = %e, "could not queue a copy; returning the message");
            let _ = d
                .nack(BasicNackOptions {
                    requeue: true,
                    ..BasicNackOptions::default()
                })
                .await;
        }
    }
}
