"""deploy/kubernetes/ run by `podman kube play`: the ConfigMap and Deployment as written,
with the host's network and settings pointed at the loopback services. The pod
completes a job."""

import os
import subprocess
import tempfile
from pathlib import Path

import yaml

from conftest import ROOT, VIDEO, hard_nofile, podman


def containers_conf(folder):
    hard = hard_nofile()
    conf = Path(folder) / "containers.conf"
    conf.write_text(f'[containers]\ndefault_ulimits = ["nofile={hard}:{hard}", "nproc=4096:4096"]\n'
                    '[engine]\nruntime = "runc"\n')
    return conf


def local_manifests(gcs, broker):
    docs = {}
    for name in ("configmap", "deployment"):
        for d in yaml.safe_load_all((ROOT / "deploy" / "kubernetes" / f"{name}.yaml").read_text()):
            docs[d["kind"]] = d
    cm = docs["ConfigMap"]["data"]
    cm.update(broker.env())
    cm.update({"inputBucketName": "input", "outputBucketName": "output",
               "STORAGE_EMULATOR_HOST": gcs.url, "DASHPACK_METRICS_ADDR": "127.0.0.1:0",
               "DASHPACK_SHUTDOWN_TIMEOUT": "20"})
    del cm["GOOGLE_APPLICATION_CREDENTIALS"]  # the emulator takes no credentials
    pod = docs["Deployment"]["spec"]["template"]["spec"]
    pod["hostNetwork"] = True
    # Probes become systemd timers under podman, which these machines do not run.
    for c in pod["containers"]:
        c.pop("readinessProbe")
        c.pop("livenessProbe")
        c.pop("ports")  # host network: podman refuses port mappings with it
        # podman 4.3 reads secretKeyRef from its own secret store in a form it cannot
        # write back; the broker's login is given as plain values here instead.
        for e in c["env"]:
            assert e["valueFrom"]["secretKeyRef"]["name"] == "dashpack-worker"
            e.pop("valueFrom")
            e["value"] = "guest"
        # podman 4.3 crashes on a Secret volume (the emulator needs no key anyway).
        c["volumeMounts"] = [m for m in c["volumeMounts"] if m["name"] != "gcs-key"]
    pod["volumes"] = [v for v in pod["volumes"] if v["name"] != "gcs-key"]
    return docs


def test_kube_play_runs_the_deployment_and_completes_a_job(gcs, broker):
    gcs.upload("input", "clip.mp4", VIDEO)
    docs = local_manifests(gcs, broker)
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "CONTAINERS_CONF": str(containers_conf(tmp))}
        play = Path(tmp) / "play.yaml"
        play.write_text(yaml.safe_dump_all([docs["ConfigMap"], docs["Deployment"]]))

        def kube(*args):
            r = subprocess.run(["podman", "kube", *args], capture_output=True, text=True, env=env,
                               timeout=180)
            assert r.returncode == 0, r.stdout + r.stderr
            return r.stdout

        subprocess.run(["podman", "pod", "rm", "-f", "dashpack-worker-pod-0"], capture_output=True, env=env)
        kube("play", str(play))
        try:
            broker.wait_declared()
            broker.publish({"resource_id": "res-kube", "file_path": "clip.mp4"})
            result = broker.get(f"{broker.queue}-result", 120)
            logs = podman("logs", "dashpack-worker-pod-0-worker", check=False)
            assert result and result["status"] == "COMPLETED", (result, logs.stdout, logs.stderr)
            names = gcs.names("output", result["video"]["encoded_video_folder"] + "/")
            assert any(n.endswith("/stream.mpd") for n in names), names
            # Runs as the Deployment says: non-root, read-only root filesystem.
            ro = podman("inspect", "dashpack-worker-pod-0-worker", "--format",
                        "{{.HostConfig.ReadonlyRootfs}}").stdout.strip()
            assert ro == "true", ro
        finally:
            kube("down", str(play))
