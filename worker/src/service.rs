//! The long-running worker: consume, run jobs side by side, publish results, ack;
//! reconnect when the broker goes away; drain on SIGTERM/SIGINT.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures_util::StreamExt;
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions,
    BasicRejectOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;

use crate::config::Config;
use crate::job::{self, Context, JobError, JobFailure, JobMessage, workdir};
use crate::metrics::Metrics;
use crate::queue::{self, PublishError, Publisher, QueueError};
use crate::storage::Gcs;

/// How often a session checks that it can still consume, publish and ack.
const HEALTH_CHECK: Duration = Duration::from_secs(1);

/// Longest wait for the broker while connecting, cancelling or closing: a broker that
/// accepts the connection and then stops answering must not hold the worker.
const BROKER_ANSWER: Duration = Duration::from_secs(30);

/// Runs until a signal asks it to stop and in-flight jobs are done (or the shutdown
/// timeout passes). Errors only for what retrying cannot fix (bad topology, credentials).
pub async fn run(cfg: Config) -> Result<(), Box<dyn std::error::Error>> {
    std::fs::create_dir_all(&cfg.work_dir)
        .map_err(|e| format!("localStoragePath {}: {e}", cfg.work_dir.display()))?;
    // Folders of jobs whose process died (SIGKILL, power loss) are not coming back.
    workdir::sweep(&cfg.work_dir);
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
    let dirs = ctx.live_dirs.clone();
    let work_dir = ctx.cfg.work_dir.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("stop requested: finishing jobs in flight, taking no new ones");
        let _ = stop_tx.send(true);
        wait_for_signal().await;
        let removed = dirs.remove_all() + workdir::sweep(&work_dir);
        tracing::warn!(
            removed_work_folders = removed,
            "second stop signal: exiting now; unfinished jobs return to the queue"
        );
        std::process::exit(130);
    });

    let permits = Arc::new(Semaphore::new(ctx.cfg.workers));
    let mut jobs = JoinSet::new();
    let mut failures = 0u32;
    loop {
        let mut consumed = false;
        let ended = session(&ctx, &mut stop, &permits, &mut jobs, &mut consumed).await;
        ctx.metrics.set_consuming(false);
        match ended {
            Ok(()) => return Ok(()),
            Err(e @ QueueError::Topology { .. }) => return Err(e.into()),
            Err(e) => {
                // A session that got as far as consuming starts the back-off afresh.
                failures = if consumed { 1 } else { failures + 1 };
                let wait = retry_wait(ctx.cfg.storage.backoff, failures);
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

/// The parts of one broker connection a session works with.
struct Link {
    conn: Arc<lapin::Connection>,
    publisher: Arc<Publisher>,
    ch: lapin::Channel,
    consumer: lapin::Consumer,
    tag: String,
}

/// Connects, declares, and starts consuming.
async fn open(ctx: &Context) -> Result<Link, QueueError> {
    let b = &ctx.cfg.broker;
    let conn = Arc::new(queue::connect(b, &b.consumer_name).await?);
    queue::declare(&conn, b).await?;
    let publisher = Arc::new(Publisher::open(conn.clone(), ctx.metrics.publishing()).await?);
    let ch = conn
        .create_channel()
        .await
        .map_err(queue::broker_err("open the consumer channel"))?;
    let prefetch = u16::try_from(ctx.cfg.workers).unwrap_or(u16::MAX);
    ch.basic_qos(prefetch, BasicQosOptions::default())
        .await
        .map_err(queue::broker_err("set the prefetch count"))?;
    let tag = format!("{}-{}", b.consumer_name, std::process::id());
    let mut args = FieldTable::default();
    if let Some(t) = b.consumer_timeout {
        // RabbitMQ 3.12 and later take the timeout per consumer, so the broker's clock
        // and the worker's hold agree; older brokers ignore the argument.
        let ms = i64::try_from(t.as_millis()).unwrap_or(i64::MAX);
        args.insert("x-consumer-timeout".into(), AMQPValue::LongLongInt(ms));
    }
    let consumer = ch
        .basic_consume(
            b.queue.as_str().into(),
            tag.as_str().into(),
            BasicConsumeOptions::default(),
            args,
        )
        .await
        .map_err(queue::broker_err(format!(
            "consume from queue {:?}",
            b.queue
        )))?;
    tracing::info!(queue = %b.queue, prefetch, "consuming");
    Ok(Link {
        conn,
        publisher,
        ch,
        consumer,
        tag,
    })
}

impl Link {
    /// Stops consuming, lets the jobs in flight finish, and closes the connection.
    /// A broker that stopped answering cannot hold the worker: each step is bounded.
    async fn stop(&self, ctx: &Context, jobs: &mut JoinSet<()>) {
        let cancel = self
            .ch
            .basic_cancel(self.tag.as_str().into(), BasicCancelOptions::default());
        let _ = tokio::time::timeout(BROKER_ANSWER, cancel).await;
        drain(ctx, jobs).await;
        self.close(200, "worker stopping").await;
    }

    async fn close(&self, code: u16, why: &str) {
        let _ = tokio::time::timeout(BROKER_ANSWER, self.conn.close(code, why.into())).await;
    }
}

/// One broker connection: declare, consume, dispatch, and watch that the consumer
/// and publisher channels stay usable. `Ok` means stopped on request.
///
/// A stop request is heard at every wait: while connecting, while all job slots are
/// taken, and while consuming.
async fn session(
    ctx: &Arc<Context>,
    stop: &mut watch::Receiver<bool>,
    permits: &Arc<Semaphore>,
    jobs: &mut JoinSet<()>,
    consumed: &mut bool,
) -> Result<(), QueueError> {
    let opened = tokio::select! {
        r = tokio::time::timeout(BROKER_ANSWER, open(ctx)) => r,
        _ = stop.changed() => {
            drain(ctx, jobs).await;
            return Ok(());
        }
    };
    let mut link = opened.map_err(|_| {
        QueueError::Lost(format!(
            "the broker did not answer within {} s while connecting",
            BROKER_ANSWER.as_secs()
        ))
    })??;
    ctx.metrics.set_consuming(true);
    *consumed = true;
    let mut health = tokio::time::interval(HEALTH_CHECK);
    loop {
        tokio::select! {
            _ = stop.changed() => {
                link.stop(ctx, jobs).await;
                return Ok(());
            }
            Some(_) = jobs.join_next(), if !jobs.is_empty() => {}
            _ = health.tick() => {
                // A channel the broker closed does not end the consumer stream by
                // itself; a publisher that cannot reopen leaves results unsent. Either
                // way: a new connection, and deliveries in flight come back.
                let broken = if !link.conn.status().connected() {
                    Some("the connection is closed")
                } else if !link.ch.status().connected() {
                    Some("the broker closed the consumer channel")
                } else if !ctx.metrics.publishing().load(Ordering::Relaxed) {
                    Some("no publisher channel can be opened")
                } else {
                    None
                };
                if let Some(why) = broken {
                    link.close(320, "reconnecting").await;
                    return Err(QueueError::Lost(why.into()));
                }
            }
            next = link.consumer.next() => match next {
                Some(Ok(delivery)) => {
                    // Unacked, a delivery dropped here returns to the queue on close.
                    let permit = tokio::select! {
                        p = permits.clone().acquire_owned() => p,
                        _ = stop.changed() => {
                            link.stop(ctx, jobs).await;
                            return Ok(());
                        }
                    };
                    let Ok(permit) = permit else {
                        return Ok(());
                    };
                    jobs.spawn(handle(ctx.clone(), link.publisher.clone(), delivery, permit));
                }
                Some(Err(e)) => return Err(QueueError::Broker { what: "consumer".into(), source: e }),
                None => return Err(QueueError::Lost(format!(
                    "consumer ended (connection {:?})",
                    link.conn.status()
                ))),
            },
        }
    }
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

/// `dashpack_jobs_total` outcomes of a message that ends in the failed queue: refused
/// for what it is, or given up after `DASHPACK_MAX_DELIVERIES` tries.
const FAILED: &str = "failed";
const GIVEN_UP: &str = "given_up";

/// What settles a message: its delivery, or the hold queue it was moved to.
enum Ticket {
    Delivery(Delivery),
    Held(queue::Hold),
}

impl Ticket {
    fn body(&self) -> &[u8] {
        match self {
            Ticket::Delivery(d) => &d.data,
            Ticket::Held(h) => h.body(),
        }
    }

    fn properties(&self) -> lapin::BasicProperties {
        match self {
            Ticket::Delivery(d) => queue::unheld(&d.properties),
            Ticket::Held(h) => h.properties(),
        }
    }

    /// Done with it: ack the delivery, or delete the hold queue.
    async fn settle(&self) -> Result<(), String> {
        match self {
            Ticket::Delivery(d) => d
                .ack(BasicAckOptions::default())
                .await
                .map(|_| ())
                .map_err(|e| e.to_string()),
            Ticket::Held(h) => h.release().await.map_err(|e| e.to_string()),
        }
    }

    /// To the dead-letter exchange (the failed queue).
    async fn reject(&self, publisher: &Publisher) {
        match self {
            Ticket::Delivery(d) => {
                let _ = d.reject(BasicRejectOptions { requeue: false }).await;
            }
            Ticket::Held(h) => {
                if let Err(e) = h.dead_letter(publisher).await {
                    tracing::error!(error = %e, "could not dead-letter a held message; it returns to the queue when its lease ends");
                }
            }
        }
    }

    /// Back to the queue, to be taken again. On a lost connection this fails too, and
    /// the broker returns the delivery (or the hold queue its copy) on its own.
    async fn give_back(&self, publisher: &Publisher) {
        match self {
            Ticket::Delivery(d) => {
                let _ = d
                    .nack(BasicNackOptions {
                        requeue: true,
                        ..BasicNackOptions::default()
                    })
                    .await;
            }
            Ticket::Held(h) => {
                if let Err(e) = h.give_back(publisher).await {
                    tracing::warn!(error = %e, "a held message returns to the queue when its lease ends");
                }
            }
        }
    }
}

/// One delivery, from its body to its ack (or reject).
async fn handle(
    ctx: Arc<Context>,
    publisher: Arc<Publisher>,
    d: Delivery,
    _permit: OwnedSemaphorePermit,
) {
    let received = std::time::Instant::now();
    let _in_flight = ctx.metrics.in_flight();
    let publisher = publisher.as_ref();
    let seen = queue::deliveries(&d.properties);
    let returned = queue::is_held(&d.properties);
    if d.redelivered || returned {
        // The worker that had it died or lost its connection: count it, or give up.
        let text = format!(
            "given up after {seen} deliveries: the worker stopped (crash, kill or lost \
             connection) while processing this message each time"
        );
        if seen >= ctx.cfg.max_deliveries {
            return fail(&ctx, publisher, &Ticket::Delivery(d), &text, GIVEN_UP).await;
        }
        // A held copy was counted when it was held; a redelivery is counted now.
        if d.redelivered {
            return requeue(
                &ctx,
                publisher,
                &Ticket::Delivery(d),
                seen + 1,
                "redelivered",
            )
            .await;
        }
    }
    let msg = match JobMessage::parse(&d.data) {
        Ok(m) => m,
        Err(text) => return fail(&ctx, publisher, &Ticket::Delivery(d), &text, FAILED).await,
    };
    let ids = msg.ids();
    let started = std::time::Instant::now();
    let work = async {
        let _same_job = ctx.lock_job(ids.job_id).await;
        job::run(&ctx, &msg, ids).await
    };
    let key = ids.job_id.to_string();
    let (outcome, ticket) = hold_while(&ctx, publisher, d, key, seen, received, work).await;
    match outcome {
        Ok(result) => {
            job::state(&ids, "FINISHING", started);
            let body = serde_json::to_vec(&result).unwrap_or_default();
            match report(&ctx, publisher, &body).await {
                Ok(()) => {}
                Err(PublishError::Refused(e)) => {
                    // The same result would be refused again: report and dead-letter.
                    let text = format!(
                        "the presentation was uploaded to {}/{} but its result message \
                         was refused by the broker: {e}",
                        result.output_bucket_path, result.video.encoded_video_folder
                    );
                    return fail(&ctx, publisher, &ticket, &text, FAILED).await;
                }
                Err(e @ PublishError::Lost(_)) => {
                    tracing::error!(job_id = %ids.job_id, error = %e, "could not publish the result");
                    return ticket.give_back(publisher).await;
                }
            }
            match ticket.settle().await {
                Ok(()) => {
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
        Err(JobError::Permanent(text)) => fail(&ctx, publisher, &ticket, &text, FAILED).await,
        Err(JobError::Transient(text)) if seen >= ctx.cfg.max_deliveries => {
            let text = format!("given up after {seen} tries: {text}");
            fail(&ctx, publisher, &ticket, &text, GIVEN_UP).await
        }
        Err(JobError::Transient(text)) => {
            // Out of disk, descriptors or memory, or a service down: wait before the
            // next try (holding this job's slot, so no other job starts into the same
            // trouble), rather than burning every delivery within a second.
            let wait = retry_wait(ctx.cfg.storage.backoff, seen);
            tracing::warn!(
                job_id = %ids.job_id,
                error = %text,
                try_ = seen,
                retry_in_ms = wait.as_millis() as u64,
                "job failed, will retry"
            );
            // A failure may have left a folder it could not remove (EMFILE, ENOSPC).
            workdir::sweep(&ctx.cfg.work_dir);
            tokio::time::sleep(wait).await;
            requeue(&ctx, publisher, &ticket, seen + 1, "transient failure").await
        }
        Err(JobError::Interrupted) => ticket.give_back(publisher).await,
    }
}

/// Runs `work`; when the broker's ack timeout would pass first, moves the message to a
/// hold queue (a quarter of the timeout to spare) and renews its lease until the work
/// ends (`key`, the job id, names the hold queue). Returns what settles the message then.
async fn hold_while<T>(
    ctx: &Context,
    publisher: &Publisher,
    d: Delivery,
    key: String,
    seen: u32,
    received: std::time::Instant,
    work: impl std::future::Future<Output = T>,
) -> (T, Ticket) {
    tokio::pin!(work);
    let Some(timeout) = ctx.cfg.broker.consumer_timeout else {
        return (work.await, Ticket::Delivery(d));
    };
    let hold_at = received + (timeout - timeout / 4);
    tokio::select! {
        out = &mut work => return (out, Ticket::Delivery(d)),
        _ = tokio::time::sleep_until(hold_at.into()) => {}
    }
    let held = queue::Hold::take(
        publisher,
        &ctx.cfg.broker,
        &key,
        &d.data,
        &d.properties,
        seen + 1,
        timeout,
    )
    .await;
    let hold = match held {
        Ok(h) => h,
        Err(e) => {
            tracing::error!(job_id = %key, error = %e, "could not hold the message; the broker may close the channel on it and redeliver it");
            return (work.await, Ticket::Delivery(d));
        }
    };
    if let Err(e) = d.ack(BasicAckOptions::default()).await {
        // The copy is held all the same; the delivery comes back as a redelivery and is
        // counted, while this worker goes on.
        tracing::warn!(job_id = %key, error = %e, "held, but the ack of the delivery failed");
    }
    tracing::info!(job_id = %key, lease_s = timeout.as_secs_f64(), "job outlasts the broker's ack timeout: message held");
    let mut renew = tokio::time::interval_at(
        (std::time::Instant::now() + timeout / 2).into(),
        timeout / 2,
    );
    loop {
        tokio::select! {
            out = &mut work => return (out, Ticket::Held(hold)),
            _ = renew.tick() => {
                if let Err(e) = hold.renew(publisher).await {
                    tracing::warn!(job_id = %key, error = %e, "could not renew the hold; if the lease ends first, another worker takes the job again");
                }
            }
        }
    }
}

/// The wait before try `seen + 1`: from `base`, doubling per try up to 30 s, the upper
/// half jittered so workers that failed together do not return together.
fn retry_wait(base: Duration, seen: u32) -> Duration {
    let ceiling = base
        .saturating_mul(1u32 << seen.saturating_sub(1).min(16))
        .min(Duration::from_secs(30));
    ceiling / 2 + crate::storage::backoff(ceiling / 2, 0)
}

/// Publishes a result or failure report where the old service did.
async fn report(ctx: &Context, publisher: &Publisher, body: &[u8]) -> Result<(), PublishError> {
    let b = &ctx.cfg.broker;
    publisher
        .send(
            &b.notification_exchange,
            &b.routing_key,
            body,
            queue::json_props(),
        )
        .await
}

/// Publishes the failure report, then rejects the delivery so it is dead-lettered.
///
/// A report the broker refuses does not hold the message back: it is dead-lettered all
/// the same (its body is kept in the failed queue) and the refusal logged. Only a lost
/// connection returns it, to be reported after the reconnect.
async fn fail(ctx: &Context, publisher: &Publisher, t: &Ticket, text: &str, outcome: &str) {
    let body = JobFailure::new(t.body(), text).to_json();
    let published = report(ctx, publisher, &body).await;
    let job_id = JobMessage::parse(t.body())
        .ok()
        .map(|m| m.ids().job_id.to_string());
    match published {
        Ok(()) => {}
        Err(e @ PublishError::Refused(_)) => tracing::error!(
            job_id = job_id.as_deref().unwrap_or("-"),
            error = %e,
            "the failure report was refused; dead-lettering the message without it"
        ),
        Err(e @ PublishError::Lost(_)) => {
            tracing::error!(error = %e, "could not publish a failure; the message goes back to the queue");
            return t.give_back(publisher).await;
        }
    }
    t.reject(publisher).await;
    ctx.metrics.job_done(outcome);
    tracing::warn!(
        job_id = job_id.as_deref().unwrap_or("-"),
        status = "FAILED",
        error = %JobFailure::new(b"", text).error,
        "job state"
    );
}

/// Puts a copy with the delivery count raised at the back of the queue, then acks the
/// original. A crash in between leaves two copies; the output converges either way.
/// A copy the broker refuses (a body that no longer fits with the count header) is
/// dead-lettered instead: requeueing it as it is would loop.
async fn requeue(ctx: &Context, publisher: &Publisher, t: &Ticket, next: u32, why: &str) {
    let props = queue::with_deliveries(&t.properties(), next);
    match publisher
        .send("", &ctx.cfg.broker.queue, t.body(), props)
        .await
    {
        Ok(()) => {
            let _ = t.settle().await;
            ctx.metrics.job_done(if why == "redelivered" {
                "redelivered"
            } else {
                "retried"
            });
            tracing::info!(why, delivery = next, "message queued again");
        }
        Err(PublishError::Refused(e)) => {
            let text = format!("{why}, but the broker refused a copy for another try: {e}");
            fail(ctx, publisher, t, &text, FAILED).await
        }
        Err(e @ PublishError::Lost(_)) => {
            tracing::error!(error = %e, "could not queue a copy; returning the message");
            t.give_back(publisher).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_waits_grow_and_stay_bounded() {
        let base = Duration::from_millis(100);
        for seen in 1..40 {
            let ceiling = (base * 2u32.pow((seen - 1).min(16))).min(Duration::from_secs(30));
            let w = retry_wait(base, seen);
            assert!(w >= ceiling / 2 && w <= ceiling, "try {seen}: {w:?}");
        }
    }
}
