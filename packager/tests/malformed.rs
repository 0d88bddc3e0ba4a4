//! Broken inputs made from a good fixture: each must fail with its own error kind,
//! naming the file, the box and the byte offset, and never panic.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use dashpack::{Error, Input, Malformed, MemorySink, Options};

fn good() -> Vec<u8> {
    std::fs::read(fixture("h264_aac.mp4")).unwrap()
}

fn run(bytes: Vec<u8>) -> Error {
    let sink = MemorySink::new();
    let err = dashpack::package(
        &[Input::from_bytes("broken.mp4", bytes)],
        &sink,
        &Options::default(),
        &dashpack::RunControl::default(),
    )
    .unwrap_err();
    assert!(
        sink.into_files().is_empty(),
        "nothing written for a broken input"
    );
    err
}

fn malformed(err: Error) -> (String, u64, Malformed) {
    let text = err.to_string();
    assert!(
        text.starts_with("broken.mp4: "),
        "message names the file: {text}"
    );
    match err {
        Error::Malformed {
            path, offset, kind, ..
        } => (path, offset, kind),
        other => panic!("expected Malformed, got {other:?}"),
    }
}

fn pos(bytes: &[u8], kind: &[u8; 4]) -> usize {
    bytes.windows(4).position(|w| w == kind).unwrap() - 4
}

fn box_of(bytes: &[u8], kind: &[u8; 4]) -> (usize, usize) {
    top_level(bytes)
        .into_iter()
        .find(|b| &b.0 == kind)
        .map(|b| (b.1, b.2))
        .unwrap()
}

fn put_u32(bytes: &mut [u8], at: usize, v: u32) {
    bytes[at..at + 4].copy_from_slice(&v.to_be_bytes());
}

#[test]
fn empty_file() {
    let (path, offset, kind) = malformed(run(Vec::new()));
    assert_eq!((path.as_str(), offset), ("file", 0));
    assert_eq!(
        kind,
        Malformed::Truncated {
            needed: 8,
            available: 0
        }
    );
}

#[test]
fn not_an_mp4() {
    let (_, offset, kind) = malformed(run(
        b"<html><body>this is not a video</body></html>".to_vec()
    ));
    assert_eq!(offset, 0);
    assert!(matches!(kind, Malformed::NotMp4 { .. }), "{kind:?}");
}

#[test]
fn truncated_inside_moov() {
    let b = good();
    let (start, _) = box_of(&b, b"moov");
    let (path, offset, kind) = malformed(run(b[..start + 100].to_vec()));
    assert_eq!((path.as_str(), offset as usize), ("moov", start));
    assert!(matches!(kind, Malformed::PastEndOfFile { .. }), "{kind:?}");
}

#[test]
fn truncated_after_ftyp() {
    let b = good();
    let (_, end) = box_of(&b, b"ftyp");
    let (_, _, kind) = malformed(run(b[..end].to_vec()));
    assert_eq!(kind, Malformed::Missing("moov"));
}

