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

    // A track that cannot be carried fails with exit 1; --skip leaves it out, printed.
    let unknown = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/malformed/unknown-codecs.mp4")
        .display()
        .to_string();
    let r = dashpack(&["package", &unknown, "-o", &out("uncarried")]);
    assert_eq!(r.status.code(), Some(1));
    let err = String::from_utf8(r.stderr).unwrap();
    assert!(
        err.contains("track 1 (vide, 'zzzz') cannot be carried") && err.contains("skip track 1"),
        "{err}"
    );
    let r = dashpack(&[
        "package",
        &fixture("h264_aac.mp4"),
        "-o",
        &out("skipped"),
        "-f",
        "--skip",
        "audio",
    ]);
    assert!(r.status.success());
    let err = String::from_utf8(r.stderr).unwrap();
    assert!(
        err.contains("warning") && err.contains("track 2 (soun, 'mp4a'): left out as asked"),
        "{err}"
    );
    assert!(!String::from_utf8(r.stdout).unwrap().contains("audio-1"));
    let r = dashpack(&[
        "package",
        &fixture("h264_aac.mp4"),
        "-o",
        &out("skip-bad"),
        "--skip",
        "0",
    ]);
    assert_eq!(r.status.code(), Some(2), "clap refuses a bad track");

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

#[test]
fn encryption_flags_and_key_secrecy() {
    const KID: &str = "0123456789abcdef0123456789abcdef";
    const KEY: &str = "00112233445566778899aabbccddeeff";
    let o = out("encrypted");
    let pssh_file = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cli-widevine.pssh");
    // A Widevine pssh box (version 0) with 4 bytes of system data.
    let mut pssh = vec![0, 0, 0, 36];
    pssh.extend_from_slice(b"pssh");
    pssh.extend_from_slice(&[0; 4]);
    pssh.extend_from_slice(&[
        0xed, 0xef, 0x8b, 0xa9, 0x79, 0xd6, 0x4a, 0xce, 0xa3, 0xc8, 0x27, 0xdc, 0xd5, 0x1d, 0x21,
        0xed,
    ]);
    pssh.extend_from_slice(&[0, 0, 0, 4, 1, 2, 3, 4]);
    std::fs::write(&pssh_file, &pssh).unwrap();
    let key = format!("{KID}:{KEY}");
    let pssh_arg = format!("@{}", pssh_file.display());
    let r = dashpack(&[
        "package",
        &fixture("h264_aac.mp4"),
        "-o",
        &o,
        "--json",
        "--encryption-key",
        &key,
        "--encryption-scheme",
        "cbcs",
        "--clearkey-license-url",
        "https://license.example/ck",
        "--pssh",
        &pssh_arg,
    ]);
    let stdout = String::from_utf8_lossy(&r.stdout);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    assert!(!stdout.contains(KEY), "the key is not in the summary");
    let mpd = std::fs::read_to_string(PathBuf::from(&o).join("stream.mpd")).unwrap();
    assert!(
        mpd.contains("urn:uuid:edef8ba9-79d6-4ace-a3c8-27dcd51d21ed"),
        "{mpd}"
    );
    assert!(mpd.contains("value=\"Widevine\""));
    assert!(mpd.contains("https://license.example/ck") && !mpd.contains(KEY));
    let init = std::fs::read(PathBuf::from(&o).join("video-1/init.mp4")).unwrap();
    assert!(
        init.windows(pssh.len()).any(|w| w == pssh),
        "the given pssh is in the init segment"
    );

    // Bad values: one line, status 1, the key material never repeated.
    for args in [
        vec![
            "--encryption-key",
            "0123456789abcdef0123456789abcdef:0011223344556677aa",
        ],
        vec!["--encryption-key", &key, "--encryption-scheme", "cbc1"],
        vec!["--clear-lead", "4"],
        vec!["--encryption-key", &key, "--pssh", "AAAA"],
    ] {
        let o = out("encrypted-bad");
        let mut all = vec!["package", "-o", &o];
        let input = fixture("h264_aac.mp4");
        all.push(&input);
        all.extend(args.iter().copied());
        let r = dashpack(&all);
        let stderr = String::from_utf8_lossy(&r.stderr);
        assert_eq!(r.status.code(), Some(1), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(!stderr.contains("0011223344556677"), "{stderr}");
        assert!(!PathBuf::from(&o).exists());
    }
}
