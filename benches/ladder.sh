#!/usr/bin/env bash
# The ABR ladder against the `ffmpeg` command that makes the same renditions, in one
# run: the source decoded once and split, each branch scaled (bicubic) and encoded by
# libx264 with the same preset, average bit rate, 2x peak and buffer, keyframe interval
# and an IDR at every 4 s; the audio copied. Prints each tool's wall time and peak RSS,
# and each rung's PSNR and SSIM against the source (FFmpeg's filters, the source scaled
# to the rung's size), for both outputs and their difference.
#
#   benches/ladder.sh                 a 20 s 1080p source, Apple's 9 rungs, veryfast
#   SECONDS_LONG=60 PRESET=medium benches/ladder.sh
#
# The source is made with FFmpeg on first use in $BENCH_DIR (default
# /var/tmp/dashpack-bench); outputs go to $BENCH_OUT (default /dev/shm/dashpack-ladder).
set -euo pipefail
cd "$(dirname "$0")/.."

LENGTH=${SECONDS_LONG:-20}
PRESET=${PRESET:-veryfast}
DIR=${BENCH_DIR:-/var/tmp/dashpack-bench}
OUT=${BENCH_OUT:-/dev/shm/dashpack-ladder}
TARGET=${CARGO_TARGET_DIR:-target}
# Apple's HLS authoring ladder for H.264, as dashpack's `auto` has it for 1080p.
LADDER=1080:7800k,1080:6000k,720:4500k,720:3000k,540:2000k,432:1100k,432:730k,360:365k,234:145k

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
if [ ! -x /usr/bin/time ] || ! command -v ffmpeg >/dev/null; then
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq time ffmpeg >/dev/null
fi
cargo build --release --locked --quiet -p dashpack-worker --no-default-features --features transcode
DASHPACK=$TARGET/release/dashpack
mkdir -p "$DIR"
rm -rf "$OUT" && mkdir -p "$OUT/dashpack" "$OUT/ffmpeg"

SRC=$DIR/ladder-1080p-${LENGTH}s.mp4
if [ ! -s "$SRC" ]; then
  echo "making $SRC" >&2
  ffmpeg -v error -y -f lavfi -i "testsrc2=size=1920x1080:rate=30,noise=alls=8:allf=t+u" \
    -f lavfi -i "sine=frequency=440:sample_rate=48000" -t "$LENGTH" \
    -c:v libx264 -preset ultrafast -b:v 12M -g 60 -pix_fmt yuv420p -c:a aac -b:a 128k \
    -movflags +faststart "$SRC.part.mp4"
  mv "$SRC.part.mp4" "$SRC"
fi
cat "$SRC" >/dev/null # warm the page cache

# run LABEL COMMAND...: prints "seconds peak_rss_kib".
run() {
  local t start end
  t=$(mktemp)
  start=$EPOCHREALTIME
  /usr/bin/time -f "%M" -o "$t" "${@:2}" >/dev/null 2>"$OUT/$1.log" || {
    echo "$1 failed:" >&2
    cat "$OUT/$1.log" >&2
    exit 1
  }
  end=$EPOCHREALTIME
  awk -v s="$start" -v e="$end" -v m="$(tail -1 "$t")" 'BEGIN {printf "%.2f %d\n", e - s, m}'
  rm -f "$t"
}

read -r dp_t dp_m < <(run dashpack "$DASHPACK" package "$SRC" -o "$OUT/dashpack" -f \
  --profile on-demand --segment-duration 4 --ladder "$LADDER" --ladder-preset "$PRESET" --json)
