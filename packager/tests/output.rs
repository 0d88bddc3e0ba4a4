//! The output folder appears whole or not at all; `force` replaces it without leaving
//! stale files; progress is reported and cancellation leaves nothing behind.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use common::*;
use dashpack::{Error, Input, Options};

fn dir(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("output-{name}"));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn listing(d: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(d).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            for f in std::fs::read_dir(e.path()).unwrap() {
                out.push(format!(
                    "{}/{}",
                    e.file_name().to_string_lossy(),
                    f.unwrap().file_name().to_string_lossy()
                ));
            }
        } else {
            out.push(e.file_name().to_string_lossy().into_owned());
        }
    }
    out.sort();
    out
}

fn parent_is_clean(d: &std::path::Path) {
    let name = d.file_name().unwrap().to_string_lossy().into_owned();
    let leftovers: Vec<_> = std::fs::read_dir(d.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(&format!(".{name}")))
        .collect();
    assert!(
        leftovers.is_empty(),
        "staging folders left behind: {leftovers:?}"
    );
}

#[test]
fn writes_a_folder_with_the_mpd_and_segments() {
    let d = dir("basic");
    let p = dashpack::package_files(&[fixture("h264_aac.mp4")], &d, &Options::default()).unwrap();
    let files = listing(&d);
    assert!(files.contains(&"stream.mpd".to_string()));
    assert_eq!(files.len() as u64, p.files);
    let bytes: u64 = files
        .iter()
        .map(|f| std::fs::metadata(d.join(f)).unwrap().len())
        .sum();
    assert_eq!(bytes, p.bytes);
    parent_is_clean(&d);
}

#[test]
fn refuses_a_non_empty_folder_without_force() {
    let d = dir("refuse");
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("keep.txt"), b"mine").unwrap();
    let err =
        dashpack::package_files(&[fixture("h264_aac.mp4")], &d, &Options::default()).unwrap_err();
    assert!(matches!(err, Error::OutputExists { .. }), "{err}");
    assert_eq!(std::fs::read(d.join("keep.txt")).unwrap(), b"mine");
    // An empty folder is fine.
    let e = dir("empty-ok");
    std::fs::create_dir_all(&e).unwrap();
    dashpack::package_files(&[fixture("h264_aac.mp4")], &e, &Options::default()).unwrap();
}

#[test]
fn force_replaces_everything() {
    let d = dir("force");
    let opts = Options::default().with_segment_duration(2.0);
    dashpack::package_files(&[fixture("h264_aac.mp4")], &d, &opts).unwrap();
    assert!(d.join("video-1/seg-6.m4s").exists());
    std::fs::write(d.join("stale.txt"), b"old").unwrap();
    let opts = Options::default().with_force(true);
    let p = dashpack::package_files(&[fixture("h264_aac.mp4")], &d, &opts).unwrap();
    let files = listing(&d);
    assert!(!files.contains(&"stale.txt".to_string()));
    assert!(
        !d.join("video-1/seg-6.m4s").exists(),
        "segments of the earlier run are gone"
    );
    assert_eq!(files.len() as u64, p.files);
    parent_is_clean(&d);
}

#[test]
fn a_failed_run_leaves_no_output() {
    let d = dir("failed");
    let broken = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("broken-input.mp4");
    let good = std::fs::read(fixture("h264_aac.mp4")).unwrap();
    std::fs::write(&broken, &good[..good.len() / 2]).unwrap();
    let err = dashpack::package_files(&[&broken], &d, &Options::default()).unwrap_err();
    assert!(matches!(err, Error::Malformed { .. }));
    assert!(!d.exists());
    parent_is_clean(&d);

    // With force, a failure keeps the previous presentation intact.
    let opts = Options::default().with_force(true);
    dashpack::package_files(&[fixture("h264_aac.mp4")], &d, &opts).unwrap();
    let before = listing(&d);
    dashpack::package_files(&[&broken], &d, &opts).unwrap_err();
    assert_eq!(listing(&d), before);
    parent_is_clean(&d);
}

#[test]
fn cancel_stops_and_leaves_nothing() {
    let d = dir("cancel");
    let flag = Arc::new(AtomicBool::new(false));
    let seen = flag.clone();
    // Cancel as soon as the first segment is done.
    let run = dashpack::RunControl::default()
        .with_cancel(flag.clone())
        .with_progress(move |_| seen.store(true, Ordering::Relaxed));
    let input = Input::open(fixture("h264_aac.mp4")).unwrap();
    let sink = dashpack::DirSink::create(&d, false).unwrap();
    let err = dashpack::package(&[input], &sink, &Options::default(), &run).unwrap_err();
    drop(sink);
    assert!(matches!(err, Error::Cancelled), "{err}");
    assert!(!d.exists());
    parent_is_clean(&d);
}

