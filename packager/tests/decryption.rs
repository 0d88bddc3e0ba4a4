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
    encrypted_with_lead(name, scheme, tag, 0.0)
}

/// The same, with the first `clear_lead` seconds left clear (whole segments, under a
/// second sample entry in the clear, as DASH-IF advises).
fn encrypted_with_lead(
    name: &str,
    scheme: Scheme,
    tag: &str,
    clear_lead: f64,
) -> Vec<(String, PathBuf)> {
    let dir =
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("decrypt-{tag}-{scheme:?}-{name}"));
    let options = Options::default().with_force(true).with_encryption(Some(
        Encryption::new(
            scheme,
            vec![format!("{KID}:{KEY}").parse::<EncryptionKey>().unwrap()],
        )
        .with_clear_lead(clear_lead),
    ));
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
                let _ = std::fs::remove_dir_all(&out);
                let err = dashpack::package_files(&[&file], &out, &Options::default()).unwrap_err();
                assert!(
                    matches!(err, Error::UncarriedTrack { .. }),
                    "{label}: {err}"
                );
                assert!(
                    err.to_string().contains(KID),
                    "{label}: names the key ID: {err}"
                );

                let options = Options::default()
                    .with_force(true)
                    .with_decryption_keys(vec![key.clone()]);
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
    let options = Options::default().with_decryption_keys(vec![other]);
    let out = file.with_extension("other");
    let err = dashpack::package_files(&[&file], &out, &options).unwrap_err();
    assert!(err.to_string().contains(KID), "{err}");
}

/// `file` is refused without the key (as an uncarried track) and, with it, publishes
/// exactly the clear fixture's packets in each Representation.
fn decrypts_to_clear(file: &Path, label: &str) -> dashpack::Presentation {
    let out = file.with_extension("out");
    let _ = std::fs::remove_dir_all(&out);
    let err = dashpack::package_files(&[file], &out, &Options::default()).unwrap_err();
    assert!(
        matches!(err, Error::UncarriedTrack { .. }),
        "{label}: {err}"
    );
    let options = Options::default()
        .with_force(true)
        .with_decryption_keys(vec![format!("{KID}:{KEY}").parse().unwrap()]);
    let p = dashpack::package_files(&[file], &out, &options).unwrap();
    for r in &p.representations {
        let got = common::ffmpeg_packets(&common::exact::joined(&out, r).unwrap(), "0", None);
        let kind = if r.id.starts_with("video") {
            "0:v"
        } else {
            "0:a"
        };
        let clear = common::ffmpeg_packets(&common::fixture("h264_aac.mp4"), kind, None);
        assert_eq!(got, clear, "{label} {}: the clear input's packets", r.id);
    }
    p
}

/// FFmpeg's own encryption of a progressive file (`senc`, `saio` and `saiz` in each
/// `stbl`), and the same file with each `senc` turned into `free`, so that only `saio`
/// and `saiz` locate the records (as some writers leave them).
#[test]
fn a_progressive_encrypted_file_is_decrypted_from_senc_or_saio() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("decrypt-progressive");
    std::fs::create_dir_all(&dir).unwrap();
    let with_senc = dir.join("cenc.mp4");
    let status = std::process::Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-y", "-i"])
        .arg(common::fixture("h264_aac.mp4"))
        .args(["-c", "copy", "-encryption_scheme", "cenc-aes-ctr"])
        .args(["-encryption_key", KEY, "-encryption_kid", KID])
        .arg(&with_senc)
        .status()
        .unwrap();
    assert!(status.success());
    let mut bytes = std::fs::read(&with_senc).unwrap();
    assert!(!common::find(&bytes, b"moof"), "progressive");
    let mut sencs = 0;
    for i in 0..bytes.len().saturating_sub(4) {
        if &bytes[i..i + 4] == b"senc" {
            bytes[i..i + 4].copy_from_slice(b"free");
            sencs += 1;
        }
    }
    assert_eq!(sencs, 2, "one senc per track");
    let saio_only = dir.join("saio.mp4");
    std::fs::write(&saio_only, &bytes).unwrap();

    for file in [&with_senc, &saio_only] {
        let p = decrypts_to_clear(file, &file.display().to_string());
        assert_eq!(p.representations.len(), 2);
    }
}

/// A clear lead (the first segments clear, naming the clear sample entry): refused
/// without the key like any encrypted track; with it, the clear samples are published as
/// they are and the rest decrypted, so every packet is the clear input's.
#[test]
fn a_clear_lead_is_kept_and_the_rest_decrypted() {
    for scheme in [Scheme::Cenc, Scheme::Cbcs] {
        for (rep, file) in encrypted_with_lead("h264_aac.mp4", scheme, "lead", 4.0) {
            let label = format!("{scheme:?} {rep}");
            let mut bytes = std::fs::read(&file).unwrap();
            assert!(
                common::find(&bytes, b"encv") || common::find(&bytes, b"enca"),
                "{label}"
            );
            let count = |b: &[u8], k: &[u8]| b.windows(4).filter(|w| *w == k).count();
            assert!(
                count(&bytes, b"moof") > count(&bytes, b"senc"),
                "{label}: a clear fragment"
            );
            // As Shaka Packager writes a clear lead: the clear fragments name the
            // protected entry (tfhd sample_description_index 2 made 1) and carry no senc.
            let shaka = file.with_extension("shaka.mp4");
            let mut patched = 0;
            for i in 0..bytes.len() - 20 {
                let flags = u32::from_be_bytes(bytes[i + 4..i + 8].try_into().unwrap());
                if &bytes[i..i + 4] == b"tfhd" && flags & 0x3 == 0x2 && bytes[i + 15] == 2 {
                    bytes[i + 15] = 1;
                    patched += 1;
                }
            }
            assert!(patched > 0, "{label}: the clear fragments name entry 2");
            std::fs::write(&shaka, &bytes).unwrap();
            for file in [&file, &shaka] {
                decrypts_to_clear(file, &format!("{label} {}", file.display()));
            }
        }
    }
}
