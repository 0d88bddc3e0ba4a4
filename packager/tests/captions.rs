//! Closed captions in the video's SEI (`fixtures/h264_cea608.mp4`: CEA-608 CC1 and
//! CEA-708 service 1 in ATSC A/53 `cc_data`, made by `fixtures/make_captions.py`): found
//! while the segments are written, signalled in the MPD (`Accessibility`, SCTE 214-1)
//! and the HLS multivariant playlist (`CLOSED-CAPTIONS`), and still in the video, where
//! FFmpeg's caption decoder reads the same cues at the same times as from the input.
//! QuickTime caption tracks (`clcp`/`c608`, `fixtures/h264_c608.mov`) are written into
//! the pictures: FFmpeg then reads the same cues from the output as from the track.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use dashpack::{ContentType, Error, Options};

/// The CEA-608 CC1 cues FFmpeg decodes from `file`'s video, as SubRip text.
fn cc1_cues(file: &Path) -> String {
    let source = format!("movie={}[out+subcc]", file.display());
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-nostdin", "-v", "error", "-f", "lavfi", "-i", &source])
        .args(["-map", "0:s", "-f", "srt", "-"]);
    String::from_utf8(common::run(&mut cmd)).unwrap()
}

fn package(folder: &str, options: Options) -> (PathBuf, dashpack::Presentation) {
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(folder);
    let input = common::fixture("h264_cea608.mp4");
    let p = dashpack::package_files(&[input], &out, &options.with_force(true)).unwrap();
    (out, p)
}

#[test]
fn captions_in_sei_are_signalled_and_kept() {
    let languages = vec![("CC1".to_string(), "en".to_string())];
    let options = Options::default()
        .with_hls(true)
        .with_caption_languages(languages);
    let (out, p) = package("captions", options);
    let video = video_of(&p);
    assert_eq!(video.captions, ["CC1=en", "SERVICE1=und"]);
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);

    let mpd = std::fs::read_to_string(out.join(&p.mpd)).unwrap();
    assert!(
        mpd.contains(
            r#"<Accessibility schemeIdUri="urn:scte:dash:cc:cea-608:2015" value="CC1=eng"/>"#
        ),
        "{mpd}"
    );
    assert!(
        mpd.contains(
            r#"<Accessibility schemeIdUri="urn:scte:dash:cc:cea-708:2015" value="1=lang:und"/>"#
        ),
        "{mpd}"
    );
    assert_eq!(common::mpd_schema_error(&out.join(&p.mpd)), None);
    let master = std::fs::read_to_string(out.join("master.m3u8")).unwrap();
    assert!(master.contains(
        r#"#EXT-X-MEDIA:TYPE=CLOSED-CAPTIONS,GROUP-ID="cc-video-1",NAME="CC1",LANGUAGE="en",DEFAULT=YES,AUTOSELECT=YES,INSTREAM-ID="CC1""#
    ), "{master}");
    assert!(
        master.contains(r#"CLOSED-CAPTIONS="cc-video-1""#),
        "{master}"
    );

    // The captions are still in the pictures, in order and on time.
    let input = cc1_cues(&common::fixture("h264_cea608.mp4"));
    assert!(
        input.contains("HELLO") && input.contains("WORLD"),
        "{input}"
    );
    let output = cc1_cues(&common::exact::joined(&out, video).unwrap());
    assert_eq!(output, input);
}

#[test]
fn video_without_captions_says_none() {
    let (out, p) = common::package_into(&common::fixture("h264_aac.mp4"), "no-captions");
    assert!(p.representations.iter().all(|r| r.captions.is_empty()));
    let mpd = std::fs::read_to_string(out.join(&p.mpd)).unwrap();
    assert!(!mpd.contains("Accessibility"), "{mpd}");
}

