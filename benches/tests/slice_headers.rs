//! The slice header lengths subsample encryption leaves clear, against FFmpeg's own
//! bitstream parser: its `trace_headers` filter prints every syntax element of every
//! slice header with its bit position, and the header ends with the last of them.
//! Every slice of the H.264 (CABAC, B-frames) and HEVC fixtures must agree.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::Command;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures")
        .join(name)
}

/// Per slice, the header's length in bytes of the NAL unit (header included) as
/// FFmpeg's parser reads it: the end of its last syntax element, rounded up to bytes.
fn ffmpeg_lengths(file: &PathBuf) -> Vec<usize> {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "trace", "-i"])
        .arg(file)
        .args([
            "-map",
            "0:v:0",
            "-c",
            "copy",
            "-bsf:v",
            "trace_headers",
            "-f",
            "null",
            "-",
        ])
        .output()
        .expect("ffmpeg runs");
    let log = String::from_utf8_lossy(&out.stderr);
    let mut lengths = Vec::new();
    let mut in_slice = false;
    let mut end = 0usize;
    for line in log.lines() {
        // Element names such as `entry_point_offset_minus1[0]` hold "] " too.
        let Some((_, rest)) = line.split_once("] ") else {
            continue;
        };
        if rest.starts_with("Slice Header") || rest.starts_with("Slice Segment Header") {
            if in_slice {
                lengths.push(end.div_ceil(8));
            }
            in_slice = true;
            end = 0;
            continue;
        }
        if !in_slice {
            continue;
        }
        // "POS   name   BITS = value": an element of the current header.
        let fields: Vec<&str> = rest.split_whitespace().collect();
        match (
            fields.first().and_then(|p| p.parse::<usize>().ok()),
            fields.iter().position(|f| *f == "="),
        ) {
            (Some(pos), Some(eq)) if eq >= 2 => end = pos + fields[eq - 1].len(),
            _ => {
                // Anything else (the next packet, a parameter set) ends the header.
                lengths.push(end.div_ceil(8));
                in_slice = false;
            }
        }
    }
    if in_slice {
        lengths.push(end.div_ceil(8));
    }
    lengths
}

fn compare(name: &str) {
    let input = dashpack::Input::open(fixture(name)).unwrap();
    let ours = dashpack::bench::slice_header_lengths(&input).unwrap();
    let theirs = ffmpeg_lengths(&fixture(name));
    assert!(
        theirs.len() > 100,
        "{name}: FFmpeg traced {} slices",
        theirs.len()
    );
    assert_eq!(ours.len(), theirs.len(), "{name}: slice count");
    for (i, (a, b)) in ours.iter().zip(&theirs).enumerate() {
        assert_eq!(*a, Some(*b), "{name}: slice {i}");
    }
}

#[test]
fn h264_slice_headers_agree_with_ffmpeg() {
    compare("h264_aac.mp4");
}

#[test]
fn hevc_slice_headers_agree_with_ffmpeg() {
    compare("hevc_aac.mp4");
}
