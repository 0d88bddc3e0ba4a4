"""Per-file cost of packaging a short clip from Python: `dashpack.package` in-process
against FFmpeg's dash muxer started as a subprocess (what pipelines do today).

    .venv/bin/python benches/python_overhead.py [RUNS]

Needs the `dashpack` wheel in the running Python (scripts/test installs it into .venv)
and ffmpeg. The 10-second 720p clip is made with ffmpeg under /var/tmp; outputs go to
/dev/shm.
"""

import os
import shutil
import statistics
import subprocess
import sys
import time

import dashpack

RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 30
WORK = "/var/tmp/dashpack-bench"
OUT = "/dev/shm/dashpack-bench-py"
CLIP = os.path.join(WORK, "clip-10s.mp4")


def make_clip():
    if os.path.exists(CLIP):
        return
    os.makedirs(WORK, exist_ok=True)
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y",
         "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30,noise=alls=10:allf=t+u",
         "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
         "-t", "10", "-c:v", "libx264", "-preset", "ultrafast", "-b:v", "3M", "-g", "60",
         "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "128k", "-movflags", "+faststart",
         CLIP + ".part.mp4"],
        check=True,
    )
    os.rename(CLIP + ".part.mp4", CLIP)


def timed(fn):
    samples = []
    for _ in range(RUNS):
        shutil.rmtree(OUT, ignore_errors=True)
        os.makedirs(OUT)
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000, min(samples) * 1000


def in_process():
    dashpack.package([CLIP], os.path.join(OUT, "dp"), force=True)


def ffmpeg_subprocess():
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-i", CLIP, "-map", "0", "-c", "copy",
         "-f", "dash", "-seg_duration", "4", os.path.join(OUT, "stream.mpd")],
        check=True,
    )


def main():
    make_clip()
    with open(CLIP, "rb") as f:  # warm the page cache
        f.read()
    size = os.path.getsize(CLIP)
    print(f"clip: {CLIP}, {size / 1048576:.1f} MiB, 10 s; {RUNS} runs each")
    print(f"{'how':<34} {'median_ms':>10} {'min_ms':>8}")
    rows = [
        ("dashpack.package (in-process)", timed(in_process)),
        ("ffmpeg -f dash (subprocess)", timed(ffmpeg_subprocess)),
    ]
    for name, (med, low) in rows:
        print(f"{name:<34} {med:>10.2f} {low:>8.2f}")
    print(f"ratio ffmpeg / dashpack: {rows[1][1][0] / rows[0][1][0]:.1f}x")
    shutil.rmtree(OUT, ignore_errors=True)


if __name__ == "__main__":
    main()
