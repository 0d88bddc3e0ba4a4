//! Infrastructure faults while jobs run, against the real RabbitMQ and the Cloud Storage
//! emulator: the broker connection cut mid-job, a full work disk, the worker killed at
//! each stage, and a soak of a few hundred good and poison messages through two
//! workers. Every accepted message must end as one complete presentation and one result,
//! or in the failed queue with an error: none lost, none duplicated.
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::time::{Duration, Instant};

use support::*;

#[tokio::test(flavor = "multi_thread")]
async fn broker_connection_cut_while_a_job_uploads() {
    let s = Setup::new(
        "cut-mid-job",
        Some(Faults {
            upload_delay: Duration::from_millis(150),
            ..Faults::default()
        }),
    )
    .await;
    let input = fixture("h264_aac.mp4");
    s.gcs.put(IN, "c.mp4", input.clone()).await;
    let relay = TcpCut::start("127.0.0.1:5672").await;
    let url = format!("amqp://guest:guest@127.0.0.1:{}/%2f", relay.port);
    let w = s
        .worker(&[("AMQP_URL", &url), ("CONCURRENCY_UPLOAD", "1")])
        .await;
    s.publish_job("cut", "c.mp4").await;
    s.proxy.as_ref().unwrap().first_upload().await;
    assert!(relay.cut() > 0);

    // The interrupted delivery came back and converged.
    s.assert_converged_once(&w, "cut", "c.mp4", "h264_aac.mp4")
        .await;
    s.broker.cleanup().await;
}

/// Answers cut mid-body (the request done, the answer unreadable): metadata and
/// downloads are asked again, and an upload is settled by asking for the object, never
/// failed as "unexpected answer".
#[tokio::test(flavor = "multi_thread")]
async fn answers_cut_mid_body_are_settled_not_failed() {
    let s = Setup::new(
        "cut-answers",
        Some(Faults {
            cut_answer_every: 3,
            ..Faults::default()
        }),
    )
    .await;
    let input = fixture("h264_aac.mp4");
    s.gcs.put(IN, "a.mp4", input).await;
    let w = s.worker(&[("DASHPACK_HTTP_ATTEMPTS", "20")]).await;
    s.publish_job("cut-answers", "a.mp4").await;
    s.assert_converged_once(&w, "cut-answers", "a.mp4", "h264_aac.mp4")
        .await;
    let log = w.log_text();
    assert!(
        log.contains("the stored object matches what was sent"),
        "no upload answer was cut and settled; log:\n{log}"
    );
    assert!(!log.contains("\"FAILED\""), "{log}");
    assert!(s.proxy.as_ref().unwrap().injected() > 0);
    s.broker.cleanup().await;
}

/// A bucket that answers every upload with 503: the job goes back to the queue after
/// each try (never to the failed queue early) and is dead-lettered, with the last
/// reason, once the delivery limit is reached.
#[tokio::test(flavor = "multi_thread")]
async fn uploads_failing_forever_reach_the_failed_queue_at_the_delivery_limit() {
    let s = Setup::new(
        "uploads-fail",
        Some(Faults {
            fail_uploads: true,
            ..Faults::default()
        }),
    )
    .await;
    s.gcs.put(IN, "f.mp4", fixture("video_low.mp4")).await;
    let w = s
        .worker(&[
            ("DASHPACK_MAX_DELIVERIES", "3"),
            ("DASHPACK_HTTP_ATTEMPTS", "2"),
        ])
        .await;
    s.publish_job("uploads-fail", "f.mp4").await;
    let dead = s.broker.take(&s.broker.failed, 1, WAIT).await;
    assert_eq!(dead.len(), 1, "log:\n{}", w.log_text());
    let reports = s.broker.results(1, WAIT).await;
    let error = reports[0]["error"].as_str().unwrap();
    assert!(
        error.contains("given up after 3 tries") && error.contains("503"),
        "{error}"
    );
    let log = w.log_text();
    assert_eq!(
        log.matches("\"job failed, will retry\"").count(),
        2,
        "{log}"
    );
    assert_eq!(s.broker.depth(&s.broker.queue).await, 0);
    s.broker.cleanup().await;
}

