//! Common Encryption, checked by code dashpack did not write: FFmpeg decrypts every
//! media segment (given the init segment and that one segment) with
//! `-decryption_key`, and its packets equal the input's byte for byte; without the key
//! or with a wrong one they differ. FFmpeg's own header parser (`trace_headers`) reads
//! the same slice headers from encrypted segments as from the input, so they are
//! clear. mp4-atom (strict) reads every `moof`, whose `saiz`/`saio`/`senc` must agree.
#![allow(clippy::unwrap_used)]

#[macro_use]
mod common;

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use dashpack::{Encryption, EncryptionKey, Options, Scheme};
use mp4_atom::{Decode, Moof, Styp};

const KID: &str = "0123456789abcdef0123456789abcdef";
const KEY: &str = "00112233445566778899aabbccddeeff";
const WRONG_KEY: &str = "00112233445566778899aabbccddeefe";

fn encryption(scheme: Scheme, clear_lead: f64) -> Encryption {
    Encryption::new(
        scheme,
        vec![format!("{KID}:{KEY}").parse::<EncryptionKey>().unwrap()],
    )
    .with_clear_lead(clear_lead)
}

fn package(name: &str, tag: &str, enc: Encryption) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("cenc-{tag}-{name}"));
    let options = Options::default()
        .with_force(true)
        .with_encryption(Some(enc));
    dashpack::package_files(&[fixture(name)], &dir, &options).unwrap();
    dir
}

/// Media segments of a Representation in order.
fn segments(rep: &Path) -> Vec<PathBuf> {
    let mut segs: Vec<(u64, PathBuf)> = std::fs::read_dir(rep)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter_map(|p| {
            let n = p
                .file_stem()?
                .to_str()?
                .strip_prefix("seg-")?
                .parse()
                .ok()?;
            Some((n, p))
        })
        .collect();
    segs.sort();
    segs.into_iter().map(|(_, p)| p).collect()
}

fn reps(dir: &Path) -> Vec<PathBuf> {
    let mut reps: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    reps.sort();
    reps
}

/// The `senc` entries of one segment: (IV, subsamples) per sample.
type SencEntry = (Vec<u8>, Vec<(u16, u32)>);

/// Check the `moof`'s encryption boxes against each other and the samples; returns the
/// `senc` entries (`None` for a clear-lead segment).
fn check_moof(seg: &[u8], iv_size: usize) -> Option<Vec<SencEntry>> {
    let mut c = Cursor::new(seg);
    Styp::decode(&mut c).unwrap();
    let moof_start = c.position() as usize;
    let moof = Moof::decode(&mut c).unwrap();
    let traf = &moof.traf[0];
    let sizes: Vec<u32> = traf.trun[0]
        .samples
        .iter()
        .map(|s| s.size.unwrap())
        .collect();
    let Some(senc) = &traf.senc else {
        assert!(
            traf.saiz.is_empty() && traf.saio.is_empty(),
            "clear segment without aux info"
        );
        assert_eq!(
            traf.tfhd.sample_description_index,
            Some(2),
            "clear lead uses entry 2"
        );
        return None;
    };
    assert_eq!(traf.saiz.len(), 1);
    assert_eq!(traf.saio.len(), 1);
    let saiz = &traf.saiz[0];
    assert_eq!(saiz.sample_count as usize, sizes.len(), "saiz sample_count");
    // senc data as mp4-atom hands it over: sample_count, then the entries.
    let data = &senc.data;
    let count = u32::from_be_bytes(data[..4].try_into().unwrap()) as usize;
    assert_eq!(count, sizes.len(), "senc sample_count");
    let mut at = 4usize;
    let mut entries = Vec::new();
    for (i, &size) in sizes.iter().enumerate() {
        let start = at;
        let iv = data[at..at + iv_size].to_vec();
        at += iv_size;
        let mut subs = Vec::new();
        if senc.use_subsamples {
            let n = u16::from_be_bytes(data[at..at + 2].try_into().unwrap());
            at += 2;
            for _ in 0..n {
                let clear = u16::from_be_bytes(data[at..at + 2].try_into().unwrap());
                let protected = u32::from_be_bytes(data[at + 2..at + 6].try_into().unwrap());
                subs.push((clear, protected));
                at += 6;
            }
            let covered: u64 = subs.iter().map(|&(c, p)| u64::from(c) + u64::from(p)).sum();
            assert_eq!(
                covered,
                u64::from(size),
                "subsamples cover sample {i} exactly"
            );
            assert!(subs.iter().all(|s| s.1 % 16 == 0), "whole protected blocks");
        }
        let aux_size = saiz
            .sample_info_size
            .get(i)
            .copied()
            .unwrap_or(saiz.default_sample_info_size);
        assert_eq!(usize::from(aux_size), at - start, "saiz size of sample {i}");
        entries.push((iv, subs));
    }
    assert_eq!(at, data.len(), "senc holds exactly the entries");
    // saio points at the first entry: after senc's header, flags and sample_count.
    let senc_at = find_box(seg, b"senc");
    assert_eq!(
        moof_start as u64 + traf.saio[0].offsets[0],
        (senc_at + 16) as u64,
        "saio offset"
    );
    Some(entries)
}

