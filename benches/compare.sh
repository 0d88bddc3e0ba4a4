#!/usr/bin/env bash
# Side by side, in one run, on the same inputs: `cp`, `dashpack package` and FFmpeg's
# dash muxer (and MP4Box when it is installed). Prints the median wall time of RUNS
# runs, ratios, and peak RSS from GNU time.
#
#   benches/compare.sh [RUNS]        default 5 runs each
#   benches/compare.sh [RUNS] pcm    only the PCM-to-Opus transcode's memory
#   benches/compare.sh [RUNS] open-gop   only the open-GOP start rewrite's cost
#
# Inputs are made with FFmpeg on first use (nothing large is committed) in $BENCH_DIR
# (default /var/tmp/dashpack-bench): a 10-minute 720p H.264 + AAC file at about
# 3 Mbit/s and a 2-minute 1080p one at about 5 Mbit/s, from a moving, noisy test
# pattern so the encoder really spends the bitrate. Outputs go to tmpfs ($BENCH_OUT,
# default /dev/shm/dashpack-bench) with a warm page cache, so the figures compare the
# tools and not the disk.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${1:-5}
ONLY=${2:-}
DIR=${BENCH_DIR:-/var/tmp/dashpack-bench}
OUT=${BENCH_OUT:-/dev/shm/dashpack-bench}
TARGET=${CARGO_TARGET_DIR:-target}

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
if [ ! -x /usr/bin/time ] || ! command -v ffmpeg >/dev/null; then
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq time ffmpeg >/dev/null
fi
cargo build --release --locked --quiet --bin dashpack
DASHPACK=$TARGET/release/dashpack
mkdir -p "$DIR" "$OUT"

make_input() { # NAME SIZE SECONDS BITRATE
  local f=$DIR/$1.mp4
  [ -s "$f" ] && return 0
  echo "making $f ($2, $3 s, $4)" >&2
  ffmpeg -v error -y \
    -f lavfi -i "testsrc2=size=$2:rate=30,noise=alls=10:allf=t+u" \
    -f lavfi -i "sine=frequency=440:sample_rate=48000" \
    -t "$3" -c:v libx264 -preset ultrafast -b:v "$4" -maxrate "$4" -bufsize "$4" -g 60 \
    -pix_fmt yuv420p -c:a aac -b:a 128k -movflags +faststart -f mp4 "$f.part"
  mv "$f.part" "$f"
}
# PCM audio (stereo, 16-bit, 48 kHz) in a QuickTime file: transcoded to Opus.
make_pcm() { # NAME SECONDS
  local f=$DIR/$1.mov
  [ -s "$f" ] && return 0
  echo "making $f ($2 s of PCM)" >&2
  ffmpeg -v error -y -f lavfi -i "sine=frequency=440:sample_rate=48000" \
    -f lavfi -i "anoisesrc=color=pink:sample_rate=48000:amplitude=0.2" \
    -filter_complex "[0][1]amerge=inputs=2" -t "$2" -c:a pcm_s16le -f mov "$f.part"
  mv "$f.part" "$f"
}
if [ "$ONLY" != pcm ]; then
  make_input 720p-10min 1280x720 600 3M
  make_input 1080p-2min 1920x1080 120 5M
  make_input 720p-2min 1280x720 120 3M
fi
make_pcm pcm-2min 120
make_pcm pcm-10min 600

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

# measure LABEL COMMAND...: RUNS timed runs; prints "median_seconds peak_rss_kib".
measure() {
  local label=$1 times rss t start end
  shift
  times=$(mktemp) rss=$(mktemp)
  for _ in $(seq "$RUNS"); do
    rm -rf "${OUT:?}/run" && mkdir -p "$OUT/run"
    t=$(mktemp)
    # Wall time from the shell's microsecond clock (GNU time's %e has 10 ms steps);
    # peak RSS (%M, KiB) from GNU time.
    start=$EPOCHREALTIME
    /usr/bin/time -f "%M" -o "$t" "$@" >/dev/null 2>&1 || {
      echo "$label failed" >&2
      return 1
    }
    end=$EPOCHREALTIME
    awk -v s="$start" -v e="$end" 'BEGIN {printf "%.4f\n", e - s}' >>"$times"
    cat "$t" >>"$rss"
    rm -f "$t"
  done
  echo "$(median <"$times") $(sort -n "$rss" | tail -1)"
  rm -f "$times" "$rss"
}

# Transcoding holds one segment of audio per track, not the track: peak RSS is the same
# for 2 and 10 minutes of PCM (it grew with the Opus track, 24 KB/s, when the track was
# encoded whole before packaging).
pcm_memory() {
  local a b ta tb
  read -r ta a < <(measure dashpack "$DASHPACK" package "$DIR/pcm-2min.mov" -o "$OUT/run/dashpack" -f)
  read -r tb b < <(measure dashpack "$DASHPACK" package "$DIR/pcm-10min.mov" -o "$OUT/run/dashpack" -f)
  echo
  awk -v a="$a" -v b="$b" -v ta="$ta" -v tb="$tb" 'BEGIN {
    printf "PCM to Opus: %.2f s and %.1f MiB peak RSS for 2 min, %.2f s and %.1f MiB for 10 min: %.1f bytes per added second (x%.1f realtime)\n",
      ta, a / 1024, tb, b / 1024, (b - a) * 1024 / 480, 600 / tb }'
}
if [ "$ONLY" = pcm ]; then
  pcm_memory
  exit 0
