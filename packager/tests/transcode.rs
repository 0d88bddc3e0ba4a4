//! Uncompressed audio transcoded to Opus (`fixtures/camera_pcm.mov` and the
//! `audio_pcm_*.mov` layouts): FFmpeg decodes the published audio to the input's samples,
//! sample-aligned (the chirp's correlation peaks at lag 0) and close (signal-to-noise
//! ratio), with nothing missing at the end; the video next to it is carried exactly; PCM
//! with 3 to 8 channels keeps each channel in its place; PCM that is not transcoded
//! here (more than eight channels) is refused by name.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use dashpack::{Error, Input, MemorySink, Options, RunControl};

/// 16-bit samples FFmpeg decodes from `file` (an MP4 or an MPD) at 48 kHz, interleaved,
/// with `args` before the output (such as a downmix).
fn decoded_s16(file: &Path, args: &[&str]) -> Vec<i16> {
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-nostdin", "-v", "error", "-i"])
        .arg(file)
        .args(["-map", "0:a:0", "-ar", "48000"])
        .args(args)
        .args(["-f", "s16le", "-"]);
    common::run(&mut cmd)
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect()
}

/// Mono 16-bit samples FFmpeg decodes from `file` at 48 kHz.
fn decoded(file: &Path) -> Vec<i16> {
    decoded_s16(file, &["-ac", "1"])
}

/// The lag (output sample index minus input sample index) where the signals correlate
/// best, within +-400 samples, over a window from 0.1 s.
fn best_lag(a: &[i16], b: &[i16]) -> i64 {
    let corr = |lag: i64| -> f64 {
        (4800..4800 + 9600)
            .map(|i: usize| {
                let j = i as i64 + lag;
                f64::from(a[i]) * b.get(j as usize).map_or(0.0, |&v| f64::from(v))
            })
            .sum()
    };
    (-400..=400)
        .max_by(|&x, &y| corr(x).total_cmp(&corr(y)))
        .unwrap()
}

fn snr_db(a: &[i16], b: &[i16]) -> f64 {
    let n = a.len().min(b.len());
    let signal: f64 = a[..n].iter().map(|&v| f64::from(v).powi(2)).sum();
    let noise: f64 = a[..n]
        .iter()
        .zip(&b[..n])
        .map(|(&x, &y)| (f64::from(x) - f64::from(y)).powi(2))
        .sum();
    10.0 * (signal / noise.max(1.0)).log10()
}

/// The output is the input, sample-aligned and close: correlation peak at lag 0, no
/// sample missing, at least 25 dB signal-to-noise over the first `n` samples.
fn assert_aligned(label: &str, input: &[i16], output: &[i16], n: usize) -> f64 {
    assert_eq!(best_lag(input, output), 0, "{label}: aligned to the sample");
    assert!(
        output.len() >= input.len(),
        "{label}: {} of {} samples",
        output.len(),
        input.len()
    );
    let n = n.min(input.len()).min(output.len());
    let snr = snr_db(&input[..n], &output[..n]);
    assert!(snr > 25.0, "{label}: {snr:.1} dB");
    snr
}

#[test]
fn pcm_becomes_opus_sample_aligned() {
    for &name in common::TRANSCODED {
        let (out, p) = common::package_into(&common::fixture(name), &format!("transcode-{name}"));
        let audio = p
            .representations
            .iter()
            .find(|r| r.codecs == "opus")
            .unwrap();
        assert!(
            p.warnings.iter().any(|w| w.contains("transcoded to Opus")),
            "{name}: {:?}",
            p.warnings
        );
        let input = decoded(&common::fixture(name));
        let output = decoded(&common::exact::joined(&out, audio).unwrap());
        let snr = assert_aligned(name, &input, &output, usize::MAX);
        // Through the MPD too (FFmpeg's DASH reader), and the video exactly as it was.
        let via_mpd = decoded(&out.join(&p.mpd));
        assert_eq!(best_lag(&input, &via_mpd), 0, "{name}: MPD");
        for r in p.representations.iter().filter(|r| r.codecs != "opus") {
            common::exact::same_packets(&common::fixture(name), &out, r).unwrap();
        }
        eprintln!(
            "{name}: {} samples in, {} out, {snr:.1} dB",
            input.len(),
            output.len()
        );
    }
}

