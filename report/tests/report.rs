//! The quality report against the files it describes: every segment once with its
//! file's size, durations that add up to the presentation's, rates that are bytes over
//! seconds, keyframes where the packager put them; and each kind of damage (a truncated
//! segment, a missing one, a `sidx` that disagrees with the boxes) becomes a warning
//! naming the file.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use dashpack::{Options, Profile, Timeline};
use dashpack_report::{Severity, analyze};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures")
        .join(name)
}

fn package(name: &str, inputs: &[&str], options: Options) -> (PathBuf, dashpack::Presentation) {
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("report-{name}"));
    let inputs: Vec<PathBuf> = inputs.iter().map(|i| fixture(i)).collect();
    let options = options.with_force(true);
    let p = dashpack::package_files(&inputs, &out, &options).unwrap();
    (out, p)
}

fn segment_files(dir: &Path) -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".m4s"))
        .collect();
    files.sort();
    files
}

#[test]
fn live_ladder_is_described_by_its_files() {
    for timeline in [Timeline::Number, Timeline::Time] {
        let (dir, p) = package(
            &format!("ladder-{timeline:?}"),
            &["h264_aac.mp4", "video_low.mp4"],
            Options::default().with_timeline(timeline),
        );
        let report = analyze(&dir).unwrap();
        let warnings: Vec<_> = report.warnings().map(|w| &w.message).collect();
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(report.representations.len(), p.representations.len());
        for r in &report.representations {
            let made = p.representations.iter().find(|m| m.id == r.id).unwrap();
            assert_eq!(r.segments.len() as u32, made.segments, "{}", r.id);
            let mut on_disk = segment_files(&dir.join(&r.id));
            let mut listed: Vec<String> = r
                .segments
                .iter()
                .map(|s| s.file.rsplit('/').next().unwrap().to_string())
                .collect();
            on_disk.sort();
            listed.sort();
            assert_eq!(listed, on_disk, "{}", r.id);
            let mut bytes = std::fs::metadata(dir.join(r.init.as_ref().unwrap()))
                .unwrap()
                .len();
            let mut seconds = 0.0;
            for s in &r.segments {
                let size = std::fs::metadata(dir.join(&s.file)).unwrap().len();
                assert_eq!(s.bytes, size, "{}", s.file);
                assert!(s.problem.is_none(), "{}: {:?}", s.file, s.problem);
                assert!((s.bitrate - size as f64 * 8.0 / s.duration).abs() < 1e-6);
                // The packager starts every segment on a sync sample.
                assert!(s.keyframe, "{}", s.file);
                bytes += size;
                seconds += s.duration;
            }
            assert_eq!(bytes, made.bytes, "{}", r.id);
            assert!(
                (seconds - p.duration).abs() < 0.05,
                "{}: {seconds} vs {}",
                r.id,
                p.duration
            );
            assert_eq!(r.bandwidth, made.bandwidth);
            assert!(r.buffer_model_holds, "{}", r.id);
            assert!(r.peak_bitrate >= r.average_bitrate);
            assert_eq!((r.width, r.height), (made.width, made.height));
            if made.content_type == dashpack::ContentType::Video {
                let declared: f64 = {
                    let f = made.frame_rate.as_deref().unwrap();
                    match f.split_once('/') {
                        Some((a, b)) => a.parse::<f64>().unwrap() / b.parse::<f64>().unwrap(),
                        None => f.parse().unwrap(),
                    }
                };
                assert!((r.frame_rate.unwrap() - declared).abs() < 0.01, "{}", r.id);
            }
        }
        // The A/V note: both first samples are found.
        assert!(
            report
                .findings
                .iter()
                .any(|f| f.message.starts_with("first video sample presented at")),
            "{:?}",
            report.findings
        );
        let html = report.to_html(None);
        let bars = html.matches("<rect class=\"bar").count();
        let segments: usize = report
            .representations
            .iter()
            .map(|r| r.segments.len())
            .sum();
        assert_eq!(bars, segments);
        assert!(!html.contains("<script"));
    }
}

#[test]
fn damage_becomes_warnings_naming_the_file() {
    let (dir, _) = package("damaged", &["h264_aac.mp4"], Options::default());
    let report = analyze(&dir).unwrap();
    let video = report
        .representations
        .iter()
        .find(|r| r.content_type == "video")
        .unwrap();
    let audio = report
        .representations
        .iter()
        .find(|r| r.content_type == "audio")
        .unwrap();
    let truncated = video.segments[1].file.clone();
    let missing = audio.segments[0].file.clone();
    let path = dir.join(&truncated);
    let len = std::fs::metadata(&path).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(len / 2)
        .unwrap();
    std::fs::remove_file(dir.join(&missing)).unwrap();

    let report = analyze(&dir).unwrap();
    let warnings: Vec<&str> = report.warnings().map(|w| w.message.as_str()).collect();
    let about = |file: &str| warnings.iter().find(|w| w.contains(file)).copied();
    let t = about(&truncated).unwrap_or_else(|| panic!("no warning for {truncated}: {warnings:?}"));
    assert!(t.contains("mdat") && t.contains("byte"), "{t}");
    let m = about(&missing).unwrap_or_else(|| panic!("no warning for {missing}: {warnings:?}"));
    assert!(m.contains("missing"), "{m}");
    let html = report.to_html(None);
    assert!(html.contains("class=\"bar bad\""));
    assert!(html.contains("<li class=\"warning\">"));
}

