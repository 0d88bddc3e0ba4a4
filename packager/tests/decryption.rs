//! Encrypted input: fixtures encrypted by dashpack (`cenc` and `cbcs`, H.264 and HEVC
//! with subsamples, AAC whole-sample), each track as one fragmented file, are refused
//! without a key (naming the key ID) and with it decrypted to exactly the packets
//! FFmpeg's own decryption (`-decryption_key`) reads, which are the clear input's.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};

use dashpack::{DecryptionKey, Encryption, EncryptionKey, Error, Options, Scheme};

const KID: &str = "0123456789abcdef0123456789abcdef";
const KEY: &str = "00112233445566778899aabbccddeeff";

/// FFmpeg's decryption of an encrypted Representation, one init + media segment at a
/// time (FFmpeg 5.1 mismatches `senc` and samples across several fragments of one file).
fn ffmpeg_decrypted(file: &Path) -> Vec<String> {
    let dir = file.with_extension("");
    let init = std::fs::read(dir.join("init.mp4")).unwrap();
    let mut out = Vec::new();
    for n in 1.. {
        let Ok(seg) = std::fs::read(dir.join(format!("seg-{n}.m4s"))) else {
            break;
        };
        let one = file.with_extension(format!("seg-{n}.mp4"));
        std::fs::write(&one, [init.clone(), seg].concat()).unwrap();
        out.extend(common::ffmpeg_packets(&one, "0", Some(KEY)));
    }
    out
}

/// The fixture encrypted with `scheme`, one fragmented file per track.
fn encrypted(name: &str, scheme: Scheme, tag: &str) -> Vec<(String, PathBuf)> {
    let dir =
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("decrypt-{tag}-{scheme:?}-{name}"));
    let options = Options {
        force: true,
        encryption: Some(Encryption {
            scheme,
            keys: vec![format!("{KID}:{KEY}").parse::<EncryptionKey>().unwrap()],
            ..Encryption::default()
        }),
        ..Options::default()
    };
    let p = dashpack::package_files(&[common::fixture(name)], &dir, &options).unwrap();
    p.representations
        .iter()
        .map(|r| (r.id.clone(), common::exact::joined(&dir, r).unwrap()))
        .collect()
}

#[test]
fn encrypted_input_is_decrypted_with_its_key_and_refused_without() {
    let key: DecryptionKey = format!("{KID}:{KEY}").parse().unwrap();
    for name in ["h264_aac.mp4", "hevc_aac.mp4"] {
        for scheme in [Scheme::Cenc, Scheme::Cbcs] {
            for (rep, file) in encrypted(name, scheme, "all") {
                let label = format!("{name} {scheme:?} {rep}");
                let out = file.with_extension("out");
                let err = dashpack::package_files(&[&file], &out, &Options::default()).unwrap_err();
                assert!(
                    matches!(err, Error::UncarriedTrack { .. }),
                    "{label}: {err}"
                );
                assert!(
                    err.to_string().contains(KID),
                    "{label}: names the key ID: {err}"
                );

                let options = Options {
                    force: true,
                    decryption_keys: vec![key.clone()],
                    ..Options::default()
                };
                let p = dashpack::package_files(&[&file], &out, &options).unwrap();
                let r = &p.representations[0];
                let got =
                    common::ffmpeg_packets(&common::exact::joined(&out, r).unwrap(), "0", None);
                let ffmpeg = ffmpeg_decrypted(&file);
                assert_eq!(got, ffmpeg, "{label}: as FFmpeg decrypts it");
                let kind = if rep.starts_with("video") {
                    "0:v"
                } else {
                    "0:a"
                };
                assert_eq!(
                    got,
                    common::ffmpeg_packets(&common::fixture(name), kind, None),
                    "{label}: the clear input"
                );
                // Published clear: no protection left in the init segment.
                let init = std::fs::read(out.join(&r.id).join("init.mp4")).unwrap();
                assert!(
                    !common::find(&init, b"sinf") && !common::find(&init, b"encv"),
                    "{label}"
                );
            }
        }
    }
}

#[test]
fn a_key_for_another_id_does_not_apply() {
    let other: DecryptionKey = format!("ffffffffffffffffffffffffffffffff:{KEY}")
        .parse()
        .unwrap();
    let (_, file) = encrypted("h264_aac.mp4", Scheme::Cenc, "other").remove(0);
    let options = Options {
        decryption_keys: vec![other],
        ..Options::default()
    };
    let out = file.with_extension("other");
    let err = dashpack::package_files(&[&file], &out, &options).unwrap_err();
    assert!(err.to_string().contains(KID), "{err}");
}