fn find_box(bytes: &[u8], kind: &[u8; 4]) -> usize {
    bytes.windows(4).position(|w| w == kind).unwrap() - 4
}

/// AV1 and VP9 have their own subsample rules, not written yet: refused, not
/// encrypted wrongly, and nothing written.
fn refused(name: &str, scheme: Scheme) {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("cenc-refused-{name}"));
    let options = Options::default().with_encryption(Some(encryption(scheme, 0.0)));
    let err = dashpack::package_files(&[fixture(name)], &dir, &options).unwrap_err();
    assert!(
        matches!(&err, dashpack::Error::Unsupported { what, .. } if what.contains("encrypting")),
        "{err}"
    );
    assert!(!dir.exists());
}

fn check(name: &str, scheme: Scheme, clear_lead: f64, try_wrong_keys: bool) {
    if name.starts_with("av1_") || name.starts_with("vp9_") {
        return refused(name, scheme);
    }
    let tag = format!("{}-{clear_lead}", scheme.as_str());
    let dir = package(name, &tag, encryption(scheme, clear_lead));
    let input = fixture(name);
    let scratch = dir.with_extension("one");
    let mut clear_segments = 0;
    for rep in reps(&dir) {
        let video = rep
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("video");
        let init = std::fs::read(rep.join("init.mp4")).unwrap();
        // The init segment: protected sample entry naming the original one, the scheme,
        // the key ID, and the W3C common pssh box.
        assert!(find(&init, if video { b"encv" } else { b"enca" }));
        assert!(find(&init, b"frma"));
        assert!(find(&init, scheme.as_str().as_bytes()));
        let kid: Vec<u8> = (0..16)
            .map(|i| u8::from_str_radix(&KID[2 * i..2 * i + 2], 16).unwrap())
            .collect();
        assert!(find(&init, &kid), "tenc names the key ID");
        assert!(find(&init, b"pssh"));
        let iv_size = if scheme == Scheme::Cenc { 8 } else { 0 };
        let mut got = Vec::new();
        for seg in segments(&rep) {
            let bytes = std::fs::read(&seg).unwrap();
            let entries = check_moof(&bytes, iv_size);
            let mut one = init.clone();
            one.extend_from_slice(&bytes);
            std::fs::write(&scratch, &one).unwrap();
            let decrypted = ffmpeg_packets(&scratch, "0", Some(KEY));
            match entries {
                None => clear_segments += 1,
                Some(entries) => {
                    assert_eq!(entries.len(), decrypted.len());
                    if video {
                        assert!(
                            entries.iter().all(|e| !e.1.is_empty()),
                            "video uses subsamples"
                        );
                    }
                    if try_wrong_keys {
                        for key in [None, Some(WRONG_KEY)] {
                            let other = ffmpeg_packets(&scratch, "0", key);
                            let same = other.iter().zip(&decrypted).filter(|(a, b)| a == b).count();
                            // A sample under 16 bytes has nothing to encrypt.
                            assert!(
                                same * 10 < decrypted.len().max(1),
                                "{}: {same} of {} packets read the same with key {key:?}",
                                seg.display(),
                                decrypted.len()
                            );
                        }
                    }
                }
            }
            got.extend(decrypted);
        }
        // video-N / audio-N is the input's N-th track of that type.
        let rep_name = rep.file_name().unwrap().to_str().unwrap();
        let n: usize = rep_name.rsplit('-').next().unwrap().parse().unwrap();
        let stream = format!("0:{}:{}", if video { "v" } else { "a" }, n - 1);
        let want = if video && WITH_CAPTION_TRACK.contains(&name) {
            // Its pictures carry the caption track's SEI: decrypted, they are what the
            // clear output writes (whose other bytes `conformance.rs` checks).
            let (out, p) = package_into(&input, &format!("cenc-clear-{tag}-{name}"));
            let r = p.representations.iter().find(|r| r.id == rep_name).unwrap();
            ffmpeg_packets(&exact::joined(&out, r).unwrap(), "0", None)
        } else {
            ffmpeg_packets(&input, &stream, None)
        };
        assert_eq!(got.len(), want.len(), "{}: packets", rep.display());
        let first_diff = got.iter().zip(&want).position(|(a, b)| a != b);
        assert_eq!(
            first_diff,
            None,
            "{}: decrypted packet differs from the input",
            rep.display()
        );
    }
    if clear_lead == 0.0 {
        assert_eq!(clear_segments, 0);
    } else {
        assert!(
            clear_segments > 0,
            "clear lead leaves the first segments clear"
        );
    }
    let _ = std::fs::remove_file(scratch);
}