/// A PCM chirp of `seconds` at `rate` (extra channels after `|`), written by FFmpeg.
fn chirp(name: &str, rate: u32, channels: &str, seconds: u32) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let src = format!("aevalsrc=0.5*sin(2*PI*t*(200+400*t)){channels}:s={rate}:d={seconds}");
    let ok = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", &src])
        .args(["-c:a", "pcm_s16le", "-f", "mov"])
        .arg(&path)
        .status()
        .unwrap()
        .success();
    assert!(ok);
    path
}

#[test]
fn other_rates_are_resampled_to_48k_in_time() {
    for rate in [44_100, 96_000, 22_050] {
        let path = chirp(&format!("pcm_{rate}.mov"), rate, "", 1);
        let (out, p) = common::package_into(&path, &format!("pcm_{rate}-out"));
        let r = &p.representations[0];
        assert_eq!((r.codecs.as_str(), r.sample_rate), ("opus", Some(48_000)));
        // FFmpeg's own resampler gives the reference at 48 kHz.
        let input = decoded(&path);
        let output = decoded(&common::exact::joined(&out, r).unwrap());
        let snr = assert_aligned(&format!("{rate} Hz"), &input, &output, 47_000);
        eprintln!(
            "{rate} Hz: {} samples at 48 kHz in, {} out, {snr:.1} dB",
            input.len(),
            output.len()
        );
    }
}

/// Each channel FFmpeg decodes from `file`, at 48 kHz, in FFmpeg's order for its layout.
fn decoded_channels(file: &Path, n: usize) -> Vec<Vec<i16>> {
    let all = decoded_s16(file, &[]);
    (0..n)
        .map(|c| all.iter().skip(c).step_by(n).copied().collect())
        .collect()
}

/// 5.1 PCM (six different chirps, FFmpeg's layout as a QuickTime `chan` bitmap), and 3
/// to 8 channels without a layout box: Opus with channel mapping family 1,
/// and FFmpeg's decoding of it puts each chirp back on its own channel, sample-aligned.
#[test]
fn surround_pcm_becomes_multichannel_opus_with_each_channel_in_place() {
    let chirps = |n: usize| -> String {
        (0..n)
            .map(|k| format!("0.4*sin(2*PI*t*({}+{}*t))", 200 + 130 * k, 400 + 60 * k))
            .collect::<Vec<_>>()
            .join("|")
    };
    // FFmpeg 5.1 labels its 7.1 (back before side) with QuickTime's MPEG_7_1_C, which
    // says side before rear, so a labelled 7.1 from it is not a fair reference: its
    // channels are checked without the label (and the tag's order by a unit test).
    let mut cases: Vec<(String, usize, String)> = vec![("5.1".into(), 6, "5.1".into())];
    for n in 3..=8 {
        cases.push((format!("{n}ch-no-layout"), n, String::new()));
    }
    for (label, n, layout) in cases {
        let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("pcm_{label}.mov"));
        let mut src = format!("aevalsrc={}:s=48000:d=1", chirps(n));
        if !layout.is_empty() {
            src.push_str(&format!(":c={layout}"));
        }
        let mut cmd = Command::new("ffmpeg");
        cmd.args(["-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", &src]);
        cmd.args(["-c:a", "pcm_s16le", "-f", "mov"]);
        assert!(cmd.arg(&path).status().unwrap().success());
        if layout.is_empty() {
            // No `chan` box (FFmpeg writes one): the channel count alone gives the order.
            let mut bytes = std::fs::read(&path).unwrap();
            let at = (0..bytes.len() - 4).find(|&i| &bytes[i..i + 4] == b"chan");
            let at = at.expect("FFmpeg writes a chan box");
            bytes[at..at + 4].copy_from_slice(b"free");
            std::fs::write(&path, bytes).unwrap();
        }
        let (out, p) = common::package_into(&path, &format!("pcm_{label}-out"));
        let r = &p.representations[0];
        assert_eq!(
            (r.codecs.as_str(), r.channels),
            ("opus", Some(n as u16)),
            "{label}"
        );
        let joined = common::exact::joined(&out, r).unwrap();
        let input = decoded_channels(&path, n);
        let output = decoded_channels(&joined, n);
        for c in 0..n {
            let snr = assert_aligned(
                &format!("{label} channel {c}"),
                &input[c],
                &output[c],
                47_000,
            );
            // The chirp of another channel would correlate far worse than this.
            eprintln!("{label} channel {c}: {snr:.1} dB");
        }
    }
}

