//! The broker itself misbehaving, on a private RabbitMQ node per test: really stopped
//! and restarted (idle and mid-upload), and a lowered `max_message_size` refusing a
//! failure report or a result. Every message must end exactly once in the result or the
//! failed queue, and the worker must keep serving afterwards.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::{Duration, Instant};

use support::rabbit::PrivateRabbit;
use support::*;

/// `/healthz` status, or None when nothing answers.
async fn healthz(port: u16) -> Option<u16> {
    let r = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/healthz"))
        .timeout(Duration::from_secs(2))
        .send()
        .await
        .ok()?;
    Some(r.status().as_u16())
}

async fn wait_health(port: u16, want: u16, w: &Worker) {
    let start = Instant::now();
    while healthz(port).await != Some(want) {
        assert!(
            start.elapsed() < WAIT,
            "/healthz never answered {want}; log:\n{}",
            w.log_text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_broker_restart_while_idle_is_ridden_out() {
    let mut rabbit = PrivateRabbit::start("idle", 128 << 20).await;
    let mut s = Setup::on(&rabbit.url, "restart-idle", None).await;
    s.gcs.put(IN, "a.mp4", fixture("video_low.mp4")).await;
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let w = s.worker(&[("DASHPACK_METRICS_ADDR", &addr)]).await;
    wait_health(port, 200, &w).await;

    rabbit.stop().await;
    wait_health(port, 503, &w).await;
    rabbit.boot().await;
    wait_health(port, 200, &w).await;
    s.broker.reconnect().await;

    s.publish_job("idle", "a.mp4").await;
    s.assert_converged_once(&w, "idle", "a.mp4", "video_low.mp4")
        .await;
    let log = w.log_text();
    let lost = log.matches("broker connection lost").count();
    assert!(
        (1..=20).contains(&lost),
        "reconnects logged with back-off, not in a burst: {lost}\n{log}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_broker_restart_mid_upload_converges_once() {
    let mut rabbit = PrivateRabbit::start("upload", 128 << 20).await;
    let faults = Faults {
        upload_delay: Duration::from_millis(150),
        ..Faults::default()
    };
    let mut s = Setup::on(&rabbit.url, "restart-upload", Some(faults)).await;
    s.gcs.put(IN, "u.mp4", fixture("h264_aac.mp4")).await;
    let w = s.worker(&[("CONCURRENCY_UPLOAD", "1")]).await;
    s.publish_job("upload", "u.mp4").await;
    s.proxy.as_ref().unwrap().first_upload().await;

    rabbit.restart().await;
    s.broker.reconnect().await;
    // The unacked message survived the restart, came back, and converged on the same
    // folder with one result.
    s.assert_converged_once(&w, "upload", "u.mp4", "h264_aac.mp4")
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn messages_and_results_over_the_size_limit_never_jam_the_worker() {
    let limit = 1 << 20;
    let rabbit = PrivateRabbit::start("limit", limit).await;
    let mut s = Setup::on(&rabbit.url, "size-limit", None).await;
    s.gcs.put(IN, "a.mp4", fixture("video_low.mp4")).await;
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let w = s.worker(&[("DASHPACK_METRICS_ADDR", &addr)]).await;

    // 1. A body under the limit whose failure report, echoing it, would be six times
    // over it (every NUL byte is `\u0000` in JSON).
    let nul = vec![0u8; 300 << 10];
    assert!(rabbit.publish(&s.broker.queue, &nul).await);
    let reports = s.broker.results(1, WAIT).await;
    assert_eq!(reports.len(), 1, "log:\n{}", w.log_text());
    assert_eq!(reports[0]["message_truncated"], true, "{}", reports[0]);
    assert_eq!(reports[0]["message_bytes"], nul.len());
    assert!(
        reports[0]["error"]
            .as_str()
            .unwrap()
            .contains("invalid job message")
    );
    let dead = s.broker.take(&s.broker.failed, 1, WAIT).await;
    assert_eq!(dead, vec![nul], "the original body is dead-lettered whole");

    // 2. Not jammed: the next job completes, and the worker is healthy.
    s.publish_job("after-nul", "a.mp4").await;
    let r = s.broker.results(1, WAIT).await;
    assert_eq!(r.len(), 1, "log:\n{}", w.log_text());
    assert_completed(&r[0], "after-nul", "a.mp4");
    wait_health(port, 200, &w).await;

    // 3. A limit below the result's size (channels opened after the change get it:
    // the broker drops every connection, the worker reconnects).
    rabbit.set_max_message_size(200);
    rabbit.close_all_connections();
    s.broker.reconnect().await;
    wait_health(port, 200, &w).await;
    s.publish_job("big", "a.mp4").await;
    let dead = s.broker.take(&s.broker.failed, 1, WAIT).await;
    assert_eq!(dead.len(), 1, "log:\n{}", w.log_text());
    let v: serde_json::Value = serde_json::from_slice(&dead[0]).unwrap();
    assert_eq!(v["resource_id"], "big");
    // Both the result and its failure report were over the limit: the message went to
    // the failed queue with nothing published, and the log says why.
    assert!(s.broker.results(1, Duration::from_secs(1)).await.is_empty());
    let log = w.log_text();
    assert!(
        log.contains("result message was refused by the broker")
            && log.contains("dead-lettering the message without it"),
        "{log}"
    );

    // 4. The limit raised again: the refused publish closed the worker's publisher
    // channel; the worker opens a new one (with the new limit) and completes the next
    // job without a reconnect.
    rabbit.set_max_message_size(limit);
    s.publish_job("later", "a.mp4").await;
    let r = s.broker.results(1, WAIT).await;
    assert_eq!(r.len(), 1, "log:\n{}", w.log_text());
    assert_completed(&r[0], "later", "a.mp4");
    assert!(w.log_text().contains("publisher channel reopened"));

    // Every message ended exactly once; nothing is left or repeated.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(
        s.broker
            .results(1, Duration::from_millis(300))
            .await
            .is_empty()
    );
    assert_eq!(s.broker.depth(&s.broker.failed).await, 0);
    assert_eq!(s.broker.depth(&s.broker.queue).await, 0);
    wait_health(port, 200, &w).await;
    let errors = w.log_text().matches("\"ERROR\"").count();
    assert!(
        errors < 10,
        "a refused publish is logged, not looped: {errors}"
    );
}

/// Faults that make one job of `video_low.mp4` (5 uploads, one at a time) take about
/// 7 s: longer than the 3 s ack timeout these tests give the broker.
fn slow_uploads() -> Faults {
    Faults {
        upload_delay: Duration::from_millis(1400),
        ..Faults::default()
    }
}

const ACK_TIMEOUT_MS: u64 = 3000;

/// Hold queues left on the node (`<queue>.hold.<job id>`).
fn hold_queues(rabbit: &PrivateRabbit) -> Vec<String> {
    rabbit
        .ctl_output(&["list_queues", "name", "-q"])
        .lines()
        .filter(|l| l.contains(".hold."))
        .map(str::to_string)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_longer_than_the_ack_timeout_is_held_and_completes_once() {
    let rabbit = PrivateRabbit::start("acktimeout", 128 << 20).await;
    rabbit.set_consumer_timeout(ACK_TIMEOUT_MS);

    // The control: a worker told the broker has no timeout loses its channel mid-job,
    // so the broker here really enforces it.
    let s = Setup::on(&rabbit.url, "ack-control", Some(slow_uploads())).await;
    s.gcs.put(IN, "long.mp4", fixture("video_low.mp4")).await;
    let mut w = s
        .worker(&[
            ("DASHPACK_CONSUMER_TIMEOUT", "0"),
            ("CONCURRENCY_UPLOAD", "1"),
        ])
        .await;
    s.publish_job("control", "long.mp4").await;
    let start = Instant::now();
    while !w
        .log_text()
        .contains("the broker closed the consumer channel")
    {
        assert!(
            start.elapsed() < WAIT,
            "the broker never timed the delivery out; log:\n{}",
            w.log_text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    w.signal("KILL");
    w.wait(WAIT).await;

    // The worker that knows the timeout holds the message and completes the job once,
    // on one channel, and leaves no hold queue behind.
    let s = Setup::on(&rabbit.url, "ack-timeout", Some(slow_uploads())).await;
    s.gcs.put(IN, "long.mp4", fixture("video_low.mp4")).await;
    let timeout = (ACK_TIMEOUT_MS / 1000).to_string();
    let w = s
        .worker(&[
            ("DASHPACK_CONSUMER_TIMEOUT", &timeout),
            ("CONCURRENCY_UPLOAD", "1"),
        ])
        .await;
    s.publish_job("long", "long.mp4").await;
    s.assert_converged_once(&w, "long", "long.mp4", "video_low.mp4")
        .await;
    let log = w.log_text();
    assert!(log.contains("message held"), "{log}");
    assert!(!log.contains("broker connection lost"), "{log}");
    assert_eq!(hold_queues(&rabbit), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_held_job_whose_worker_dies_returns_when_its_lease_ends() {
    let rabbit = PrivateRabbit::start("lease", 128 << 20).await;
    rabbit.set_consumer_timeout(ACK_TIMEOUT_MS);
    let s = Setup::on(&rabbit.url, "lease", Some(slow_uploads())).await;
    s.gcs.put(IN, "long.mp4", fixture("video_low.mp4")).await;
    let timeout = (ACK_TIMEOUT_MS / 1000).to_string();
    let env = [
        ("DASHPACK_CONSUMER_TIMEOUT", timeout.as_str()),
        ("CONCURRENCY_UPLOAD", "1"),
    ];
    let mut first = s.worker(&env).await;
    s.publish_job("lease", "long.mp4").await;
    let start = Instant::now();
    while !first.log_text().contains("message held") {
        assert!(start.elapsed() < WAIT, "log:\n{}", first.log_text());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Acked and held: nothing is left for the broker to redeliver but the held copy.
    first.signal("KILL");
    first.wait(WAIT).await;
    assert_eq!(s.broker.depth(&s.broker.queue).await, 0);
    let second = s.worker(&env).await;
    s.assert_converged_once(&second, "lease", "long.mp4", "video_low.mp4")
        .await;
    // The second worker held it too (the job outlasts the timeout again) and released it.
    assert!(second.log_text().contains("message held"));
    assert_eq!(hold_queues(&rabbit), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread")]
async fn quorum_queues_with_a_delivery_limit_are_declared_on_request() {
    let rabbit = PrivateRabbit::start("quorum", 128 << 20).await;
    let s = Setup::on(&rabbit.url, "quorum", None).await;
    s.gcs.put(IN, "q.mp4", fixture("video_low.mp4")).await;
    let w = s
        .worker(&[
            ("DASHPACK_QUEUE_TYPE", "quorum"),
            ("DASHPACK_DELIVERY_LIMIT", "3"),
        ])
        .await;
    let listed = rabbit.ctl_output(&["list_queues", "name", "type", "arguments", "-q"]);
    for q in [&s.broker.queue, &s.broker.failed, &s.broker.result] {
        let line = listed
            .lines()
            .find(|l| l.split_whitespace().next() == Some(q.as_str()))
            .unwrap_or_else(|| panic!("queue {q} not declared:\n{listed}"));
        assert!(line.contains("quorum"), "{line}");
        assert_eq!(
            line.contains("x-delivery-limit"),
            *q == s.broker.queue,
            "{line}"
        );
    }
    s.publish_job("quorum", "q.mp4").await;
    s.assert_converged_once(&w, "quorum", "q.mp4", "video_low.mp4")
        .await;
}