macro_rules! decrypt_tests {
    ($($test:ident => $file:expr,)*) => {
        mod cenc {
            $(#[test] fn $test() { super::check($file, dashpack::Scheme::Cenc, 0.0, false); })*
        }
        mod cbcs {
            $(#[test] fn $test() { super::check($file, dashpack::Scheme::Cbcs, 0.0, false); })*
        }
    };
}
for_each_fixture!(decrypt_tests);

#[test]
fn wrong_or_missing_key_gives_other_bytes_cenc() {
    check("h264_aac.mp4", Scheme::Cenc, 0.0, true);
    check("hevc_aac.mp4", Scheme::Cenc, 0.0, true);
}

#[test]
fn wrong_or_missing_key_gives_other_bytes_cbcs() {
    check("h264_aac.mp4", Scheme::Cbcs, 0.0, true);
    check("hevc_aac.mp4", Scheme::Cbcs, 0.0, true);
}

#[test]
fn clear_lead_segments_are_clear() {
    check("h264_aac.mp4", Scheme::Cenc, 4.0, false);
    check("h264_ntsc.mp4", Scheme::Cbcs, 6.0, false);
}

/// FFmpeg's bitstream parser prints every slice header field; from the encrypted
/// segments, without the key, it must print exactly what it prints for the input.
/// Only slice header blocks are kept (a title line starting with "Slice", then its
/// field lines, which start with the bit position).
fn slice_headers(file: &Path) -> Vec<String> {
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "debug", "-i"])
        .arg(file)
        .args([
            "-map",
            "0:v:0",
            "-c",
            "copy",
            "-bsf:v",
            "trace_headers",
            "-f",
            "null",
            "-",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stderr);
    let mut in_slice = false;
    let mut lines = Vec::new();
    for l in text.lines() {
        let Some((_, rest)) = l.split_once("[trace_headers @ ") else {
            continue;
        };
        let Some((_, r)) = rest.split_once("] ") else {
            continue;
        };
        if r.starts_with(|c: char| c.is_ascii_digit()) {
            if in_slice {
                lines.push(r.to_string());
            }
        } else {
            in_slice = r.starts_with("Slice");
            if in_slice {
                lines.push(r.to_string());
            }
        }
    }
    lines
}

fn headers_stay_clear(name: &str, scheme: Scheme) {
    let dir = package(
        name,
        &format!("trace-{}", scheme.as_str()),
        encryption(scheme, 0.0),
    );
    let rep = dir.join("video-1");
    let init = std::fs::read(rep.join("init.mp4")).unwrap();
    let file = dir.with_extension("one.mp4");
    let mut got = Vec::new();
    for seg in segments(&rep) {
        let mut one = init.clone();
        one.extend(std::fs::read(seg).unwrap());
        std::fs::write(&file, one).unwrap();
        got.extend(slice_headers(&file));
    }
    let want = slice_headers(&fixture(name));
    assert!(
        want.iter().any(|l| l.starts_with("Slice")),
        "{name}: no slice header traced"
    );
    assert_eq!(got.len(), want.len(), "{name}: traced lines");
    if let Some(i) = got.iter().zip(&want).position(|(a, b)| a != b) {
        panic!(
            "{name}: line {i} differs: {:?} vs input {:?}",
            got[i], want[i]
        );
    }
}

#[test]
fn slice_headers_stay_clear_h264() {
    headers_stay_clear("h264_aac.mp4", Scheme::Cenc);
    headers_stay_clear("h264_open_gop.mp4", Scheme::Cbcs);
}

#[test]
fn slice_headers_stay_clear_hevc() {
    headers_stay_clear("hevc_aac.mp4", Scheme::Cbcs);
}

#[test]
fn keys_must_cover_every_track() {
    let enc = Encryption::new(
        dashpack::Scheme::default(),
        vec![format!("video:{KID}:{KEY}").parse().unwrap()],
    );
    let options = Options::default().with_encryption(Some(enc));
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cenc-uncovered");
    let err = dashpack::package_files(&[fixture("h264_aac.mp4")], &dir, &options).unwrap_err();
    assert!(
        err.to_string().contains("no key applies to audio-1"),
        "{err}"
    );
    assert!(
        !err.to_string().contains(KEY),
        "the key is never in a message"
    );
    assert!(!dir.exists(), "nothing written");
}