#[test]
fn pcm_that_is_not_transcoded_here_is_refused_by_name() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let path = chirp("pcm_9ch.mov", 48_000, "|0|0|0|0|0|0|0|0", 1);
    let out = dir.join("pcm_9ch-out");
    let err = dashpack::package_files(&[&path], &out, &Options::default()).unwrap_err();
    assert!(
        matches!(err, Error::UncarriedTrack { track: 1, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("PCM with 9 channels"), "{err}");
    assert!(!out.exists());
}

/// An input in memory that counts the bytes read from it.
struct Counted {
    bytes: Vec<u8>,
    read: AtomicU64,
}

impl dashpack::Source for Counted {
    fn len(&self) -> u64 {
        self.bytes.len() as u64
    }
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
        let at = offset as usize;
        let src = self
            .bytes
            .get(at..at + buf.len())
            .ok_or(std::io::ErrorKind::UnexpectedEof)?;
        buf.copy_from_slice(src);
        self.read.fetch_add(buf.len() as u64, Ordering::Relaxed);
        Ok(())
    }
}

/// The audio is encoded a segment at a time as it is written, not before: a cancel
/// as the first segment is reported stops the transcode with most of the PCM unread.
#[test]
fn a_transcode_reads_as_it_writes_and_stops_when_cancelled() {
    let path = chirp("pcm_60s.mov", 48_000, "", 60);
    let options = Options::default().with_segment_duration(1.0);
    let counted = Arc::new(Counted {
        bytes: std::fs::read(&path).unwrap(),
        read: AtomicU64::new(0),
    });
    let input = Input::from_source("pcm_60s.mov", counted.clone());
    let audio_segments = |sink: MemorySink| {
        sink.into_files()
            .keys()
            .filter(|k| k.starts_with("audio-") && k.ends_with(".m4s"))
            .count()
    };

    let whole = MemorySink::new();
    dashpack::package(
        std::slice::from_ref(&input),
        &whole,
        &options,
        &RunControl::default(),
    )
    .unwrap();
    let all = audio_segments(whole);
    assert!(all >= 60, "{all} segments for 60 s");
    let len = counted.bytes.len() as u64;
    assert!(counted.read.swap(0, Ordering::Relaxed) >= len * 9 / 10);

    let flag = Arc::new(AtomicBool::new(false));
    let seen = flag.clone();
    let run = RunControl::default()
        .with_cancel(flag)
        .with_progress(move |_| seen.store(true, Ordering::Relaxed));
    let cut = MemorySink::new();
    let err = dashpack::package(&[input], &cut, &options, &run).unwrap_err();
    assert!(matches!(err, Error::Cancelled), "{err}");
    assert_eq!(audio_segments(cut), 1, "of {all}");
    // The first segment's second of PCM and the read-ahead of one block (1 MiB), of 60.
    let read = counted.read.load(Ordering::Relaxed);
    assert!(read < len / 2, "{read} of {len} bytes read");
}
