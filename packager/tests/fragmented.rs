//! Fragmented input in the forms other packagers write: the fixture (ffmpeg, one `trun`
//! per `traf`, `default-base-is-moof`) is rewritten with mp4-atom so that every `traf`
//! has two `trun`s (the second without a data offset: its data follows the first's)
//! and no `default-base-is-moof` (so a second `traf`'s data offsets count from the end
//! of the first one's data, ISO/IEC 14496-12 8.8.7.1). Both files must package to
//! byte-identical output.
#![allow(clippy::unwrap_used)]

#[macro_use]
mod common;

use std::io::Cursor;

use common::*;
use dashpack::{Input, MemorySink, Options};
use mp4_atom::{Decode, Encode, Moof, Trun, TrunSamples};

fn rewrite(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len() + 4096);
    let mut rewritten = 0;
    for (kind, start, end) in top_level(input) {
        if &kind != b"moof" {
            out.extend_from_slice(&input[start..end]);
            continue;
        }
        let old = Moof::decode(&mut Cursor::new(&input[start..end])).unwrap();
        // Data ranges relative to the moof start, per traf: (offset, total size).
        let ranges: Vec<(i64, i64)> = old
            .traf
            .iter()
            .map(|t| {
                assert!(t.tfhd.default_base_is_moof && t.trun.len() == 1);
                let size: i64 = t.trun[0]
                    .samples
                    .iter()
                    .map(|s| i64::from(s.size.unwrap()))
                    .sum();
                (i64::from(t.trun[0].data_offset.unwrap()), size)
            })
            .collect();
        let split = |offset: Option<i32>, t: &Trun| -> Vec<Trun> {
            let TrunSamples::Explicit(samples) = &t.samples else {
                panic!("per-sample trun expected")
            };
            let half = samples.len().div_ceil(2);
            let mut runs = vec![Trun {
                data_offset: offset,
                samples: TrunSamples::Explicit(samples[..half].to_vec()),
            }];
            if half < samples.len() {
                runs.push(Trun {
                    data_offset: None,
                    samples: TrunSamples::Explicit(samples[half..].to_vec()),
                });
            }
            runs
        };
        let build = |delta: i64| {
            let mut m = old.clone();
            let mut prev_end = 0i64;
            for (k, t) in m.traf.iter_mut().enumerate() {
                let (offset, size) = ranges[k];
                let data = offset + delta;
                let base = if k == 0 { 0 } else { prev_end };
                t.tfhd.default_base_is_moof = false;
                t.trun = split(Some((data - base) as i32), &t.trun[0]);
                prev_end = data + size;
            }
            let mut buf = Vec::new();
            m.encode(&mut buf).unwrap();
            buf
        };
        let delta = build(0).len() as i64 - (end - start) as i64;
        let moof = build(delta);
        assert_eq!(moof.len() as i64 - (end - start) as i64, delta);
        out.extend_from_slice(&moof);
        rewritten += 1;
    }
    assert!(rewritten > 1, "the fixture has several fragments");
    out
}

fn package(input: Input) -> std::collections::BTreeMap<String, Vec<u8>> {
    package_with(input).1
}

/// The presentation and its files.
fn package_with(
    input: Input,
) -> (
    dashpack::Presentation,
    std::collections::BTreeMap<String, Vec<u8>>,
) {
    let sink = MemorySink::new();
    let p = dashpack::package(
        &[input],
        &sink,
        &Options::default(),
        &dashpack::RunControl::default(),
    )
    .unwrap();
    (p, sink.into_files())
}

#[test]
fn several_truns_and_implicit_bases_read_the_same() {
    let original = std::fs::read(fixture("fragmented.mp4")).unwrap();
    let other = rewrite(&original);
    assert_ne!(original, other);
    // The rewritten file is what it claims: two truns in a traf, no default-base-is-moof.
    let (_, s, e) = top_level(&other)
        .into_iter()
        .find(|b| &b.0 == b"moof")
        .unwrap();
    let moof = Moof::decode(&mut Cursor::new(&other[s..e])).unwrap();
    assert_eq!(moof.traf[0].trun.len(), 2);
    assert!(!moof.traf[0].tfhd.default_base_is_moof);
    let a = package(Input::from_bytes("fragmented.mp4", original));
    let b = package(Input::from_bytes("fragmented.mp4", other));
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    for (k, v) in &a {
        assert!(v == &b[k], "{k} differs");
    }
}