/// Mounts a tmpfs of `size` at `dir` (as root, or through passwordless sudo).
fn small_disk(dir: &std::path::Path, size: &str) -> Mount {
    std::fs::create_dir_all(dir).unwrap();
    let args = ["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"];
    let ok = Command::new("mount")
        .args(args)
        .arg(dir)
        .status()
        .is_ok_and(|s| s.success())
        || Command::new("sudo")
            .args(["-n", "mount"])
            .args(args)
            .arg(dir)
            .status()
            .is_ok_and(|s| s.success());
    assert!(
        ok,
        "cannot mount a tmpfs at {} (run as root)",
        dir.display()
    );
    Mount(dir.to_path_buf())
}

struct Mount(std::path::PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_work_disk_is_retried_then_dead_lettered() {
    let s = Setup::new("disk-full", None).await;
    let disk = s.dir.join("small-disk");
    let _mount = small_disk(&disk, "64k");
    s.gcs.put(IN, "big.mp4", fixture("h264_aac.mp4")).await;
    s.gcs.put(IN, "small.mp4", fixture("video_low.mp4")).await;
    let disk_path = disk.display().to_string();
    let w = s
        .worker(&[
            ("localStoragePath", &disk_path),
            ("DASHPACK_MAX_DELIVERIES", "3"),
        ])
        .await;
    s.publish_job("full", "big.mp4").await;

    let dead = s.broker.take(&s.broker.failed, 1, WAIT).await;
    assert_eq!(dead.len(), 1, "log:\n{}", w.log_text());
    let results = s.broker.results(1, WAIT).await;
    let error = results[0]["error"].as_str().unwrap();
    assert!(
        error.contains("given up after 3 tries") && error.contains("No space left on device"),
        "{error}"
    );
    // Each try counted; the disk is clean again afterwards.
    assert_eq!(w.log_text().matches("message queued again").count(), 2);
    let left: Vec<_> = std::fs::read_dir(&disk).unwrap().collect();
    assert!(left.is_empty(), "work files left: {left:?}");
    s.broker.cleanup().await;
}

/// SIGKILL in each stage the worker reports, held open by a slow link: DOWNLOADING
/// (a `moov`-first input arriving slowly), FRAGMENTING (a `moov`-last input: the
/// packager waits for the end of the file), ENCODING (segments uploading slowly) and
/// UPLOADING (the MPD upload held). A second worker then converges on the same folder.
#[tokio::test(flavor = "multi_thread")]
async fn killed_at_each_stage_the_next_worker_converges() {
    let slow_download = || Faults {
        download_delay_per_64k: Duration::from_millis(200),
        ..Faults::default()
    };
    let cases = [
        ("DOWNLOADING", "h264_aac.mp4", slow_download()),
        ("FRAGMENTING", "moov_at_end.mp4", slow_download()),
        (
            "ENCODING",
            "h264_aac.mp4",
            Faults {
                upload_delay: Duration::from_millis(150),
                ..Faults::default()
            },
        ),
        (
            "UPLOADING",
            "h264_aac.mp4",
            Faults {
                mpd_delay: Duration::from_secs(3),
                ..Faults::default()
            },
        ),
    ];
    for (stage, fixture_name, faults) in cases {
        let s = Setup::new(&format!("kill-{}", stage.to_lowercase()), Some(faults)).await;
        s.gcs.put(IN, "k.mp4", fixture(fixture_name)).await;
        let env = [("CONCURRENCY_UPLOAD", "1")];
        let mut first = s.worker(&env).await;
        s.publish_job("kill", "k.mp4").await;
        let proxy = s.proxy.as_ref().unwrap();
        let logged = |w: &Worker, state: &str| w.log_text().contains(&format!("\"{state}\""));
        match stage {
            "DOWNLOADING" | "FRAGMENTING" => {
                wait_until(stage, WAIT, || logged(&first, stage)).await;
                tokio::time::sleep(Duration::from_millis(300)).await;
                assert!(!logged(&first, "ENCODING"), "{stage}: no segment yet");
                assert_eq!(proxy.uploads(), 0, "{stage}: nothing uploaded yet");
            }
            "ENCODING" => {
                wait_until(stage, WAIT, || logged(&first, stage)).await;
                assert_eq!(proxy.mpd_uploads(), 0, "segments still going up");
            }
            _ => wait_until("the MPD upload", WAIT, || proxy.mpd_uploads() > 0).await,
        }
        assert!(logged(&first, stage), "{stage} reached");
        first.signal("KILL");
        first.wait(WAIT).await;
        let second = s.worker(&env).await;
        s.assert_converged_once(&second, "kill", "k.mp4", fixture_name)
            .await;
        s.broker.cleanup().await;
    }
}

/// A few hundred jobs, one in five poison, through two workers: every message ends as
/// exactly one result (completed or failed) and every poison message in the failed
/// queue. Prints jobs per minute and each worker's peak memory.
#[tokio::test(flavor = "multi_thread")]
async fn soak_two_workers_hundreds_of_jobs() {
    let jobs: usize = std::env::var("SOAK_JOBS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let s = Setup::new("soak", None).await;
    s.gcs.put(IN, "clip.mp4", fixture("video_low.mp4")).await;
    let env = [("CONCURRENCY_WORKERS", "2")];
    let workers = [s.worker(&env).await, s.worker(&env).await];
    let started = Instant::now();
    let mut poison = BTreeSet::new();
    for i in 0..jobs {
        let id = format!("soak-{i}");
        if i % 5 == 4 {
            let body = if i % 10 == 4 {
                format!("{{\"resource_id\":\"{id}\"}}")
            } else {
                format!("{{\"resource_id\":\"{id}\",\"file_path\":\"../{id}\"}}")
            };
            s.broker.publish(body.as_bytes()).await;
            poison.insert(body);
        } else {
            s.publish_job(&id, "clip.mp4").await;
        }
    }
    let results = s.broker.results(jobs, Duration::from_secs(300)).await;
    let elapsed = started.elapsed();
    assert_eq!(results.len(), jobs, "results missing");
    let mut completed: BTreeMap<String, usize> = BTreeMap::new();
    let mut failed = BTreeSet::new();
    for r in &results {
        if r["status"] == "COMPLETED" {
            *completed
                .entry(r["video"]["resource_id"].as_str().unwrap().to_string())
                .or_default() += 1;
        } else {
            failed.insert(r["message"].as_str().unwrap().to_string());
        }
    }
    assert_eq!(
        completed.len(),
        jobs - poison.len(),
        "every good job completed"
    );
    assert!(
        completed.values().all(|&n| n == 1),
        "a result was duplicated"
    );
    assert_eq!(failed, poison, "every poison message reported once");
    let dead: BTreeSet<String> = s
        .broker
        .take(&s.broker.failed, poison.len(), WAIT)
        .await
        .into_iter()
        .map(|b| String::from_utf8(b).unwrap())
        .collect();
    assert_eq!(dead, poison, "every poison message dead-lettered");
    let objects = s.gcs.list(OUT, "").await;
    let mpds = objects
        .keys()
        .filter(|k| k.ends_with("/stream.mpd"))
        .count();
    assert_eq!(mpds, completed.len(), "one presentation per good job");
    let peaks: Vec<u64> = workers.iter().map(Worker::peak_rss_kib).collect();
    eprintln!(
        "soak: {jobs} jobs ({} poison) through 2 workers in {:.1} s: {:.0} jobs/min; \
         peak RSS per worker {:?} KiB",
        poison.len(),
        elapsed.as_secs_f64(),
        jobs as f64 / elapsed.as_secs_f64() * 60.0,
        peaks
    );
    for w in &workers {
        assert!(w.log_text().contains("COMPLETED"), "both workers took jobs");
    }
    s.broker.cleanup().await;
}

/// The `dashpack-job-*` entries (folders and lock files) in a work folder.
fn job_entries(work: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(work)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with("dashpack-job-"))
                .collect()
        })
        .unwrap_or_default()
}