#[test]
fn caption_languages_are_checked() {
    let input = common::fixture("h264_cea608.mp4");
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("captions-bad");
    for (channel, lang) in [
        ("CC5", "en"),
        ("SERVICE64", "en"),
        ("CC1", ""),
        ("CC1", "e n"),
    ] {
        let options = Options::default()
            .with_caption_languages(vec![(channel.to_string(), lang.to_string())]);
        let err = dashpack::package_files(&[&input], &out, &options).unwrap_err();
        assert!(
            matches!(
                err,
                Error::InvalidOption {
                    name: "caption_languages",
                    ..
                }
            ),
            "{channel}={lang}: {err}"
        );
        assert!(!out.exists());
    }
    // A channel named but not carried is told, not refused.
    let (_, p) = package(
        "captions-unfound",
        Options::default().with_caption_languages(vec![("CC3".into(), "fr".into())]),
    );
    assert!(
        p.warnings.iter().any(|w| w.contains("CC3")),
        "{:?}",
        p.warnings
    );
}

/// `fixtures/h264_c608.mov`: the caption-free clip with the same CEA-608 captions as a
/// QuickTime closed-caption track (`clcp`/`c608`, track 3).
fn c608_fixture() -> PathBuf {
    common::fixture("h264_c608.mov")
}

/// `fixture`'s streams that `map` selects, with the caption track of `h264_c608.mov`,
/// copied by FFmpeg into the QuickTime file `out`.
fn with_caption_track(fixture: &str, map: &str, out: &Path) {
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-nostdin", "-v", "error", "-y", "-i"])
        .arg(common::fixture(fixture))
        .arg("-i")
        .arg(c608_fixture())
        .args(["-map", map, "-map", "1:s", "-c", "copy", "-f", "mov"])
        .arg(out);
    common::run(&mut cmd);
}

/// The presentation's (first) video Representation.
fn video_of(p: &dashpack::Presentation) -> &dashpack::Representation {
    p.representations
        .iter()
        .find(|r| r.content_type == ContentType::Video)
        .unwrap()
}

/// The CEA-608 cues FFmpeg decodes from the input's `c608` track, as SubRip text.
fn c608_track_cues(file: &Path) -> String {
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-nostdin", "-v", "error", "-i"])
        .arg(file)
        .args(["-map", "0:s", "-f", "srt", "-"]);
    String::from_utf8(common::run(&mut cmd)).unwrap()
}

#[test]
fn a_quicktime_caption_track_goes_into_the_video() {
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("c608");
    let options = Options::default()
        .with_hls(true)
        .with_caption_languages(vec![("CC1".to_string(), "en".to_string())])
        .with_force(true);
    let p = dashpack::package_files(&[c608_fixture()], &out, &options).unwrap();
    let video = video_of(&p);
    assert_eq!(video.captions, ["CC1=en"]);
    assert!(
        p.warnings
            .iter()
            .any(|w| w.contains("caption track 3") && w.contains("SEI")),
        "{:?}",
        p.warnings
    );
    let mpd = std::fs::read_to_string(out.join(&p.mpd)).unwrap();
    assert!(
        mpd.contains(
            r#"<Accessibility schemeIdUri="urn:scte:dash:cc:cea-608:2015" value="CC1=eng"/>"#
        ),
        "{mpd}"
    );
    assert_eq!(common::mpd_schema_error(&out.join(&p.mpd)), None);

    // FFmpeg reads the same cues, at the same times, from the output's pictures as from
    // the input's caption track (and as from the clip with them in SEI).
    let input = c608_track_cues(&c608_fixture());
    assert!(
        input.contains("HELLO") && input.contains("WORLD"),
        "{input}"
    );
    let joined = common::exact::joined(&out, video).unwrap();
    assert_eq!(cc1_cues(&joined), input);
    assert_eq!(cc1_cues(&common::fixture("h264_cea608.mp4")), input);
}

