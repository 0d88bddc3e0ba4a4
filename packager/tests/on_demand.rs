//! The on-demand profile: one file per Representation, `ftyp` + `moov`, a `sidx`, then
//! the segments. Read back with mp4-atom (strict) and dash-mpd: the MPD's byte ranges
//! land on the init segment and the `sidx`, every `sidx` reference covers exactly one
//! `moof` + `mdat` with its duration and SAP type, and each segment is byte for byte
//! the live profile's segment without its `styp`. FFmpeg decodes the input's frames.
#![allow(clippy::unwrap_used)]

#[macro_use]
mod common;

use std::io::Cursor;
use std::path::PathBuf;

use common::*;
use dashpack::{Options, Profile};
use mp4_atom::{Decode, Sidx};

fn range(s: &str) -> (usize, usize) {
    let (a, b) = s.split_once('-').unwrap();
    (a.parse().unwrap(), b.parse().unwrap())
}

fn check(name: &str) {
    let dir =
        |tag: &str| PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("od-{tag}-{name}"));
    let od = Options::default()
        .with_force(true)
        .with_profile(Profile::OnDemand);
    let live = Options::default().with_force(true);
    let p = dashpack::package_files(&[fixture(name)], dir("od"), &od).unwrap();
    dashpack::package_files(&[fixture(name)], dir("live"), &live).unwrap();
    let mpd_text = std::fs::read_to_string(dir("od").join(&p.mpd)).unwrap();
    let mpd = dash_mpd::parse(&mpd_text).unwrap();
    assert!(mpd_text.contains("urn:mpeg:dash:profile:isoff-on-demand:2011"));
    for set in &mpd.periods[0].adaptations {
        assert_eq!(set.subsegmentAlignment, Some(true));
        for rep in &set.representations {
            let id = rep.id.clone().unwrap();
            let base = &rep.BaseURL[0].base;
            assert_eq!(base, &format!("{id}/media.mp4"));
            let file = std::fs::read(dir("od").join(base)).unwrap();
            let sb = rep.SegmentBase.as_ref().unwrap();
            let (i0, i1) = range(sb.Initialization.as_ref().unwrap().range.as_ref().unwrap());
            let (x0, x1) = range(sb.indexRange.as_ref().unwrap());
            assert_eq!(i0, 0);
            // The init range is exactly ftyp + moov, as the live init segment.
            let live_init = std::fs::read(dir("live").join(&id).join("init.mp4")).unwrap();
            assert_eq!(&file[..=i1], &live_init[..], "{id}: init segment");
            read_init(&file[..=i1]);
            assert_eq!(x0, i1 + 1, "{id}: sidx right after the init segment");
            let sidx = Sidx::decode(&mut Cursor::new(&file[x0..=x1])).unwrap();
            assert_eq!(sidx.timescale, sb.timescale.unwrap() as u32);
            let mut at = x1 + 1 + sidx.first_offset as usize;
            let segs = std::fs::read_dir(dir("live").join(&id)).unwrap().count() - 1;
            assert_eq!(
                sidx.references.len(),
                segs,
                "{id}: one reference per segment"
            );
            for (k, r) in sidx.references.iter().enumerate() {
                let chunk = &file[at..at + r.referenced_size as usize];
                let live_seg =
                    std::fs::read(dir("live").join(&id).join(format!("seg-{}.m4s", k + 1)))
                        .unwrap();
                let styp = u32::from_be_bytes(live_seg[..4].try_into().unwrap()) as usize;
                assert_eq!(
                    chunk,
                    &live_seg[styp..],
                    "{id}: segment {} is the live one without styp",
                    k + 1
                );
                let seg = read_segment(&live_seg, 1);
                let ticks: u64 = seg.samples.iter().map(|s| u64::from(s.duration)).sum();
                assert_eq!(
                    u64::from(r.subsegment_duration),
                    ticks,
                    "{id}: subsegment {k} duration"
                );
                assert!(r.starts_with_sap && (1..=3).contains(&r.sap_type));
                at += r.referenced_size as usize;
            }
            assert_eq!(at, file.len(), "{id}: the file ends with the last segment");
        }
    }
    let input = fixture(name);
    let tracks = read_input(&std::fs::read(&input).unwrap());
    if tracks.iter().any(|t| t.video) {
        assert_eq!(
            frame_hashes(&dir("od").join(&p.mpd), "0:v:0"),
            frame_hashes(&input, "0:v:0")
        );
    }
}

#[test]
fn h264_aac() {
    check("h264_aac.mp4");
}

#[test]
fn hevc_aac() {
    check("hevc_aac.mp4");
}

#[test]
fn audio_only() {
    check("audio_only.m4a");
}

#[test]
fn fragmented_input() {
    check("fragmented.mp4");
}
