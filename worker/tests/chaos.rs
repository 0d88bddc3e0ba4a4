//! Chaos soak: jobs through three workers on a private RabbitMQ node while the broker
//! restarts, the storage emulator drops a share of requests and a worker is SIGKILLed at
//! a fixed interval (and replaced). Nothing may be lost; a result may be repeated only in
//! the documented window between publishing it and acking the message (a kill or a
//! broker stop there), and the test counts those repeats against that bound.
//!
//! CI runs a short version; `scripts/soak` runs a long one and the same jobs without
//! faults, and prints both. By hand:
//! `CHAOS_JOBS=1000 CHAOS_KILL_EVERY_S=20 cargo test -p dashpack-worker --test chaos -- --nocapture`
//! (`CHAOS_FAULTS=0`: no faults, kills or restarts, for the wall time to compare with).
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::rabbit::{PrivateRabbit, drain};
use support::*;

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::test(flavor = "multi_thread")]
async fn chaos_soak_three_workers_broker_restarts_storage_faults_and_kills() {
    let jobs = env_number("CHAOS_JOBS", 150) as usize;
    let kill_every = Duration::from_secs(env_number("CHAOS_KILL_EVERY_S", 4));
    let chaos = env_number("CHAOS_FAULTS", 1) != 0;
    let restarts = if chaos {
        env_number("CHAOS_RESTARTS", 2) as usize
    } else {
        0
    };
    const CONCURRENCY: usize = 2;

    let mut rabbit = PrivateRabbit::start("chaos", 128 << 20).await;
    let faults = Faults {
        fail_every: if chaos { 20 } else { 0 }, // 5% of storage requests answer 503
        // 10% of the others have their answer cut mid-body.
        cut_answer_every: if chaos { 10 } else { 0 },
        // Uploads take a little while, as they do over a network, so jobs overlap
        // the kills and restarts.
        upload_delay: Duration::from_millis(40),
        ..Faults::default()
    };
    let s = Setup::on(&rabbit.url, "chaos", Some(faults)).await;
    s.gcs.put(IN, "clip.mp4", fixture("video_low.mp4")).await;
    let concurrency = CONCURRENCY.to_string();
    let extra = [
        ("CONCURRENCY_WORKERS", concurrency.as_str()),
        // Infrastructure faults must never exhaust a good job's tries here.
        ("DASHPACK_MAX_DELIVERIES", "1000"),
    ];

    // A first worker declares the topology, then goes before any job is queued.
    let mut declarer = s.worker(&extra).await;
    declarer.signal("KILL");
    declarer.wait(WAIT).await;

    let mut good = BTreeSet::new();
    let mut poison = BTreeSet::new();
    for i in 0..jobs {
        let id = format!("chaos-{i}");
        if i % 10 == 9 {
            let body = format!("{{\"resource_id\":\"{id}\",\"file_path\":\"../{id}\"}}");
            s.broker.publish(body.as_bytes()).await;
            poison.insert(body);
        } else {
            s.publish_job(&id, "clip.mp4").await;
            good.insert(id);
        }
    }

    // Every message is queued before the workers start, so the faults below fall
    // while jobs are in flight.
    let mut workers: Vec<Worker> = Vec::new();
    for _ in 0..3 {
        workers.push(Worker::start(&s.dir, &s.env(&extra)));
    }
    let started = Instant::now();
    let deadline = Duration::from_secs(env_number("CHAOS_TIMEOUT_S", 600));
    let mut t = Tally::default();
    let mut kills = 0usize;
    let mut restarted = 0usize;
    let mut last_kill = Instant::now();
    let mut peak_rss_kib = 0u64;
    loop {
        t.collect(&s.broker).await;
        let done = t.completed.len() + t.failed.len();
        // Restart the broker at even shares of the way through; before the check for the
        // end, so a share reached while a restart or a kill held the loop still gets its
        // restart (the jobs then end after it).
        while restarted < restarts && done * (restarts + 1) >= jobs * (restarted + 1) {
            rabbit.restart().await;
            restarted += 1;
        }
        if t.completed.len() == good.len()
            && t.failed.len() == poison.len()
            && t.dead.len() == poison.len()
        {
            break;
        }
        assert!(
            started.elapsed() < deadline,
            "chaos: only {done} of {jobs} jobs ended after {:?} ({} completed, {} failed)",
            started.elapsed(),
            t.completed.len(),
            t.failed.len()
        );
        if chaos && last_kill.elapsed() >= kill_every {
            let victim = kills % workers.len();
            workers[victim].signal("KILL");
            workers[victim].wait(WAIT).await;
            workers[victim] = Worker::start(&s.dir, &s.env(&extra));
            kills += 1;
            last_kill = Instant::now();
        }
        for w in &workers {
            peak_rss_kib = peak_rss_kib.max(w.peak_rss_kib());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let elapsed = started.elapsed();
    // Late repeats (a redelivery already under way) still count.
    tokio::time::sleep(Duration::from_secs(3)).await;
    t.collect(&s.broker).await;

    let got: BTreeSet<String> = t.completed.keys().cloned().collect();
    assert_eq!(got, good, "every good job completed, none invented");
    let reported: BTreeSet<String> = t.failed.keys().cloned().collect();
    assert_eq!(
        reported, poison,
        "failure reports for the poison messages only"
    );
    let dead_set: BTreeSet<String> = t.dead.keys().cloned().collect();
    assert_eq!(dead_set, poison, "every poison message dead-lettered");
    let repeats: usize = t
        .completed
        .values()
        .chain(t.failed.values())
        .map(|n| n - 1)
        .sum();
    let dead_repeats: usize = t.dead.values().map(|n| n - 1).sum();
    // Each kill can repeat at most the jobs that worker had between publish and ack,
    // each broker stop at most every worker's jobs in flight.
    let bound = kills * CONCURRENCY + restarted * workers.len() * CONCURRENCY;
    eprintln!(
        "chaos: {jobs} jobs ({} poison) through 3 workers in {:.1} s ({:.0} jobs/min); \
         {} good completed, 0 lost, 0 good dead-lettered; \
         {restarted} broker restarts, {kills} SIGKILLs, {} storage faults injected by the \
         proxy; repeated results {repeats} (bound {bound}), repeated dead letters \
         {dead_repeats}; peak RSS of any worker {} KiB",
        poison.len(),
        elapsed.as_secs_f64(),
        jobs as f64 / elapsed.as_secs_f64() * 60.0,
        good.len(),
        s.proxy.as_ref().unwrap().injected(),
        peak_rss_kib
    );
    eprintln!("chaos: retries by kind: {}", retries_by_kind(&s.dir));
    assert!(
        repeats + dead_repeats <= bound,
        "repeats {repeats}+{dead_repeats} over {bound}"
    );
    assert!(
        restarted == restarts,
        "the broker restarted {restarted} times"
    );
    assert!(peak_rss_kib < 256 << 10, "RSS bounded: {peak_rss_kib} KiB");
    assert_eq!(rabbit.depth(&s.broker.queue).await, Some(0));
    // No work folder survives (killed workers' folders are swept by their successors).
    let work = s.dir.join("work");
    tokio::time::sleep(Duration::from_secs(1)).await;
    for w in &mut workers {
        w.signal("TERM");
        w.wait(WAIT).await;
    }
    let left: Vec<_> = std::fs::read_dir(&work)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    let stray: Vec<_> = left
        .iter()
        .filter(|n| n.to_string_lossy().starts_with("dashpack-job-"))
        .collect();
    assert!(stray.is_empty(), "work folders left: {stray:?}");
}

/// What the workers' logs (killed ones included) say they retried, by kind.
fn retries_by_kind(dir: &std::path::Path) -> String {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !(name.starts_with("worker-") && name.ends_with(".log")) {
            continue;
        }
        let text = std::fs::read_to_string(e.path()).unwrap_or_default();
        for line in text.lines() {
            let Ok(v) = serde_json::from_str::<Value>(line) else {
                continue;
            };
            let f = &v["fields"];
            let detail = f["detail"].as_str().unwrap_or("");
            let kind = match f["message"].as_str().unwrap_or("") {
                "retrying" if detail.starts_with("HTTP ") => "storage request answered 5xx/429",
                "retrying" if detail.contains("answer lost") || detail.contains("unreadable") => {
                    "storage answer cut"
                }
                "retrying" => "storage connection failed",
                m if m.starts_with("upload answer lost") => "upload answer cut, object matched",
                "job failed, will retry" => "job requeued after a transient failure",
                "message queued again" if f["why"] == "redelivered" => {
                    "redelivered (a kill or a lost connection)"
                }
                "broker connection lost" => "broker reconnect attempts",
                _ => continue,
            };
            *counts.entry(kind).or_default() += 1;
        }
    }
    counts
        .iter()
        .map(|(k, n)| format!("{k} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Results and dead letters seen so far, counted per job.
#[derive(Default)]
struct Tally {
    completed: BTreeMap<String, usize>,
    failed: BTreeMap<String, usize>,
    dead: BTreeMap<String, usize>,
}

impl Tally {
    /// Takes what the result and failed queues hold now (nothing while the broker is down).
    async fn collect(&mut self, b: &Broker) {
        for body in drain(&b.url, &b.result).await {
            let r: Value = serde_json::from_slice(&body).unwrap();
            if r["status"] == "COMPLETED" {
                let rid = r["video"]["resource_id"].as_str().unwrap().to_string();
                *self.completed.entry(rid).or_default() += 1;
            } else {
                let m = r["message"].as_str().unwrap().to_string();
                *self.failed.entry(m).or_default() += 1;
            }
        }
        for body in drain(&b.url, &b.failed).await {
            *self
                .dead
                .entry(String::from_utf8(body).unwrap())
                .or_default() += 1;
        }
    }
}