#[test]
fn a_caption_track_without_video_to_carry_it_is_refused_unless_skipped() {
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("c608-refused");
    let _ = std::fs::remove_dir_all(&out);
    let options = Options::default().with_skip(vec![dashpack::TrackSelector::Video]);
    let err = dashpack::package_files(&[c608_fixture()], &out, &options).unwrap_err();
    match &err {
        Error::UncarriedTrack {
            track: 3,
            codec,
            reason,
            ..
        } => {
            assert_eq!(codec, "c608");
            assert!(reason.contains("no such video track"), "{reason}");
        }
        other => panic!("{other}"),
    }
    assert!(!out.exists());
    let skip = vec![
        dashpack::TrackSelector::Video,
        dashpack::TrackSelector::Id(3),
    ];
    let p = dashpack::package_files(&[c608_fixture()], &out, &Options::default().with_skip(skip))
        .unwrap();
    assert!(
        p.representations
            .iter()
            .all(|r| r.content_type == ContentType::Audio)
    );
    assert!(
        p.warnings
            .iter()
            .any(|w| w.contains("track 3") && w.contains("left out as asked")),
        "{:?}",
        p.warnings
    );
}

/// Video whose SEI already carries CC1 and a caption track with CC1 too: written
/// together, a decoder would read the two command streams of field 1 as one. Refused
/// naming the caption track, the video track and the field; skipping the caption track
/// keeps the video's own captions.
#[test]
fn a_caption_track_is_not_mixed_into_captions_the_video_already_carries() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("c608-mixed");
    std::fs::create_dir_all(&dir).unwrap();
    let both = dir.join("both.mov");
    with_caption_track("h264_cea608.mp4", "0:v", &both);
    let out = dir.join("out");
    let _ = std::fs::remove_dir_all(&out);
    let err = dashpack::package_files(std::slice::from_ref(&both), &out, &Options::default())
        .unwrap_err();
    let Error::UncarriedTrack {
        track,
        codec,
        reason,
        ..
    } = &err
    else {
        panic!("{err}")
    };
    assert_eq!((*track, codec.as_str()), (2, "c608"), "{err}");
    assert!(
        reason.contains("video track 1") && reason.contains("field 1"),
        "{reason}"
    );
    assert!(!out.join("stream.mpd").exists());

    let skip = Options::default().with_skip(vec![dashpack::TrackSelector::Id(2)]);
    let p = dashpack::package_files(&[both], &out, &skip).unwrap();
    let video = video_of(&p);
    assert_eq!(video.captions, ["CC1=und", "SERVICE1=und"]);
    let joined = common::exact::joined(&out, video).unwrap();
    assert_eq!(
        cc1_cues(&joined),
        cc1_cues(&common::fixture("h264_cea608.mp4"))
    );
}

#[test]
fn a_broken_caption_sample_is_refused_naming_its_byte() {
    // The first caption sample's cdat atom says 64 bytes in a 10-byte sample.
    let mut bytes = std::fs::read(c608_fixture()).unwrap();
    let at = bytes
        .windows(8)
        .position(|w| w == b"\x00\x00\x00\x0acdat")
        .unwrap();
    bytes[at + 3] = 64;
    let input = dashpack::Input::from_bytes("broken_c608.mov", bytes);
    let sink = dashpack::MemorySink::new();
    let err =
        dashpack::package(&[input], &sink, &Options::default(), &Default::default()).unwrap_err();
    match &err {
        Error::Malformed {
            file, path, offset, ..
        } => {
            assert_eq!(file, "broken_c608.mov");
            assert_eq!(path, "caption track 3");
            assert_eq!(*offset, at as u64);
        }
        other => panic!("{other}"),
    }
    let text = err.to_string();
    assert!(text.contains("64 bytes in a 10-byte sample"), "{text}");
    assert!(
        sink.into_files().is_empty(),
        "nothing is written for a refused input"
    );
}