fi

# H.264 cut inside an open GOP has every slice header rewritten (codec/idr_start.rs: no
# IDR picture follows in x264's open-GOP output): the cut against the whole file, which
# starts on an IDR picture and is copied, both 2 minutes of 720p.
open_gop() {
  local whole=$DIR/720p-open-gop.mp4 cut=$DIR/720p-open-gop-cut.mp4
  if [ ! -s "$cut" ]; then
    echo "making $whole and $cut" >&2
    ffmpeg -v error -y -f lavfi -i "testsrc2=size=1280x720:rate=30,noise=alls=10:allf=t+u" \
      -f lavfi -i "sine=frequency=440:sample_rate=48000" -t 122 -c:v libx264 -preset ultrafast \
      -b:v 3M -maxrate 3M -bufsize 3M -g 60 -bf 3 -x264-params open-gop=1 -pix_fmt yuv420p \
      -c:a aac -b:a 128k -f mp4 "$whole"
    ffmpeg -v error -y -i "$whole" -ss 1.5 -t 120 -c copy -copyinkf -f mp4 "$cut"
  fi
  cat "$whole" "$cut" >/dev/null
  local wt wm ct cm
  read -r wt wm < <(measure dashpack "$DASHPACK" package "$whole" -o "$OUT/run/dashpack" -f)
  read -r ct cm < <(measure dashpack "$DASHPACK" package "$cut" -o "$OUT/run/dashpack" -f)
  awk -v wt="$wt" -v wm="$wm" -v ct="$ct" -v cm="$cm" 'BEGIN {
    printf "open GOP, 720p, 2 min: whole %.3f s (%.1f MiB), cut and rewritten %.3f s (%.1f MiB): x%.2f\n",
      wt, wm / 1024, ct, cm / 1024, ct / wt }'
}
if [ "$ONLY" = open-gop ]; then
  open_gop
  exit 0
fi

declare -A RSS SAMPLES
for name in 720p-10min 1080p-2min 720p-2min; do
  in=$DIR/$name.mp4
  cat "$in" >/dev/null # warm the page cache
  size=$(stat -c %s "$in")
  echo
  echo "== $name: $((size / 1048576)) MiB, $(ffprobe -v error -show_entries format=duration -of csv=p=0 "$in") s, $RUNS runs each"
  read -r cp_t cp_m < <(measure cp cp "$in" "$OUT/run/copy.mp4")
  read -r dp_t dp_m < <(measure dashpack "$DASHPACK" package "$in" -o "$OUT/run/dashpack" -f)
  read -r ff_t ff_m < <(measure ffmpeg ffmpeg -v error -y -i "$in" -map 0 -c copy \
    -f dash -seg_duration 4 "$OUT/run/stream.mpd")
  RSS[$name]=$dp_m
  SAMPLES[$name]=$("$DASHPACK" inspect --json "$in" |
    python3 -c 'import json,sys; print(sum(t["samples"] for t in json.load(sys.stdin)["tracks"]))')
  rows=("cp $cp_t $cp_m" "dashpack $dp_t $dp_m" "ffmpeg-dash $ff_t $ff_m")
  if command -v MP4Box >/dev/null; then
    read -r mb_t mb_m < <(measure mp4box MP4Box -quiet -dash 4000 -out "$OUT/run/stream.mpd" "$in")
    rows+=("MP4Box $mb_t $mb_m")
  fi
  printf '%-12s %9s %9s %12s %10s\n' tool median_s x_cp x_dashpack peak_MiB
  for r in "${rows[@]}"; do
    read -r tool t m <<<"$r"
    awk -v tool="$tool" -v t="$t" -v m="$m" -v cp="$cp_t" -v dp="$dp_t" 'BEGIN {
      printf "%-12s %9.3f %9.2f %12.2f %10.1f\n", tool, t, (cp > 0 ? t / cp : 0), (dp > 0 ? t / dp : 0), m / 1024 }'
  done
done
rm -rf "${OUT:?}/run"

# Memory growth with input length: same picture size, 2 and 10 minutes.
echo
awk -v a="${RSS[720p-2min]}" -v b="${RSS[720p-10min]}" \
  -v sa="${SAMPLES[720p-2min]}" -v sb="${SAMPLES[720p-10min]}" 'BEGIN {
  printf "dashpack peak RSS: %.1f MiB at %d samples (2 min), %.1f MiB at %d samples (10 min): %.1f bytes per added sample\n",
    a / 1024, sa, b / 1024, sb, (b - a) * 1024 / (sb - sa) }'
pcm_memory
