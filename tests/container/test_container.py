"""The worker image (localhost/dashpack:latest, built by scripts/image), run with podman
against the local RabbitMQ and a Cloud Storage emulator: a real job, a bad one, the
health check, and SIGTERM drains with a job in flight."""

from conftest import VIDEO, SlowProxy, Worker, podman, ulimits


def test_the_image_is_small_runs_as_non_root_and_has_no_shell():
    size = int(podman("image", "inspect", "localhost/dashpack:latest", "--format", "{{.Size}}").stdout)
    assert size < 30_000_000, f"image is {size} bytes"
    cfg = podman("image", "inspect", "localhost/dashpack:latest", "--format",
                 "{{.Config.User}} {{.Config.Cmd}} {{.Config.Entrypoint}}").stdout
    assert cfg.startswith("10001:10001 [worker] [/usr/local/bin/dashpack]"), cfg
    health = podman("image", "inspect", "localhost/dashpack:latest", "--format",
                    "{{.Config.Healthcheck.Test}}").stdout
    assert "/usr/local/bin/dashpack healthcheck" in health, health
    run = ["run", "--rm", "--no-healthcheck", *ulimits()]
    r = podman(*run, "--entrypoint", "/bin/sh", "localhost/dashpack:latest", "-c", "true", check=False)
    assert r.returncode != 0 and "no such file" in r.stderr.lower(), "the image has a shell"
    r = podman(*run, "localhost/dashpack:latest", "--version")
    assert r.stdout.startswith("dashpack "), r.stdout


def test_a_job_end_to_end_a_bad_one_dead_lettered_and_a_clean_stop(gcs, broker, workers):
    gcs.upload("input", "clip.mp4", VIDEO)
    gcs.upload("input", "notes.mp4", b"this is not a video, only text\n" * 40)
    w = Worker(gcs.url, broker)
    workers.append(w)
    broker.wait_declared()
    # The health check the image declares, run inside the container.
    assert w.wait_log('"consuming"', 30), w.logs()
    r = podman("exec", w.name, "/usr/local/bin/dashpack", "healthcheck", check=False)
    assert r.returncode == 0, r.stdout + r.stderr

    broker.publish({"resource_id": "res-1", "file_path": "clip.mp4"})
    result = broker.get(f"{broker.queue}-result", 120)
    assert result and result["status"] == "COMPLETED", (result, w.logs())
    folder = result["video"]["encoded_video_folder"]
    names = gcs.names("output", folder + "/")
    assert f"{folder}/stream.mpd" in names and len(names) >= 5, names

    broker.publish({"resource_id": "res-2", "file_path": "notes.mp4"})
    # The delivery is dead-lettered as it came; the failure report goes with the results.
    dead = broker.get(f"{broker.queue}-failed", 60)
    assert dead == {"resource_id": "res-2", "file_path": "notes.mp4"}, (dead, w.logs())
    report = broker.get(f"{broker.queue}-result", 10)
    assert report and "notes.mp4" in report["message"] and report["error"], report

    code, took = w.stop(grace=30)
    assert code == 0 and took < 20, (code, took, w.logs())
    assert "stop requested" in w.logs()


def test_sigterm_lets_a_running_job_finish_within_the_grace_period(gcs, broker, workers):
    gcs.upload("input", "clip.mp4", VIDEO)
    slow = SlowProxy(gcs.port, rate=80_000)  # about 4 s for the download
    w = Worker(f"http://127.0.0.1:{slow.port}", broker, {"DASHPACK_SHUTDOWN_TIMEOUT": "60"})
    workers.append(w)
    broker.wait_declared()
    broker.publish({"resource_id": "res-1", "file_path": "clip.mp4"})
    assert w.wait_log("DOWNLOADING", 30), w.logs()
    code, _ = w.stop(grace=90)
    assert code == 0, w.logs()
    result = broker.get(f"{broker.queue}-result", 5)
    assert result and result["status"] == "COMPLETED", w.logs()
    assert broker.count(broker.queue) == 0
    slow.close()


def test_sigterm_past_the_shutdown_timeout_hands_the_job_back(gcs, broker, workers):
    gcs.upload("input", "clip.mp4", VIDEO)
    slow = SlowProxy(gcs.port, rate=20_000)  # about 17 s for the download
    first = Worker(f"http://127.0.0.1:{slow.port}", broker, {"DASHPACK_SHUTDOWN_TIMEOUT": "1"})
    workers.append(first)
    broker.wait_declared()
    broker.publish({"resource_id": "res-1", "file_path": "clip.mp4"})
    assert first.wait_log("DOWNLOADING", 30), first.logs()
    code, took = first.stop(grace=30)
    assert code == 0 and took < 15, (code, took, first.logs())
    assert "leaving unfinished jobs to be redelivered" in first.logs()
    # Unacked, so back in the queue; no result was published.
    assert broker.count(broker.queue) == 1
    assert broker.count(f"{broker.queue}-result") == 0
    second = Worker(gcs.url, broker)
    workers.append(second)
    result = broker.get(f"{broker.queue}-result", 120)
    assert result and result["status"] == "COMPLETED", second.logs()
    assert broker.get(f"{broker.queue}-result", 3) is None, "a second result"
    slow.close()