/// A worker killed mid-download leaves its folder; the next worker to start on the same
/// work folder removes it before taking a job. A second stop signal exits at once and
/// removes the folders of the jobs it abandons.
#[tokio::test(flavor = "multi_thread")]
async fn dead_jobs_folders_are_swept_and_a_second_signal_leaves_none() {
    let s = Setup::new(
        "sweep",
        Some(Faults {
            download_delay_per_64k: Duration::from_millis(300),
            ..Faults::default()
        }),
    )
    .await;
    s.gcs.put(IN, "k.mp4", fixture("h264_aac.mp4")).await;
    let work = s.dir.join("work");
    let mut first = s.worker(&[]).await;
    s.publish_job("sweep", "k.mp4").await;
    wait_until("DOWNLOADING", WAIT, || {
        first.log_text().contains("\"DOWNLOADING\"")
    })
    .await;
    first.signal("KILL");
    first.wait(WAIT).await;
    let left = job_entries(&work);
    assert_eq!(left.len(), 2, "a folder and its lock file: {left:?}");
    // An unrelated file in the same folder is never touched.
    std::fs::write(work.join("keep-me.mp4"), b"x").unwrap();

    let mut second = s.worker(&[]).await;
    wait_until("the sweep at start", WAIT, || {
        second
            .log_text()
            .contains("removed work folders of ended jobs")
    })
    .await;
    for name in &left {
        assert!(!work.join(name).exists(), "{name} swept at start");
    }
    // The killed job comes back to the second worker (slowly); stop it twice mid-download.
    wait_until("the job again", WAIT, || {
        second.log_text().contains("\"DOWNLOADING\"")
    })
    .await;
    assert_eq!(
        job_entries(&work).len(),
        2,
        "the live job's folder and lock"
    );
    second.signal("TERM");
    tokio::time::sleep(Duration::from_millis(300)).await;
    second.signal("TERM");
    let status = second.wait(WAIT).await;
    assert_eq!(status.code(), Some(130));
    assert!(
        job_entries(&work).is_empty(),
        "left: {:?}\n{}",
        job_entries(&work),
        second.log_text()
    );
    assert!(work.join("keep-me.mp4").exists());
    s.broker.cleanup().await;
}

