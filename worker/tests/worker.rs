//! The queue worker end to end against a real RabbitMQ and the Cloud Storage emulator:
//! the old service's messages in, its result JSON out, objects that equal what
//! `dashpack package` writes locally, and the failure paths that lose nothing.
#![allow(clippy::unwrap_used)]

mod support;

use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::time::Duration;

use serde_json::{Value, json};
use support::*;

#[tokio::test(flavor = "multi_thread")]
async fn three_videos_at_once_end_to_end() {
    // Slow uploads make the three jobs overlap.
    let s = Setup::new(
        "three",
        Some(Faults {
            upload_delay: Duration::from_millis(100),
            ..Faults::default()
        }),
    )
    .await;
    let inputs = [
        ("uploads/a.mp4", "h264_aac.mp4"),
        ("uploads/b b.mp4", "hevc_aac.mp4"),
        ("c.m4a", "audio_only.m4a"),
    ];
    for (object, fixture_name) in inputs {
        s.gcs.put(IN, object, fixture(fixture_name)).await;
    }
    let metrics = free_port();
    let metrics_addr = format!("127.0.0.1:{metrics}");
    let mut w = s
        .worker(&[
            ("CONCURRENCY_WORKERS", "3"),
            ("DASHPACK_METRICS_ADDR", &metrics_addr),
        ])
        .await;
    // One message through `dashpack enqueue`, as an operator would send it.
    let enq = Command::new(env!("CARGO_BIN_EXE_dashpack"))
        .args(["enqueue", "--resource-id", "client-a", "uploads/a.mp4"])
        .current_dir(&s.dir)
        .envs(s.env(&[]))
        .output()
        .unwrap();
    assert!(
        enq.status.success(),
        "{}",
        String::from_utf8_lossy(&enq.stderr)
    );
    let printed: Value = serde_json::from_slice(&enq.stdout).unwrap();
    s.publish_job("client-b", "uploads/b b.mp4").await;
    s.publish_job("client-c", "c.m4a").await;

    let results = s.broker.results(3, WAIT).await;
    assert_eq!(results.len(), 3, "log:\n{}", w.log_text());
    for (object, fixture_name) in inputs {
        let r = results
            .iter()
            .find(|r| r["video"]["file_path"] == object)
            .unwrap();
        let rid = r["video"]["resource_id"].as_str().unwrap();
        let folder = assert_completed(r, rid, object);
        if object == "uploads/a.mp4" {
            assert_eq!(r["job_id"], printed["job_id"]);
            assert_eq!(folder, printed["video_id"].as_str().unwrap());
        }
        s.assert_output_matches(&folder, &fixture(fixture_name), fixture_name)
            .await;
        let local = s.dir.join(format!("download-{fixture_name}"));
        assert!(s.gcs.download_folder(OUT, &folder, &local).await > 2);
        ffmpeg_decodes(&local.join("stream.mpd"));
    }

    // The three jobs ran side by side: all started before the first finished.
    let log = w.log_text();
    let first_done = log.find("\"COMPLETED\"").unwrap();
    assert_eq!(
        log[..first_done].matches("\"STARTING\"").count(),
        3,
        "{log}"
    );

    let http = reqwest::Client::new();
    let health = http
        .get(format!("http://{metrics_addr}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let text = http
        .get(format!("http://{metrics_addr}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("dashpack_jobs_total{outcome=\"completed\"} 3"),
        "{text}"
    );
    assert!(text.contains("dashpack_job_stage_seconds_count{stage=\"package\"} 3"));
    assert!(text.contains("dashpack_jobs_in_flight 0"));

    w.signal("TERM");
    assert!(w.wait(WAIT).await.success());
    assert_eq!(s.broker.depth(&s.broker.queue).await, 0);
    let leftovers: Vec<_> = std::fs::read_dir(s.dir.join("work")).unwrap().collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
    s.broker.cleanup().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn poison_messages_are_dead_lettered_and_the_worker_keeps_serving() {
    let s = Setup::new("poison", None).await;
    s.gcs
        .put(IN, "notes.txt", b"not a video at all".to_vec())
        .await;
    s.gcs.put(IN, "good.mp4", fixture("video_low.mp4")).await;
    // A track that cannot be carried: a permanent failure naming it, never a silent
    // presentation without it.
    s.gcs
        .put(IN, "unknown.mp4", fixture("malformed/unknown-codecs.mp4"))
        .await;
    let mut w = s.worker(&[]).await;
    let poison: Vec<(Vec<u8>, &str)> = vec![
        (b"this is not json".to_vec(), "invalid job message"),
        (
            br#"{"resource_id":"r1"}"#.to_vec(),
            "missing field `file_path`",
        ),
        (
            br#"{"resource_id":"r2","file_path":"missing.mp4"}"#.to_vec(),
            "gs://in-bucket/missing.mp4: no such object",
        ),
        (
            br#"{"resource_id":"r3","file_path":"notes.txt"}"#.to_vec(),
            "gs://in-bucket/notes.txt",
        ),
        (
            br#"{"resource_id":"r4","file_path":"../../etc/passwd"}"#.to_vec(),
            "invalid file_path",
        ),
        (
            br#"{"resource_id":"r7","file_path":"unknown.mp4"}"#.to_vec(),
            "track 1 (vide, 'zzzz') cannot be carried",
        ),
        (
            br#"{"resource_id":"r5","file_path":"/etc/passwd"}"#.to_vec(),
            "not a relative path",
        ),
    ];
    for (body, _) in &poison {
        s.broker.publish(body).await;
    }
    s.publish_job("r6", "good.mp4").await;

    let results = s.broker.results(poison.len() + 1, WAIT).await;
    assert_eq!(results.len(), poison.len() + 1, "log:\n{}", w.log_text());
    for (body, want) in &poison {
        let body = String::from_utf8(body.clone()).unwrap();
        let f = results
            .iter()
            .find(|r| r["message"] == body.as_str())
            .unwrap_or_else(|| panic!("no failure message for {body}"));
        let error = f["error"].as_str().unwrap();
        assert!(error.contains(want), "{error:?} should say {want:?}");
    }
    let ok = results.iter().find(|r| r.get("status").is_some()).unwrap();
    assert_completed(ok, "r6", "good.mp4");

    let dead = s.broker.take(&s.broker.failed, poison.len(), WAIT).await;
    let mut dead: Vec<_> = dead.into_iter().collect();
    let mut want: Vec<_> = poison.iter().map(|(b, _)| b.clone()).collect();
    dead.sort();
    want.sort();
    assert_eq!(dead, want, "the originals are dead-lettered, unchanged");
    assert!(w.running(), "the worker is still running");
    s.broker.cleanup().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn storage_faults_are_retried_and_the_job_completes() {
    let s = Setup::new(
        "faults",
        Some(Faults {
            fail_every: 4,
            cut_download_once: AtomicBool::new(true),
            cut_upload_at_least: AtomicU64::new(1),
            ..Faults::default()
        }),
    )
    .await;
    let input = fixture("h264_aac.mp4");
    s.gcs.put(IN, "in.mp4", input.clone()).await;
    let w = s.worker(&[("DASHPACK_RESUMABLE_THRESHOLD", "40000")]).await;
    s.publish_job("faulty", "in.mp4").await;
    let results = s.broker.results(1, WAIT).await;
    assert_eq!(results.len(), 1, "log:\n{}", w.log_text());
    let folder = assert_completed(&results[0], "faulty", "in.mp4");
    let proxy = s.proxy.as_ref().unwrap();
    assert!(
        proxy.injected() >= 4,
        "faults injected: {}",
        proxy.injected()
    );
    assert!(w.log_text().contains("retrying"));
    s.assert_output_matches(&folder, &input, "h264_aac.mp4")
        .await;
    s.broker.cleanup().await;
}

/// A bigger input, made here with ffmpeg: its segments go up in several resumable
/// requests, one connection is dropped mid-session, and the worker's memory stays small.
#[tokio::test(flavor = "multi_thread")]
async fn large_input_goes_up_resumably_in_bounded_memory() {
    let s = Setup::new(
        "large",
        Some(Faults {
            cut_upload_at_least: AtomicU64::new(256 * 1024),
            ..Faults::default()
        }),
    )
    .await;
    let src = s.dir.join("large.mp4");
    let made = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg("testsrc2=size=640x360:rate=25,noise=alls=40:allf=t")
        .args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"])
        .args([
            "-t",
            "16",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-b:v",
            "8M",
        ])
        .args(["-g", "50", "-c:a", "aac", "-b:a", "128k"])
        .arg(&src)
        .status()
        .unwrap();
    assert!(made.success());
    let input = std::fs::read(&src).unwrap();
    assert!(input.len() > 8 << 20, "input is {} bytes", input.len());
    s.gcs.put(IN, "big/large.mp4", input.clone()).await;
    let w = s
        .worker(&[
            ("DASHPACK_RESUMABLE_THRESHOLD", "300000"),
            ("DASHPACK_UPLOAD_CHUNK_SIZE", "262144"),
            ("CONCURRENCY_UPLOAD", "4"),
        ])
        .await;
    s.publish_job("large", "big/large.mp4").await;
    let results = s.broker.results(1, WAIT).await;
    assert_eq!(results.len(), 1, "log:\n{}", w.log_text());
    let folder = assert_completed(&results[0], "large", "big/large.mp4");
    let peak = w.peak_rss_kib();
    eprintln!(
        "large input: {} bytes, worker peak RSS {} KiB ({:.1} MiB)",
        input.len(),
        peak,
        peak as f64 / 1024.0
    );
    assert!(peak > 0 && peak < 160 * 1024, "peak RSS {peak} KiB");
    assert_eq!(s.proxy.as_ref().unwrap().injected(), 1);
    s.assert_output_matches(&folder, &input, "large.mp4").await;
    s.broker.cleanup().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_killed_worker_leaves_the_job_to_the_next_one() {
    let s = Setup::new(
        "sigkill",
        Some(Faults {
            upload_delay: Duration::from_millis(150),
            ..Faults::default()
        }),
    )
    .await;
    let input = fixture("h264_aac.mp4");
    s.gcs.put(IN, "k.mp4", input.clone()).await;
    let slow = [("CONCURRENCY_UPLOAD", "1")];
    let mut first = s.worker(&slow).await;
    s.publish_job("killed", "k.mp4").await;
    s.proxy.as_ref().unwrap().first_upload().await;
    // The second worker already runs when the first dies (its start-up sweep cannot
    // take the first's folder, still locked): the sweep before its next job must.
    let second = Worker::start(&s.dir, &s.env(&slow));
    let start = std::time::Instant::now();
    while !second.log_text().contains("\"consuming\"") {
        assert!(start.elapsed() < WAIT, "log:\n{}", second.log_text());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let pid = format!("-{}-", first.pid());
    let of_first = || {
        std::fs::read_dir(s.dir.join("work"))
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().contains(&pid))
            .count()
    };
    assert!(of_first() > 0, "the first worker has no job folder");
    first.signal("KILL");
    first.wait(WAIT).await;

    // Nothing repeated, nothing dead-lettered, nothing left behind.
    s.assert_converged_once(&second, "killed", "k.mp4", "h264_aac.mp4")
        .await;
    let leftovers: Vec<_> = std::fs::read_dir(s.dir.join("work")).unwrap().collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
    s.broker.cleanup().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_message_that_keeps_killing_workers_is_dead_lettered() {
    let s = Setup::new(
        "crashloop",
        Some(Faults {
            upload_delay: Duration::from_millis(150),
            ..Faults::default()
        }),
    )
    .await;
    s.gcs.put(IN, "loop.mp4", fixture("h264_aac.mp4")).await;
    let env = [
        ("CONCURRENCY_UPLOAD", "1"),
        ("DASHPACK_MAX_DELIVERIES", "2"),
    ];
    let proxy = s.proxy.as_ref().unwrap();
    for round in 0..2 {
        let before = proxy.uploads();
        let mut w = s.worker(&env).await;
        if round == 0 {
            s.publish_job("crashy", "loop.mp4").await;
        }
        wait_until("an upload", WAIT, || proxy.uploads() > before).await;
        w.signal("KILL");
        w.wait(WAIT).await;
    }
    let w = s.worker(&env).await;
    let dead = s.broker.take(&s.broker.failed, 1, WAIT).await;
    assert_eq!(dead.len(), 1, "log:\n{}", w.log_text());
    let results = s.broker.results(1, WAIT).await;
    let error = results[0]["error"].as_str().unwrap();
    assert!(error.contains("given up after 2 deliveries"), "{error}");
    s.broker.cleanup().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_lets_the_job_finish_then_exits_zero() {
    let s = Setup::new(
        "sigterm",
        Some(Faults {
            upload_delay: Duration::from_millis(150),
            ..Faults::default()
        }),
    )
    .await;
    s.gcs.put(IN, "t.mp4", fixture("h264_aac.mp4")).await;
    let mut w = s.worker(&[("CONCURRENCY_UPLOAD", "1")]).await;
    s.publish_job("term", "t.mp4").await;
    s.proxy.as_ref().unwrap().first_upload().await;
    w.signal("TERM");
    let status = w.wait(WAIT).await;
    assert!(status.success(), "exit {status:?}; log:\n{}", w.log_text());
    let results = s.broker.results(1, Duration::from_secs(5)).await;
    assert_eq!(results.len(), 1);
    let folder = assert_completed(&results[0], "term", "t.mp4");
    assert!(
        s.gcs
            .list(OUT, &format!("{folder}/stream.mpd"))
            .await
            .contains_key(&format!("{folder}/stream.mpd"))
    );
    assert_eq!(s.broker.depth(&s.broker.queue).await, 0);
    s.broker.cleanup().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn service_account_tokens_reach_every_request_and_never_the_log() {
    let s = Setup::new("oauth", Some(Faults::default())).await;
    let token_server = TokenServer::start().await;
    let key = s.dir.join("key.pem");
    let made = Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
        ])
        .arg(&key)
        .status()
        .unwrap();
    assert!(made.success());
    let pem = std::fs::read_to_string(&key).unwrap();
    let creds = s.dir.join("service-account.json");
    std::fs::write(
        &creds,
        json!({
            "type": "service_account",
            "project_id": "test-project",
            "private_key_id": "k1",
            "private_key": pem,
            "client_email": "worker@test-project.iam.gserviceaccount.com",
            "client_id": "1",
            "auth_uri": "http://127.0.0.1/auth",
            "token_uri": format!("{}/token", token_server.url),
        })
        .to_string(),
    )
    .unwrap();
    s.gcs.put(IN, "sa.mp4", fixture("video_low.mp4")).await;
    let mut env = s.env(&[]);
    env.retain(|(k, _)| k != "STORAGE_EMULATOR_HOST");
    env.push(("DASHPACK_GCS_ENDPOINT".into(), s.endpoint()));
    env.push((
        "GOOGLE_APPLICATION_CREDENTIALS".into(),
        creds.display().to_string(),
    ));
    let w = Worker::start(&s.dir, &env);
    s.broker.wait_for_queue(&w).await;
    s.publish_job("sa", "sa.mp4").await;
    let results = s.broker.results(1, WAIT).await;
    assert_eq!(results.len(), 1, "log:\n{}", w.log_text());
    assert_completed(&results[0], "sa", "sa.mp4");

    let auth = s.proxy.as_ref().unwrap().authorization();
    assert!(auth.len() > 3);
    for a in &auth {
        assert_eq!(a, &format!("Bearer {}", TokenServer::TOKEN));
    }
    let assertion = token_server.assertion();
    assert_eq!(assertion.split('.').count(), 3, "a signed JWT: {assertion}");
    let log = w.log_text();
    assert!(!log.contains(TokenServer::TOKEN), "token in the log");
    assert!(!log.contains("PRIVATE KEY"), "key in the log");
    s.broker.cleanup().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_configuration_and_conflicting_queues_stop_start_up() {
    let s = Setup::new("startup", None).await;
    let mut env = s.env(&[]);
    env.retain(|(k, _)| k != "inputBucketName");
    let mut w = Worker::start(&s.dir, &env);
    assert_eq!(w.wait(WAIT).await.code(), Some(1));
    let log = w.log_text();
    assert!(
        log.contains("dashpack: error: configuration: inputBucketName: required, not set"),
        "{log}"
    );

    // A job queue that exists without the dead-letter exchange.
    let ch = s.broker.conn.create_channel().await.unwrap();
    ch.queue_declare(
        s.broker.queue.as_str().into(),
        lapin::options::QueueDeclareOptions::durable(),
        Default::default(),
    )
    .await
    .unwrap();
    let mut w = Worker::start(&s.dir, &s.env(&[]));
    assert_eq!(w.wait(WAIT).await.code(), Some(1));
    let log = w.log_text();
    assert!(
        log.contains(&format!("queue {:?}", s.broker.queue)) && log.contains("PRECONDITION"),
        "{log}"
    );
    s.broker.cleanup().await;
}

/// Over a slow link, segments of a `moov`-first input are uploaded before its download
/// ends; a `moov`-last input has to wait for the whole file, and both come out whole.
#[tokio::test(flavor = "multi_thread")]
async fn packaging_and_uploads_overlap_the_download() {
    for (fixture_name, overlaps) in [("h264_aac.mp4", true), ("moov_at_end.mp4", false)] {
        let s = Setup::new(
            &format!("overlap-{overlaps}"),
            Some(Faults {
                download_delay_per_64k: Duration::from_millis(100),
                ..Faults::default()
            }),
        )
        .await;
        let input = fixture(fixture_name);
        s.gcs.put(IN, "o.mp4", input.clone()).await;
        let w = s.worker(&[]).await;
        s.publish_job("overlap", "o.mp4").await;
        let results = s.broker.results(1, WAIT).await;
        assert_eq!(results.len(), 1, "{}", w.log_text());
        let folder = assert_completed(&results[0], "overlap", "o.mp4");
        s.assert_output_matches(&folder, &input, fixture_name).await;
        let (first_upload, download_done) = s.proxy.as_ref().unwrap().timeline();
        let (first_upload, download_done) = (first_upload.unwrap(), download_done.unwrap());
        assert_eq!(
            first_upload < download_done,
            overlaps,
            "{fixture_name}: first upload {:?} after the download ended",
            first_upload.checked_duration_since(download_done)
        );
        // The job's wall time against its download time, from the worker's log.
        let log = w.log_text();
        let seconds = |message: &str| -> f64 {
            let line = log.lines().find(|l| l.contains(message)).unwrap();
            let v: Value = serde_json::from_str(line).unwrap();
            v["fields"]["seconds"].as_f64().unwrap()
        };
        eprintln!(
            "{fixture_name}: download {:.3} s, whole job to the last upload {:.3} s",
            seconds("\"downloaded\""),
            seconds("\"uploaded\"")
        );
        s.broker.cleanup().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lost_broker_connection_is_regained() {
    let s = Setup::new("reconnect", None).await;
    s.gcs.put(IN, "r.mp4", fixture("video_low.mp4")).await;
    let relay = TcpCut::start("127.0.0.1:5672").await;
    let url = format!("amqp://guest:guest@127.0.0.1:{}/%2f", relay.port);
    let metrics_addr = format!("127.0.0.1:{}", free_port());
    let w = s
        .worker(&[("AMQP_URL", &url), ("DASHPACK_METRICS_ADDR", &metrics_addr)])
        .await;
    let health = || async {
        reqwest::get(format!("http://{metrics_addr}/healthz"))
            .await
            .map(|r| r.status().as_u16())
            .unwrap_or(0)
    };
    s.publish_job("before", "r.mp4").await;
    assert_eq!(s.broker.results(1, WAIT).await.len(), 1, "{}", w.log_text());
    assert_eq!(health().await, 200);

    assert!(relay.cut() > 0);
    let mut saw_down = false;
    let start = std::time::Instant::now();
    while start.elapsed() < WAIT {
        match health().await {
            200 if saw_down => break,
            503 => saw_down = true,
            _ => {}
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(saw_down, "health never reported the lost connection");
    assert_eq!(
        health().await,
        200,
        "not reconnected; log:\n{}",
        w.log_text()
    );
    s.publish_job("after", "r.mp4").await;
    let results = s.broker.results(1, WAIT).await;
    assert_eq!(results.len(), 1, "{}", w.log_text());
    assert_completed(&results[0], "after", "r.mp4");
    assert!(w.log_text().contains("broker connection lost"));
    s.broker.cleanup().await;
}

/// A loopback OAuth token endpoint for the service-account (JWT bearer) flow.
struct TokenServer {
    url: String,
    assertion: std::sync::Arc<std::sync::Mutex<String>>,
}

impl TokenServer {
    const TOKEN: &'static str = "ya29.test-token-5f1c";

    async fn start() -> TokenServer {
        use http_body_util::BodyExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let assertion = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let seen = assertion.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let seen = seen.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(
                        move |req: hyper::Request<hyper::body::Incoming>| {
                            let seen = seen.clone();
                            async move {
                                let body = req.into_body().collect().await?.to_bytes();
                                let form = String::from_utf8_lossy(&body).into_owned();
                                if let Some(a) =
                                    form.split('&').find_map(|kv| kv.strip_prefix("assertion="))
                                {
                                    *seen.lock().unwrap() = a.to_string();
                                }
                                let answer = json!({
                                    "access_token": TokenServer::TOKEN,
                                    "expires_in": 3600,
                                    "token_type": "Bearer",
                                });
                                let mut r = hyper::Response::new(http_body_util::Full::new(
                                    bytes::Bytes::from(answer.to_string()),
                                ));
                                r.headers_mut().insert(
                                    hyper::header::CONTENT_TYPE,
                                    "application/json".parse().unwrap(),
                                );
                                Ok::<_, hyper::Error>(r)
                            }
                        },
                    );
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        TokenServer { url, assertion }
    }

    fn assertion(&self) -> String {
        self.assertion.lock().unwrap().clone()
    }
}

/// `DASHPACK_REPORT=1`: the presentation is published as without it, plus `report.html`,
/// drawn from the uploaded files (one chart bar per segment object, with its size) and
/// uploaded after the MPD; the work folder is gone afterwards.
#[tokio::test(flavor = "multi_thread")]
async fn the_report_is_uploaded_last_beside_the_presentation() {
    let s = Setup::new("report", None).await;
    let input = fixture("h264_aac.mp4");
    s.gcs.put(IN, "in.mp4", input.clone()).await;
    let w = s.worker(&[("DASHPACK_REPORT", "1")]).await;
    s.publish_job("reported", "in.mp4").await;
    let results = s.broker.results(1, WAIT).await;
    assert_eq!(results.len(), 1, "log:\n{}", w.log_text());
    let folder = assert_completed(&results[0], "reported", "in.mp4");
    let objects = s.gcs.list(OUT, &format!("{folder}/")).await;
    let report_key = format!("{folder}/report.html");
    let meta = objects.get(&report_key).expect("report.html uploaded");
    assert_eq!(meta["contentType"], "text/html; charset=utf-8");
    let html = String::from_utf8(s.gcs.get(OUT, &report_key).await).unwrap();
    let segments: Vec<(&String, &Value)> = objects
        .iter()
        .filter(|(k, _)| k.ends_with(".m4s"))
        .collect();
    assert!(!segments.is_empty());
    assert_eq!(html.matches("<rect class=\"bar").count(), segments.len());
    for (key, meta) in &segments {
        let rel = key.strip_prefix(&format!("{folder}/")).unwrap();
        let size = meta["size"].as_str().unwrap();
        assert!(
            html.contains(&format!("data-file=\"{rel}\" data-bytes=\"{size}\"")),
            "{rel} ({size} bytes) not charted"
        );
    }
    assert!(html.contains("Findings: 0 warning(s)"), "{html}");
    // Uploaded last: no object of the presentation was created after it.
    let created = |m: &Value| m["timeCreated"].as_str().unwrap().to_string();
    let last = objects.values().map(created).max().unwrap();
    assert_eq!(created(meta), last);
    // Apart from the report, exactly what local packaging makes.
    let mut without = objects.clone();
    without.remove(&report_key);
    let local_in = s.dir.join("ref-in.mp4");
    std::fs::write(&local_in, &input).unwrap();
    let want = package_locally(&local_in, &s.dir.join("ref-out"));
    let names: Vec<String> = without
        .keys()
        .map(|k| k.strip_prefix(&format!("{folder}/")).unwrap().to_string())
        .collect();
    assert_eq!(names, want.keys().cloned().collect::<Vec<_>>());
    let left: Vec<_> = std::fs::read_dir(s.dir.join("work"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "left in the work folder: {left:?}");
    s.broker.cleanup().await;
}

/// A broker that accepts the connection and then says nothing (a half-open link, a
/// proxy whose backend hangs) must not hold the worker past a stop request.
#[tokio::test(flavor = "multi_thread")]
async fn sigterm_while_the_broker_is_silent_exits_promptly() {
    let s = Setup::new("silent", None).await;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // Accepts, keeps every connection open, never writes a byte.
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for c in listener.incoming().flatten() {
            held.push(c);
        }
    });
    let url = format!("amqp://guest:guest@127.0.0.1:{port}/%2f");
    let mut w = Worker::start(&s.dir, &s.env(&[("AMQP_URL", &url)]));
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(w.running(), "log:\n{}", w.log_text());
    w.signal("TERM");
    let status = w.wait(Duration::from_secs(10)).await;
    assert!(status.success(), "exit {status:?}; log:\n{}", w.log_text());
}

/// Sidecar subtitles beside the video (`NAME.LANG.vtt`, `NAME.LANG.srt`) are published
/// with it; other objects sharing the prefix are not; a sidecar that is neither WebVTT
/// nor SubRip fails the job, naming the object.
#[tokio::test(flavor = "multi_thread")]
async fn sidecar_subtitles_beside_the_video_are_published() {
    let s = Setup::new("sidecars", None).await;
    s.gcs
        .put(IN, "films/clip.mp4", fixture("video_low.mp4"))
        .await;
    let vtt = "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nHello\n";
    let srt = "1\r\n00:00:01,000 --> 00:00:02,000\r\nBonjour\r\n";
    s.gcs
        .put(IN, "films/clip.en.vtt", vtt.as_bytes().to_vec())
        .await;
    s.gcs
        .put(IN, "films/clip.fr.srt", srt.as_bytes().to_vec())
        .await;
    // Not sidecars of films/clip.mp4: another extension, another video's, a backup.
    s.gcs.put(IN, "films/clip.de.txt", b"x".to_vec()).await;
    s.gcs
        .put(IN, "films/clip2.es.vtt", vtt.as_bytes().to_vec())
        .await;
    s.gcs.put(IN, "films/clip.mp4.bak", b"x".to_vec()).await;
    let w = s.worker(&[]).await;
    s.publish_job("sidecars", "films/clip.mp4").await;
    let results = s.broker.results(1, WAIT).await;
    assert_eq!(results.len(), 1, "log:\n{}", w.log_text());
    let folder = assert_completed(&results[0], "sidecars", "films/clip.mp4");
    let objects = s.gcs.list(OUT, &format!("{folder}/")).await;
    let texts: Vec<&String> = objects.keys().filter(|k| k.ends_with(".vtt")).collect();
    assert_eq!(texts.len(), 2, "{:?}", objects.keys());
    for k in &texts {
        assert_eq!(objects[*k]["contentType"], "text/vtt");
    }
    let mpd = String::from_utf8(s.gcs.get(OUT, &format!("{folder}/stream.mpd")).await).unwrap();
    assert!(
        mpd.contains("lang=\"en\"") && mpd.contains("lang=\"fr\"") && !mpd.contains("lang=\"es\""),
        "{mpd}"
    );
    let all: Vec<String> = futures_util::future::join_all(
        texts
            .iter()
            .map(|k| async { String::from_utf8(s.gcs.get(OUT, k).await).unwrap() }),
    )
    .await;
    assert!(
        all.iter()
            .any(|t| t.contains("Bonjour") && t.starts_with("WEBVTT"))
    );

    // A sidecar that is not subtitles: the job fails and says which object.
    s.gcs
        .put(IN, "films/bad.mp4", fixture("video_low.mp4"))
        .await;
    s.gcs
        .put(IN, "films/bad.en.vtt", b"not subtitles".to_vec())
        .await;
    s.publish_job("bad-sidecar", "films/bad.mp4").await;
    let reports = s.broker.results(1, WAIT).await;
    let error = reports[0]["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("gs://in-bucket/films/bad.en.vtt"),
        "{}",
        reports[0]
    );
    s.broker.cleanup().await;
}

/// `DASHPACK_LADDER` (a build with the `transcode` feature): every job's video is
/// published as the ladder's H.264 rungs, each with all its segments, beside the audio;
/// a ladder that does not parse stops the worker at start, naming the variable.
#[cfg(feature = "transcode")]
#[tokio::test(flavor = "multi_thread")]
async fn the_ladder_publishes_every_rung() {
    let s = Setup::new("ladder", None).await;
    let mut w = Worker::start(&s.dir, &s.env(&[("DASHPACK_LADDER", "1080p")]));
    assert_eq!(w.wait(WAIT).await.code(), Some(1));
    let log = w.log_text();
    assert!(log.contains("configuration: DASHPACK_LADDER: "), "{log}");
    s.gcs.put(IN, "in.mp4", fixture("hevc_aac.mp4")).await;
    let w = s
        .worker(&[
            ("DASHPACK_LADDER", "180:300k,120:120k"),
            ("DASHPACK_LADDER_PRESET", "ultrafast"),
        ])
        .await;
    s.publish_job("laddered", "in.mp4").await;
    let results = s.broker.results(1, WAIT).await;
    assert_eq!(results.len(), 1, "log:\n{}", w.log_text());
    let folder = assert_completed(&results[0], "laddered", "in.mp4");
    let mpd = String::from_utf8(s.gcs.get(OUT, &format!("{folder}/stream.mpd")).await).unwrap();
    let objects = s.gcs.list(OUT, &format!("{folder}/")).await;
    for (id, size) in [
        ("video-1", "width=\"320\" height=\"180\""),
        ("video-2", "width=\"214\" height=\"120\""),
    ] {
        assert!(
            mpd.contains(&format!("id=\"{id}\" codecs=\"avc1.")),
            "{id}: {mpd}"
        );
        assert!(mpd.contains(size), "{id} {size}: {mpd}");
        let segments = objects
            .keys()
            .filter(|k| k.starts_with(&format!("{folder}/{id}/seg-")))
            .count();
        assert_eq!(segments, 3, "{id}: {:?}", objects.keys());
    }
    assert!(!mpd.contains("hvc1") && !mpd.contains("hev1"), "{mpd}");
    s.broker.cleanup().await;
}
