//! The `dashpack` command as scripts use it: exit status, one-line errors, JSON output,
//! and Bento4-compatible flag names.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::{Command, Output};

fn dashpack(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dashpack"))
        .args(args)
        .output()
        .unwrap()
}

fn fixture(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures")
        .join(name)
        .display()
        .to_string()
}

fn out(name: &str) -> String {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("cli-{name}"));
    let _ = std::fs::remove_dir_all(&d);
    d.display().to_string()
}

#[test]
fn package_prints_a_summary() {
    let o = out("summary");
    let r = dashpack(&["package", &fixture("h264_aac.mp4"), "-o", &o]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let stdout = String::from_utf8(r.stdout).unwrap();
    assert!(stdout.contains("stream.mpd"), "{stdout}");
    assert!(
        stdout.contains("avc1.64000C") && stdout.contains("mp4a.40.2"),
        "{stdout}"
    );
    assert!(stdout.contains("2 representations"), "{stdout}");
    assert!(PathBuf::from(&o).join("stream.mpd").exists());
}

#[test]
fn package_json_and_bento4_flags() {
    let o = out("json");
    let r = dashpack(&[
        "package",
        &fixture("hevc_aac.mp4"),
        "-o",
        &o,
        "--mpd-name",
        "manifest.mpd",
        "--segment-duration",
        "2",
        "--timeline",
        "time",
        "--json",
    ]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let v: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
    assert_eq!(v["mpd"], "manifest.mpd");
    assert_eq!(v["representations"][0]["segments"], 6);
    assert!(v["seconds"].as_f64().unwrap() >= 0.0);
    assert!(PathBuf::from(&o).join("manifest.mpd").exists());

    // Existing output: refused, then replaced with -f.
    let again = dashpack(&["package", &fixture("hevc_aac.mp4"), "-o", &o]);
    assert!(!again.status.success());
    let err = String::from_utf8(again.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("not empty") && err.contains("--force"),
        "{err}"
    );
    let forced = dashpack(&["package", &fixture("hevc_aac.mp4"), "-o", &o, "-f"]);
    assert!(forced.status.success());
    assert!(!PathBuf::from(&o).join("manifest.mpd").exists());
}

#[test]
fn errors_are_one_line_with_file_box_and_offset() {
    let bad = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cli-bad.mp4");
    let good = std::fs::read(fixture("h264_aac.mp4")).unwrap();
    std::fs::write(&bad, &good[..2000]).unwrap();
    let r = dashpack(&["package", bad.to_str().unwrap(), "-o", &out("bad")]);
    assert_eq!(r.status.code(), Some(1));
    let err = String::from_utf8(r.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("cli-bad.mp4") && err.contains("moov at byte"),
        "{err}"
    );

    let r = dashpack(&["package", "/nonexistent/x.mp4", "-o", &out("missing")]);
    assert!(!r.status.success());
    assert!(
        String::from_utf8(r.stderr)
            .unwrap()
            .contains("/nonexistent/x.mp4")
    );
}

#[test]
fn inspect_text_and_json() {
    let r = dashpack(&["inspect", &fixture("h264_ntsc.mp4")]);
    assert!(r.status.success());
    let text = String::from_utf8(r.stdout).unwrap();
    assert!(
        text.contains("30000/1001") && text.contains("44100 Hz"),
        "{text}"
    );
    assert!(text.contains("package: 3 segments"), "{text}");
    let r = dashpack(&["inspect", &fixture("audio_only.m4a"), "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
    assert_eq!(v["tracks"][0]["content_type"], "audio");
    assert_eq!(v["tracks"][0]["codecs"], "mp4a.40.2");
    assert_eq!(v["tracks"][0]["planned_segments"], 3);
}