/// Hundreds of connections to `/metrics` that never finish their request headers,
/// against a worker with a small descriptor limit: they are capped and timed out, and a
/// job still runs without a single EMFILE. Only GET and HEAD are answered.
#[tokio::test(flavor = "multi_thread")]
async fn idle_metrics_connections_cannot_starve_jobs() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let s = Setup::new("idle-http", None).await;
    s.gcs.put(IN, "a.mp4", fixture("video_low.mp4")).await;
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let w = s.worker(&[("DASHPACK_METRICS_ADDR", &addr)]).await;
    let limited = Command::new("prlimit")
        .args(["--nofile=160:160", "--pid", &w.pid().to_string()])
        .status()
        .unwrap();
    assert!(limited.success());

    let mut idle = Vec::new();
    for _ in 0..300 {
        let Ok(mut c) = tokio::net::TcpStream::connect(&addr).await else {
            continue;
        };
        let _ = c.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n").await;
        idle.push(c);
    }
    let fds = std::fs::read_dir(format!("/proc/{}/fd", w.pid()))
        .unwrap()
        .count();
    assert!(fds < 120, "{fds} descriptors open with 300 idle clients");

    s.publish_job("idle-http", "a.mp4").await;
    let r = s.broker.results(1, WAIT).await;
    assert_eq!(r.len(), 1, "log:\n{}", w.log_text());
    assert_completed(&r[0], "idle-http", "a.mp4");
    assert!(!w.log_text().contains("Too many open files"));

    // The held ones are closed once their header time is up.
    let mut closed = 0;
    for c in idle.iter_mut().take(40) {
        let mut buf = [0u8; 256];
        // EOF, a 408, or a reset (a socket closed with our bytes unread): not held.
        match tokio::time::timeout(Duration::from_secs(15), c.read(&mut buf)).await {
            Ok(Ok(n)) => closed += usize::from(n == 0 || buf.starts_with(b"HTTP/1.1 408")),
            Ok(Err(_)) => closed += 1,
            Err(_) => {}
        }
    }
    assert_eq!(closed, 40, "idle connections are closed by the worker");
    drop(idle);

    let http = reqwest::Client::new();
    let url = format!("http://{addr}");
    let get = http.get(format!("{url}/metrics")).send().await.unwrap();
    assert_eq!(get.status(), 200);
    assert!(get.text().await.unwrap().contains("dashpack_jobs_total"));
    assert_eq!(
        http.get(format!("{url}/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let post = http.post(format!("{url}/metrics")).send().await.unwrap();
    assert_eq!(post.status(), 405);
    assert_eq!(post.headers()["allow"], "GET, HEAD");
    s.broker.cleanup().await;
}