#[test]
fn a_caption_track_in_movie_fragments_goes_into_the_video_too() {
    // FFmpeg's fragmented copy of the clip (c608 samples in every fragment). FFmpeg's
    // own reading of such a track is 66 ms late, so the reference is the clip with the
    // same captions in SEI.
    let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let fragmented = tmp.join("fragmented_c608.mov");
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-nostdin", "-v", "error", "-y", "-i"])
        .arg(c608_fixture())
        .args(["-map", "0", "-c", "copy", "-f", "mov"])
        .args(["-movflags", "frag_keyframe+empty_moov+default_base_moof"])
        .arg(&fragmented);
    common::run(&mut cmd);
    let out = tmp.join("c608-fragmented");
    let options = Options::default().with_force(true);
    let p = dashpack::package_files(&[&fragmented], &out, &options).unwrap();
    let video = video_of(&p);
    assert_eq!(video.captions, ["CC1=und"]);
    let joined = common::exact::joined(&out, video).unwrap();
    assert_eq!(
        cc1_cues(&joined),
        cc1_cues(&common::fixture("h264_cea608.mp4"))
    );
}

/// (start s, text) of each SubRip cue.
fn srt_cues(srt: &str) -> Vec<(f64, String)> {
    let seconds = |t: &str| {
        let t = t.trim().replace(',', ".");
        t.split(':')
            .fold(0.0, |acc, p| acc * 60.0 + p.parse::<f64>().unwrap())
    };
    let lines: Vec<&str> = srt.lines().collect();
    lines
        .iter()
        .enumerate()
        .filter_map(|(i, l)| {
            let (start, _) = l.split_once("-->")?;
            Some((seconds(start), lines.get(i + 1)?.to_string()))
        })
        .collect()
}

#[test]
fn hevc_video_carries_them_in_prefix_sei() {
    // The HEVC clip (25 fps) with the same caption track: each caption shows with the
    // picture presented when its sample starts, so within a frame of the track's time.
    let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let input = tmp.join("hevc_c608.mov");
    with_caption_track("hevc_aac.mp4", "0", &input);
    let out = tmp.join("c608-hevc");
    let options = Options::default().with_force(true);
    let p = dashpack::package_files(&[&input], &out, &options).unwrap();
    let video = video_of(&p);
    assert!(video.codecs.starts_with("hvc1"), "{}", video.codecs);
    assert_eq!(video.captions, ["CC1=und"]);
    let want = srt_cues(&c608_track_cues(&input));
    let got = srt_cues(&cc1_cues(&common::exact::joined(&out, video).unwrap()));
    assert_eq!(want.len(), 2, "{want:?}");
    assert_eq!(got.len(), want.len(), "{got:?}");
    for ((a, text_a), (b, text_b)) in want.iter().zip(&got) {
        assert_eq!(text_a, text_b);
        assert!(a - b >= 0.0 && a - b < 0.04, "{a} in, {b} out");
    }
}

/// A ladder's rungs are encoded from decoded pictures, which hold no SEI: the captions
/// of the source's SEI (or of a caption track) are put into the SEI of the rung's
/// sample made from the same picture.
#[cfg(feature = "transcode")]
#[test]
fn every_rung_of_a_ladder_carries_the_captions() {
    let ladder = "180:200k,120:100k"
        .parse::<dashpack::Ladder>()
        .unwrap()
        .with_preset("veryfast")
        .unwrap();
    let expected = cc1_cues(&common::fixture("h264_cea608.mp4"));
    for (input, folder, want) in [
        (
            common::fixture("h264_cea608.mp4"),
            "ladder-sei",
            &["CC1=und", "SERVICE1=und"][..],
        ),
        (c608_fixture(), "ladder-c608", &["CC1=und"][..]),
    ] {
        let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(folder);
        let options = Options::default()
            .with_ladder(ladder.clone())
            .with_force(true);
        let p = dashpack::package_files(&[input], &out, &options).unwrap();
        let rungs: Vec<_> = p
            .representations
            .iter()
            .filter(|r| r.content_type == ContentType::Video)
            .collect();
        assert_eq!(rungs.len(), 2, "{folder}");
        for video in rungs {
            assert_eq!(video.captions, want, "{folder} {}", video.id);
            let joined = common::exact::joined(&out, video).unwrap();
            assert_eq!(cc1_cues(&joined), expected, "{folder} {}", video.id);
        }
        let mpd = std::fs::read_to_string(out.join(&p.mpd)).unwrap();
        assert!(mpd.contains("urn:scte:dash:cc:cea-608:2015"), "{mpd}");
    }
}
