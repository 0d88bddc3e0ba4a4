//! Codecs carried as they are, on fixtures FFmpeg wrote (ALAC, MP3, MPEG-2 audio, TrueHD,
//! DTS) and on the HEVC clip with Dolby Vision signalling (`make_dolby_vision.py`):
//! each is packaged exactly by FFmpeg's reading (`common::exact`), with the codecs
//! string its configuration box gives, and the MPD and HLS signalling of each kind.
//! Encryption, not written for these codecs, is refused.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::PathBuf;

use dashpack::{Encryption, EncryptionKey, Error, Options, Presentation};

fn package(name: &str, options: &Options) -> (PathBuf, Presentation) {
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("passthrough-{name}"));
    let options = options.clone().with_force(true).with_hls(true);
    let p = dashpack::package_files(&[common::fixture(name)], &out, &options).unwrap();
    (out, p)
}

/// Packages `name`, checks it is exact, and returns the codecs of its Representations
/// and the MPD and multivariant playlist.
fn carried(name: &str) -> (Vec<String>, String, String) {
    let (out, p) = package(name, &Options::default());
    common::exact::check(name, "", &common::fixture(name), &out, &p).unwrap();
    let mpd = std::fs::read_to_string(out.join(&p.mpd)).unwrap();
    dash_mpd::parse(&mpd).unwrap();
    let m3u8 = std::fs::read_to_string(out.join("master.m3u8")).unwrap();
    (
        p.representations.iter().map(|r| r.codecs.clone()).collect(),
        mpd,
        m3u8,
    )
}

#[test]
fn audio_codecs_carried_as_they_are() {
    let expected = |name: &str| match name {
        "h264_alac.mp4" => "alac",
        "h264_mp3.mp4" => "mp4a.6B",
        "audio_mp2.mp4" => "mp4a.69",
        "audio_truehd.mp4" => "mlpa",
        "audio_dts.mp4" => "mp4a.A9",
        other => panic!("{other}: no expected codecs string"),
    };
    for &name in common::PASSTHROUGH
        .iter()
        .filter(|n| !n.starts_with("dolby_vision"))
    {
        let want = expected(name);
        let (codecs, mpd, m3u8) = carried(name);
        assert!(codecs.iter().any(|c| c == want), "{name}: {codecs:?}");
        assert!(mpd.contains(&format!("codecs=\"{want}\"")), "{name}: {mpd}");
        assert!(m3u8.contains(want), "{name}: {m3u8}");
        assert!(mpd.contains("AudioChannelConfiguration"), "{name}");
    }
}

#[test]
fn dolby_vision_as_itself_or_as_a_supplemental_codec() {
    // Profile 5 in a dvh1 entry: Dolby Vision is the codec.
    let (codecs, mpd, _) = carried("dolby_vision_p5.mp4");
    assert_eq!(codecs[0], "dvh1.05.06");
    assert!(!mpd.contains("supplementalCodecs"), "{mpd}");
    // Profile 8.1 on an hvc1 entry: HEVC for every player, Dolby Vision for those that
    // have it (SCTE 214-1 in the MPD, HLS SUPPLEMENTAL-CODECS with the HDR10 brand).
    let (codecs, mpd, m3u8) = carried("dolby_vision_p81.mp4");
    assert!(codecs[0].starts_with("hvc1."), "{codecs:?}");
    assert!(
        mpd.contains("xmlns:scte214=\"urn:scte:dash:scte214-extensions\"")
            && mpd.contains("scte214:supplementalCodecs=\"dvh1.08.06\""),
        "{mpd}"
    );
    assert!(
        m3u8.contains("SUPPLEMENTAL-CODECS=\"dvh1.08.06/db1p\""),
        "{m3u8}"
    );
    // Clean HEVC output has neither.
    let (_, mpd, m3u8) = carried("hevc_aac.mp4");
    assert!(!mpd.contains("scte214") && !m3u8.contains("SUPPLEMENTAL"));
}

#[test]
fn encryption_is_refused_where_it_is_not_written() {
    let key: EncryptionKey = "0123456789abcdef0123456789abcdef:00112233445566778899aabbccddeeff"
        .parse()
        .unwrap();
    let options = Options::default().with_encryption(Some(Encryption::new(
        dashpack::Scheme::default(),
        vec![key],
    )));
    for (name, what) in [
        ("h264_alac.mp4", "encrypting alac"),
        ("audio_truehd.mp4", "encrypting mlpa"),
        ("dolby_vision_p81.mp4", "encrypting hvc1"),
    ] {
        let out =
            PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("passthrough-enc-{name}"));
        let err = dashpack::package_files(&[common::fixture(name)], &out, &options).unwrap_err();
        assert!(
            matches!(err, Error::Unsupported { .. }) && err.to_string().contains(what),
            "{name}: {err}"
        );
        assert!(!out.exists());
    }
}