/// A gap in decode time between fragments (a later `tfdt` past the end of the samples
/// so far, as when a live capture drops a fragment's worth of time): every later sample
/// keeps the time its `tfdt` gives, so video stays in sync with audio.
#[test]
fn a_gap_between_fragments_keeps_later_samples_in_place() {
    const GAP: u64 = 1280; // 0.1 s at the video timescale (12800)
    let original = std::fs::read(fixture("fragmented.mp4")).unwrap();
    let mut gapped = Vec::with_capacity(original.len());
    let mut moofs = 0;
    for (kind, start, end) in top_level(&original) {
        if &kind != b"moof" {
            gapped.extend_from_slice(&original[start..end]);
            continue;
        }
        moofs += 1;
        let mut moof = Moof::decode(&mut Cursor::new(&original[start..end])).unwrap();
        if moofs >= 3 {
            for t in moof.traf.iter_mut().filter(|t| t.tfhd.track_id == 1) {
                t.tfdt.as_mut().unwrap().base_media_decode_time += GAP;
            }
        }
        let mut buf = Vec::new();
        moof.encode(&mut buf).unwrap();
        assert_eq!(buf.len(), end - start, "tfdt keeps its size");
        gapped.extend_from_slice(&buf);
    }
    let times = |data: Vec<u8>| -> Vec<(i64, u32)> {
        let files = package(Input::from_bytes("fragmented.mp4", data));
        let mut segs: Vec<(&String, &Vec<u8>)> = files
            .iter()
            .filter(|(k, _)| k.starts_with("video-1/seg-"))
            .collect();
        segs.sort_by_key(|(k, _)| {
            k.trim_start_matches("video-1/seg-")
                .trim_end_matches(".m4s")
                .parse::<u32>()
                .unwrap()
        });
        segs.iter()
            .flat_map(|(_, b)| {
                read_segment(b, 1)
                    .samples
                    .into_iter()
                    .map(|s| (s.pt(), s.duration))
            })
            .collect()
    };
    let before = times(original);
    let after = times(gapped);
    assert_eq!(before.len(), after.len());
    // Find the first sample whose time moved: from there on, every sample moved by GAP.
    let first = before
        .iter()
        .zip(&after)
        .position(|(a, b)| a.0 != b.0)
        .expect("a gap");
    assert!(first > 0);
    for (a, b) in before[first..].iter().zip(&after[first..]) {
        assert_eq!(b.0 - a.0, GAP as i64);
    }
    let longer = before
        .iter()
        .zip(&after)
        .filter(|(a, b)| b.1 == a.1 + GAP as u32)
        .count();
    assert_eq!(longer, 1, "exactly one sample is longer, by the gap");
}

/// Video (track 1) that starts 10 s after the audio (`make_late_video.py`): its first
/// frame is shown from the start, lengthened by the 10 s, and every later video sample,
/// and all the audio, stays where the input puts it.
#[test]
fn video_that_starts_late_shows_its_first_frame_from_the_start() {
    const LATE: i64 = 10 * 12_800; // 10 s at the video timescale
    let times = |name: &str, rep: &str| -> (Vec<(i64, u32)>, Vec<String>) {
        let sink = MemorySink::new();
        let p = dashpack::package(
            &[Input::open(fixture(name)).unwrap()],
            &sink,
            &Options::default(),
            &dashpack::RunControl::default(),
        )
        .unwrap();
        let files = sink.into_files();
        let mut segs: Vec<(u32, &Vec<u8>)> = files
            .iter()
            .filter_map(|(k, v)| {
                let n = k.strip_prefix(&format!("{rep}/seg-"))?;
                Some((n.trim_end_matches(".m4s").parse().unwrap(), v))
            })
            .collect();
        segs.sort_by_key(|s| s.0);
        let samples = segs
            .iter()
            .flat_map(|(_, b)| read_segment(b, 1).samples)
            .map(|s| (s.pt(), s.duration))
            .collect();
        (samples, p.warnings)
    };
    let (early, _) = times("fragmented.mp4", "video-1");
    let (late, warnings) = times("fragmented_late_video.mp4", "video-1");
    assert_eq!(early.len(), late.len());
    assert_eq!(
        late[0].1,
        early[0].1 + LATE as u32,
        "the first frame lasts the gap too"
    );
    assert_eq!(
        late[0].0, early[0].0,
        "and is shown from where the video started"
    );
    for (e, l) in early[1..].iter().zip(&late[1..]) {
        assert_eq!((l.0 - e.0, l.1), (LATE, e.1));
    }
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("track 1: video starts 10.000 s after the presentation")),
        "{warnings:?}"
    );
    assert_eq!(
        times("fragmented.mp4", "audio-1").0,
        times("fragmented_late_video.mp4", "audio-1").0,
        "the audio is untouched"
    );
}