#[test]
fn truncated_inside_mdat() {
    let b = good();
    let (start, end) = box_of(&b, b"mdat");
    let cut = start + (end - start) / 2;
    let (path, offset, kind) = malformed(run(b[..cut].to_vec()));
    assert!(path.ends_with("stbl/stco"), "{path}");
    match kind {
        Malformed::SampleOutOfFile {
            file_len,
            data_offset,
            ..
        } => {
            assert_eq!(file_len as usize, cut);
            assert_eq!(offset, data_offset);
            assert!(data_offset as usize <= cut);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn truncated_before_a_trailing_moov() {
    let b = std::fs::read(fixture("moov_at_end.mp4")).unwrap();
    let (start, end) = box_of(&b, b"mdat");
    let (path, offset, kind) = malformed(run(b[..(start + end) / 2].to_vec()));
    assert_eq!((path.as_str(), offset as usize), ("mdat", start));
    assert!(matches!(kind, Malformed::PastEndOfFile { .. }));
}

#[test]
fn box_size_past_end_of_file() {
    let mut b = good();
    let (start, _) = box_of(&b, b"moov");
    let len = b.len() as u32;
    put_u32(&mut b, start, len * 2);
    let (path, _, kind) = malformed(run(b));
    assert_eq!(path, "moov");
    assert!(matches!(kind, Malformed::PastEndOfFile { .. }));
}

#[test]
fn child_past_its_parent() {
    let mut b = good();
    let at = pos(&b, b"tkhd");
    put_u32(&mut b, at, 100_000);
    let (path, offset, kind) = malformed(run(b));
    assert_eq!((path.as_str(), offset as usize), ("moov/trak/tkhd", at));
    assert!(
        matches!(kind, Malformed::PastParent { size: 100_000, .. }),
        "{kind:?}"
    );
}

#[test]
fn chunk_offset_past_end_of_file() {
    let mut b = good();
    let at = pos(&b, b"stco");
    put_u32(&mut b, at + 16, 0xFFFF_FF00);
    let (path, offset, kind) = malformed(run(b));
    assert_eq!(path, "moov/trak/mdia/minf/stbl/stco");
    assert_eq!(offset, 0xFFFF_FF00);
    assert!(
        matches!(kind, Malformed::SampleOutOfFile { sample: 1, .. }),
        "{kind:?}"
    );
}

#[test]
fn stts_disagrees_with_stsz() {
    let mut b = good();
    let at = pos(&b, b"stts");
    let count = u32::from_be_bytes(b[at + 16..at + 20].try_into().unwrap());
    put_u32(&mut b, at + 16, count + 5);
    let (path, _, kind) = malformed(run(b));
    assert!(path.ends_with("stbl/stts"), "{path}");
    assert!(
        matches!(kind, Malformed::CountMismatch { table: "stts", found, expected } if found == expected + 5)
    );
}

#[test]
fn huge_sample_count_in_a_small_box() {
    let mut b = good();
    let at = pos(&b, b"stsz");
    put_u32(&mut b, at + 16, 1_000_000_000);
    let (path, _, kind) = malformed(run(b));
    assert!(path.contains("stsz"), "{path}");
    assert!(
        matches!(
            kind,
            Malformed::Truncated {
                needed: 4_000_000_000,
                ..
            }
        ),
        "{kind:?}"
    );
}

#[test]
fn timescale_zero() {
    let mut b = good();
    let at = pos(&b, b"mdhd");
    put_u32(&mut b, at + 20, 0);
    let (path, offset, kind) = malformed(run(b));
    assert_eq!(
        (path.as_str(), offset as usize),
        ("moov/trak/mdia/mdhd", at + 20)
    );
    assert_eq!(
        kind,
        Malformed::InvalidField {
            field: "mdhd timescale",
            value: 0
        }
    );
}

#[test]
fn stsc_chunk_index_zero() {
    let mut b = good();
    let at = pos(&b, b"stsc");
    put_u32(&mut b, at + 16, 0);
    let (_, offset, kind) = malformed(run(b));
    assert_eq!(offset as usize, at + 16);
    assert!(
        matches!(kind, Malformed::InvalidField { value: 0, .. }),
        "{kind:?}"
    );
}

#[test]
fn missing_stsd() {
    let mut b = good();
    let at = pos(&b, b"stsd");
    b[at + 4..at + 8].copy_from_slice(b"xxxx");
    let (path, _, kind) = malformed(run(b));
    assert_eq!(path, "moov/trak/mdia/minf/stbl");
    assert_eq!(kind, Malformed::Missing("stsd"));
}

#[test]
fn duplicate_moov() {
    let mut b = good();
    let (start, end) = box_of(&b, b"moov");
    let copy = b[start..end].to_vec();
    let at = b.len();
    b.extend(copy);
    let (_, offset, kind) = malformed(run(b));
    assert_eq!(offset as usize, at);
    assert_eq!(kind, Malformed::Duplicate("moov"));
}

#[test]
fn truncated_at_every_top_level_boundary_and_between() {
    let b = good();
    let mut cuts: Vec<usize> = top_level(&b)
        .iter()
        .flat_map(|x| [x.1, x.1 + 4, x.1 + 9])
        .collect();
    cuts.extend((1..40).map(|i| b.len() * i / 40));
    for cut in cuts {
        let err = run(b[..cut].to_vec());
        assert!(
            matches!(err, Error::Malformed { .. }),
            "cut at {cut}: {err}"
        );
    }
}

#[test]
fn an_uncarried_audio_track_fails_the_call_unless_skipped_on_purpose() {
    let mut b = good();
    // Turn the audio sample entry into an unknown codec.
    let at = pos(&b, b"mp4a");
    b[at + 4..at + 8].copy_from_slice(b"zzzz");
    let sink = MemorySink::new();
    let input = || Input::from_bytes("x.mp4", b.clone());
    let err = dashpack::package(
        &[input()],
        &sink,
        &Options::default(),
        &dashpack::RunControl::default(),
    )
    .unwrap_err();
    let Error::UncarriedTrack {
        ref file,
        track,
        ref handler,
        ref codec,
        ..
    } = err
    else {
        panic!("{err}");
    };
    assert_eq!((file.as_str(), track), ("x.mp4", 2));
    assert_eq!((handler.as_str(), codec.as_str()), ("soun", "zzzz"));
    assert!(err.to_string().contains("skip track 2"), "{err}");
    assert!(sink.into_files().is_empty(), "nothing written");

    // Asked for by ID or by kind: the video alone, and the warning says what was left out.
    for skip in [
        dashpack::TrackSelector::Id(2),
        dashpack::TrackSelector::Audio,
    ] {
        let sink = MemorySink::new();
        let options = Options::default().with_skip(vec![skip]);
        let p = dashpack::package(
            &[input()],
            &sink,
            &options,
            &dashpack::RunControl::default(),
        )
        .unwrap();
        assert_eq!(p.representations.len(), 1);
        assert_eq!(
            p.representations[0].content_type,
            dashpack::ContentType::Video
        );
        assert!(
            p.warnings
                .iter()
                .any(|w| w.contains("track 2 (soun, 'zzzz'): left out as asked")),
            "{:?}",
            p.warnings
        );
    }
    // Inspecting lists it instead of failing.
    let info = dashpack::inspect(&input(), &Options::default()).unwrap();
    assert_eq!(info.tracks.len(), 1);
    assert!(
        info.warnings
            .iter()
            .any(|w| w.contains("this codec is not supported")),
        "{:?}",
        info.warnings
    );
}

#[test]
fn a_track_skipped_on_purpose_is_left_out_even_when_supported() {
    let sink = MemorySink::new();
    let options = Options::default().with_skip(vec!["video".parse().unwrap()]);
    let p = dashpack::package(
        &[Input::from_bytes("x.mp4", good())],
        &sink,
        &options,
        &dashpack::RunControl::default(),
    )
    .unwrap();
    assert_eq!(p.representations.len(), 1);
    assert_eq!(
        p.representations[0].content_type,
        dashpack::ContentType::Audio
    );
    assert!(p.warnings.iter().any(|w| w.contains("left out as asked")));
    // Skipping everything leaves nothing to publish.
    let options = Options::default().with_skip(vec![
        dashpack::TrackSelector::Video,
        dashpack::TrackSelector::Audio,
    ]);
    let err = dashpack::package(
        &[Input::from_bytes("x.mp4", good())],
        &sink,
        &options,
        &dashpack::RunControl::default(),
    )
    .unwrap_err();
    assert!(matches!(err, Error::NoTracks { .. }), "{err}");
    assert!("0".parse::<dashpack::TrackSelector>().is_err());
    assert!("subs".parse::<dashpack::TrackSelector>().is_err());
}

#[test]
fn an_encrypted_track_is_refused_with_its_scheme() {
    // The video sample entry protected: encv + sinf(frma avc1, schm cenc).
    let mut b = good();
    // The sample entry, not the `avc1` brand in `ftyp`: the last one before `avcC`.
    let avcc = pos(&b, b"avcC");
    let at = b[..avcc].windows(4).rposition(|w| w == b"avc1").unwrap() - 4;
    b[at + 4..at + 8].copy_from_slice(b"encv");
    let err = dashpack::package(
        &[Input::from_bytes("e.mp4", b)],
        &MemorySink::new(),
        &Options::default(),
        &dashpack::RunControl::default(),
    )
    .unwrap_err();
    assert!(
        matches!(err, Error::UncarriedTrack { track: 1, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("encrypted"), "{err}");
}