#[test]
fn on_demand_subsegments_come_from_the_sidx() {
    let (dir, p) = package(
        "on-demand",
        &["h264_aac.mp4"],
        Options::default().with_profile(Profile::OnDemand),
    );
    let report = analyze(dir.join(&p.mpd)).unwrap();
    let warnings: Vec<_> = report.warnings().map(|w| &w.message).collect();
    assert!(warnings.is_empty(), "{warnings:?}");
    let video = report
        .representations
        .iter()
        .find(|r| r.content_type == "video")
        .unwrap();
    let file = dir.join(video.init.as_ref().unwrap());
    let len = std::fs::metadata(&file).unwrap().len();
    let last = video.segments.last().unwrap().range.unwrap().1;
    assert_eq!(last + 1, len);
    for s in &video.segments {
        let (a, b) = s.range.unwrap();
        assert_eq!(s.bytes, b - a + 1);
        assert!(s.problem.is_none(), "{:?}", s.problem);
        // The sidx declares SAP type 1 for closed-GOP H.264.
        assert_eq!(s.sap_type, 1);
    }

    // A sidx reference one byte short: the split lands inside a box.
    let mut bytes = std::fs::read(&file).unwrap();
    let at = bytes.windows(4).position(|w| w == b"sidx").unwrap() - 4;
    // Version 1: header, version and flags, reference_ID, timescale, 64-bit earliest
    // presentation time and first offset, reserved, reference_count.
    assert_eq!(bytes[at + 8], 1);
    let first_ref = at + 8 + 4 + 4 + 4 + 16 + 4;
    let size = u32::from_be_bytes(bytes[first_ref..first_ref + 4].try_into().unwrap());
    bytes[first_ref..first_ref + 4].copy_from_slice(&(size - 1).to_be_bytes());
    std::fs::write(&file, &bytes).unwrap();
    let report = analyze(dir.join(&p.mpd)).unwrap();
    let w: Vec<_> = report
        .findings
        .iter()
        .filter(|f| {
            f.severity == Severity::Warning
                && f.representation.as_deref() == Some(video.id.as_str())
        })
        .map(|f| f.message.clone())
        .collect();
    assert!(w.iter().any(|m| m.contains("sidx")), "{w:?}");
}

#[test]
fn no_mpd_is_an_error_naming_the_folder() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("report-empty");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let e = analyze(&dir).unwrap_err().to_string();
    assert!(e.contains("report-empty") && e.contains("no .mpd"), "{e}");
    std::fs::write(dir.join("x.mpd"), "<MPD><Period").unwrap();
    let e = analyze(&dir).unwrap_err().to_string();
    assert!(e.contains("x.mpd") && e.contains("MPD"), "{e}");
}

#[test]
fn an_mpd_over_the_limit_is_a_limit_not_an_io_error() {
    let dir = std::env::temp_dir().join(format!("dashpack-report-big-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mpd = dir.join("stream.mpd");
    // Sparse: a 1 GiB MPD without writing it.
    std::fs::File::create(&mpd)
        .unwrap()
        .set_len(1 << 30)
        .unwrap();
    let e = analyze(&mpd).unwrap_err();
    assert_eq!(e.kind(), dashpack::ErrorKind::Limit, "{e}");
    assert!(e.to_string().contains("stream.mpd"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every fixture's presentation reads back whole: each Representation has its init
/// segment understood (a codec the box decoder does not know included) and every
/// segment read, with no warning.
#[test]
fn every_fixture_reads_back_without_a_warning() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".mp4") || n.ends_with(".mov") || n.ends_with(".m4a"))
        // MPEG-4 Part 2 is packaged only through a ladder (packager/tests/ladder.rs).
        .filter(|n| !n.starts_with("mpeg4_"))
        .collect();
    names.sort();
    assert!(names.len() > 30, "{names:?}");
    for name in &names {
        let (out, p) = package(&format!("fixture-{name}"), &[name], Options::default());
        let report = analyze(&out).unwrap();
        let mut warnings: Vec<_> = report.warnings().map(|w| &w.message).collect();
        if name == "fragmented_late_video.mp4" {
            // Its first frame is shown through the 10 s before the video starts, so its
            // first segment is that much longer: the one warning it must get.
            assert_eq!(warnings.len(), 1, "{name}: {warnings:?}");
            assert!(warnings[0].starts_with("uneven segment durations: 1 of "));
            warnings.clear();
        }
        assert!(warnings.is_empty(), "{name}: {warnings:?}");
        assert_eq!(
            report.representations.len(),
            p.representations.len(),
            "{name}"
        );
        for r in report
            .representations
            .iter()
            .filter(|r| r.content_type != "text")
        {
            assert!(
                r.init.is_some() && !r.segments.is_empty(),
                "{name}: {}",
                r.id
            );
            assert!(
                r.segments.iter().all(|s| s.problem.is_none()),
                "{name}: {}",
                r.id
            );
        }
    }
}