# The rungs dashpack made (sizes in order), and the keyframe interval it gave x264.
mapfile -t SIZES < <(python3 - "$OUT/dashpack" <<'EOF'
import re, sys, pathlib
mpd = (pathlib.Path(sys.argv[1]) / "stream.mpd").read_text()
for m in re.finditer(r'<Representation id="(video-\d+)"[^>]*width="(\d+)" height="(\d+)"', mpd):
    print(m.group(1), m.group(2), m.group(3))
EOF
)
IFS=, read -r -a RATES <<<"$LADDER"
if [ ${#SIZES[@]} -ne ${#RATES[@]} ]; then
  echo "dashpack made ${#SIZES[@]} rungs, expected ${#RATES[@]}" >&2
  exit 1
fi
fps=$(ffprobe -v error -select_streams v:0 -show_entries stream=r_frame_rate -of csv=p=0 "$SRC")
gop=$(python3 -c "from fractions import Fraction as F; import math; print(math.ceil(4 * F('$fps')))")

# The same ladder with the ffmpeg command: decode once, split, scale, encode, each
# encoder with the threads dashpack gives its rungs (the cores shared between them):
# x264's frame threads change its output, so the quality is compared like for like.
threads=$(( ($(nproc) + ${#SIZES[@]} - 1) / ${#SIZES[@]} ))
graph="[0:v]split=${#SIZES[@]}"
for i in "${!SIZES[@]}"; do graph+="[s$i]"; done
args=()
for i in "${!SIZES[@]}"; do
  read -r _ w h <<<"${SIZES[$i]}"
  rate=${RATES[$i]#*:}
  kbit=${rate%k}
  graph+=";[s$i]scale=$w:$h:flags=bicubic[o$i]"
  args+=(-map "[o$i]" -c:v libx264 -preset "$PRESET" -b:v "${kbit}k" -maxrate "$((2 * kbit))k"
    -bufsize "$((2 * kbit))k" -g "$gop" -forced-idr 1 -force_key_frames "expr:gte(t,n_forced*4)"
    -threads "$threads" -an "$OUT/ffmpeg/rung$i.mp4")
done
read -r ff_t ff_m < <(run ffmpeg ffmpeg -nostdin -v error -y -i "$SRC" -filter_complex "$graph" \
  "${args[@]}" -map 0:a -c:a copy -vn "$OUT/ffmpeg/audio.mp4")

echo "source: $SRC ($(ffprobe -v error -show_entries format=duration -of csv=p=0 "$SRC") s, $fps fps), ${#SIZES[@]} rungs, x264 preset $PRESET, $(nproc) cores"
printf '%-28s %9s %10s\n' tool wall_s peak_MiB
awk -v t="$dp_t" -v m="$dp_m" 'BEGIN {printf "%-28s %9.2f %10.1f\n", "dashpack package --ladder", t, m / 1024}'
awk -v t="$ff_t" -v m="$ff_m" 'BEGIN {printf "%-28s %9.2f %10.1f\n", "ffmpeg (encode only)", t, m / 1024}'
awk -v a="$dp_t" -v b="$ff_t" 'BEGIN {printf "dashpack / ffmpeg wall time: %.3f\n", a / b}'

# quality FILE W H: "psnr ssim" against the source scaled to W x H, frame by frame.
quality() {
  local log
  log=$(ffmpeg -nostdin -v info -i "$1" -i "$SRC" -lavfi \
    "[1:v]scale=$2:$3:flags=bicubic,setpts=N,split[r1][r2];[0:v]setpts=N,split[o1][o2];[o1][r1]psnr;[o2][r2]ssim" \
    -f null - 2>&1)
  local psnr ssim
  psnr=$(grep -o 'PSNR.*average:[0-9.inf]*' <<<"$log" | sed 's/.*average://')
  ssim=$(grep -o 'SSIM.*All:[0-9.]*' <<<"$log" | sed 's/.*All://')
  echo "$psnr $ssim"
}
echo
printf '%-9s %-10s %8s | %10s %10s | %10s %10s | %8s %8s\n' rung size kbit/s \
  dp_psnr ff_psnr dp_ssim ff_ssim d_psnr d_ssim
for i in "${!SIZES[@]}"; do
  read -r id w h <<<"${SIZES[$i]}"
  file=$(find "$OUT/dashpack/$id" -name '*.mp4' | head -1)
  read -r dpp dps < <(quality "$file" "$w" "$h")
  read -r ffp ffs < <(quality "$OUT/ffmpeg/rung$i.mp4" "$w" "$h")
  awk -v id="$id" -v s="${w}x$h" -v r="${RATES[$i]#*:}" -v a="$dpp" -v b="$ffp" -v c="$dps" -v d="$ffs" 'BEGIN {
    printf "%-9s %-10s %8s | %10.3f %10.3f | %10.5f %10.5f | %8.3f %8.5f\n", id, s, r, a, b, c, d, a - b, c - d }'
done