#[test]
fn progress_reaches_the_total() {
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink_events = events.clone();
    let run =
        dashpack::RunControl::default().with_progress(move |p| sink_events.lock().unwrap().push(p));
    let sink = dashpack::MemorySink::new();
    let input = Input::open(fixture("hevc_aac.mp4")).unwrap();
    dashpack::package(&[input], &sink, &Options::default(), &run).unwrap();
    let events = events.lock().unwrap();
    let last = events.iter().max_by_key(|p| p.bytes_done).unwrap();
    assert_eq!(last.bytes_done, last.bytes_total);
    assert!(events.len() >= 6, "one event per segment");
}

#[test]
fn inspect_describes_tracks_and_plan() {
    let info = dashpack::inspect(
        &Input::open(fixture("h264_ntsc.mp4")).unwrap(),
        &Options::default(),
    )
    .unwrap();
    assert_eq!(info.tracks.len(), 2);
    let v = &info.tracks[0];
    assert_eq!(v.sample_entry, "avc1");
    assert_eq!(v.frame_rate.as_deref(), Some("30000/1001"));
    assert_eq!(v.samples, 360);
    assert!((v.keyframe_interval.unwrap() - 2.002).abs() < 0.01);
    assert!((v.duration - 12.012).abs() < 0.001, "{}", v.duration);
    assert_eq!(v.planned_segments, 3);
    let a = &info.tracks[1];
    assert_eq!((a.sample_rate, a.channels), (Some(44100), Some(1)));
    assert!(a.bitrate > 30_000 && a.bitrate < 100_000, "{}", a.bitrate);
}

#[test]
fn bad_options_are_refused() {
    let input = Input::open(fixture("h264_aac.mp4")).unwrap();
    let sink = dashpack::MemorySink::new();
    for opts in [
        Options::default().with_segment_duration(0.0),
        Options::default().with_segment_duration(f64::NAN),
        Options::default().with_mpd_name("../x.mpd"),
    ] {
        let err = dashpack::package(
            std::slice::from_ref(&input),
            &sink,
            &opts,
            &dashpack::RunControl::default(),
        )
        .unwrap_err();
        assert!(matches!(err, Error::InvalidOption { .. }), "{err}");
    }
    let err = dashpack::package(
        &[],
        &sink,
        &Options::default(),
        &dashpack::RunControl::default(),
    )
    .unwrap_err();
    assert!(matches!(err, Error::InvalidOption { name: "inputs", .. }));
}

#[test]
fn several_inputs_make_one_presentation() {
    // Two renditions with the same keyframe grid: one video AdaptationSet, aligned.
    let sink = dashpack::MemorySink::new();
    let inputs = [
        Input::open(fixture("h264_aac.mp4")).unwrap(),
        Input::open(fixture("video_only.mp4")).unwrap(),
    ];
    let p = dashpack::package(
        &inputs,
        &sink,
        &Options::default(),
        &dashpack::RunControl::default(),
    )
    .unwrap();
    let ids: Vec<_> = p.representations.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["video-1", "audio-1", "video-2"]);
    let files = sink.into_files();
    let mpd = dash_mpd::parse(std::str::from_utf8(&files["stream.mpd"]).unwrap()).unwrap();
    let sets = &mpd.periods[0].adaptations;
    assert_eq!(sets.len(), 2);
    assert_eq!(sets[0].representations.len(), 2);
    assert_eq!(sets[0].segmentAlignment, Some(true));
}

#[test]
fn misaligned_inputs_are_refused() {
    // The same clip twice, but in the copy the sync sample at 2 s is moved to 3 s:
    // at a 2 s target the second segment starts at 2 s in one and 3 s in the other.
    let good = std::fs::read(fixture("video_only.mp4")).unwrap();
    let mut moved = good.clone();
    let at = moved.windows(4).position(|w| w == b"stss").unwrap() - 4;
    let second = at + 20;
    assert_eq!(
        u32::from_be_bytes(moved[second..second + 4].try_into().unwrap()),
        51
    );
    moved[second..second + 4].copy_from_slice(&76u32.to_be_bytes());
    let sink = dashpack::MemorySink::new();
    let inputs = [
        Input::from_bytes("a.mp4", good),
        Input::from_bytes("b.mp4", moved),
    ];
    let err = dashpack::package(
        &inputs,
        &sink,
        &Options::default().with_segment_duration(2.0),
        &dashpack::RunControl::default(),
    )
    .unwrap_err();
    match &err {
        Error::Misaligned { detail } => {
            assert!(
                detail.contains("a.mp4") && detail.contains("b.mp4"),
                "{detail}"
            );
            assert!(detail.contains("segment 2 starts at 2.000 s"), "{detail}");
        }
        other => panic!("{other}"),
    }
    assert!(sink.into_files().is_empty());
}