/// The `tfxd` time of each track's first fragment, read from the raw boxes:
/// (track ID, time), signed as FFmpeg writes it.
fn first_tfxd_times(file: &[u8]) -> Vec<(u32, i64)> {
    const TFXD: [u8; 16] = [
        0x6d, 0x1d, 0x9b, 0x05, 0x42, 0xd5, 0x44, 0xe6, 0x80, 0xe2, 0x14, 0x1d, 0xaf, 0xf7, 0x57,
        0xb2,
    ];
    let be32 = |b: &[u8]| u32::from_be_bytes(b[..4].try_into().unwrap());
    let children = |b: &[u8]| {
        let mut out = Vec::new();
        let mut at = 8;
        while at + 8 <= b.len() {
            let size = be32(&b[at..]) as usize;
            out.push((b[at + 4..at + 8].to_vec(), b[at..at + size].to_vec()));
            at += size;
        }
        out
    };
    let mut firsts: Vec<(u32, i64)> = Vec::new();
    for (kind, start, end) in top_level(file) {
        if &kind != b"moof" {
            continue;
        }
        for (k, traf) in children(&file[start..end]) {
            if k != b"traf" {
                continue;
            }
            let boxes = children(&traf);
            let tfhd = &boxes.iter().find(|b| b.0 == b"tfhd").unwrap().1;
            let id = be32(&tfhd[12..]);
            let tfxd = &boxes
                .iter()
                .find(|b| b.0 == b"uuid" && b.1[8..24] == TFXD)
                .unwrap()
                .1;
            assert_eq!(tfxd[24], 1, "tfxd version 1");
            let time = i64::from_be_bytes(tfxd[28..36].try_into().unwrap());
            if !firsts.iter().any(|f| f.0 == id) {
                firsts.push((id, time));
            }
        }
    }
    firsts
}

/// Smooth Streaming as FFmpeg writes it (`-f ismv`): no `tfdt`; each fragment's time
/// is in a `tfxd` box, the audio's first 1024 samples below 0 (the AAC encoder delay,
/// which a progressive file's edit list hides). Each track starts where its first
/// `tfxd` puts it: the video's first frame at the presentation's start, the audio's
/// first sample the delay before it, hidden by `presentationTimeOffset`.
#[test]
fn smooth_streaming_fragment_times_place_the_tracks() {
    let path = fixture("smooth_streaming.ismv");
    let firsts = first_tfxd_times(&std::fs::read(&path).unwrap());
    assert_eq!(firsts, [(1, 0), (2, -213_333)], "the fixture's tfxd times");
    let (p, files) = package_with(Input::open(&path).unwrap());
    let mpd = dash_mpd::parse(std::str::from_utf8(&files[&p.mpd]).unwrap()).unwrap();
    let mut starts = Vec::new();
    for (rep, id) in [("video-1", 1), ("audio-1", 2)] {
        let tpl = mpd.periods[0]
            .adaptations
            .iter()
            .flat_map(|a| &a.representations)
            .find(|r| r.id.as_deref() == Some(rep))
            .and_then(|r| r.SegmentTemplate.clone())
            .unwrap();
        let ts = tpl.timescale.unwrap() as f64;
        let pto = tpl.presentationTimeOffset.unwrap_or(0) as i64;
        let first = read_segment(&files[&format!("{rep}/seg-1.m4s")], 1).samples;
        let earliest = first.iter().map(|s| s.pt()).min().unwrap();
        let tfxd = firsts.iter().find(|f| f.0 == id).unwrap().1;
        starts.push(((earliest - pto) as f64 / ts, tfxd as f64 / ts));
    }
    let (video, audio) = (starts[0], starts[1]);
    assert_eq!(
        video.0, 0.0,
        "the video's first frame starts the presentation"
    );
    assert!(
        ((audio.0 - video.0) - (audio.1 - video.1)).abs() < 1e-7,
        "audio against video as the tfxd times say: {starts:?}"
    );
    assert!(
        (p.duration - 12.0).abs() < 1e-3,
        "the delay is not played: {}",
        p.duration
    );
}
