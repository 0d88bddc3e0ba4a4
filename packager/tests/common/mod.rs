//! Test helpers that read inputs and outputs with `mp4-atom` (strict), never with
//! dashpack's own reader, so the checks are independent of the code under test.
#![allow(dead_code, unused_macros, clippy::unwrap_used)]

pub mod exact;

use std::io::Cursor;
use std::path::PathBuf;

use mp4_atom::{Codec, Decode, Ftyp, Mdat, Moof, Moov, StszSamples, Styp};

pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

pub fn fixture(name: &str) -> PathBuf {
    fixtures_dir().join(name)
}

/// Why `mpd` does not validate against the MPEG-DASH schema (`tests/schemas/mpd/`, a
/// local copy with its xlink import), or `None` when it does. Needs `xmllint`
/// (Debian's `libxml2-utils`, which the test command installs).
#[allow(dead_code)]
pub fn mpd_schema_error(mpd: &std::path::Path) -> Option<String> {
    let schema =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/schemas/mpd/DASH-MPD.xsd");
    let out = std::process::Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(&schema)
        .arg(mpd)
        .output()
        .unwrap_or_else(|e| {
            panic!("xmllint (Debian's libxml2-utils; scripts/test installs it): {e}")
        });
    (!out.status.success()).then(|| String::from_utf8_lossy(&out.stderr).trim().to_string())
}

/// Calls `$m! { test_name => "file", ... }` with every fixture, so each test file
/// gets one test per fixture from a single list.
macro_rules! for_each_fixture {
    ($m:ident) => {
        $m! {
            h264_aac => "h264_aac.mp4",
            h264_ntsc => "h264_ntsc.mp4",
            hevc_aac => "hevc_aac.mp4",
            audio_only => "audio_only.m4a",
            video_only => "video_only.mp4",
            moov_at_end => "moov_at_end.mp4",
            no_edit_list => "no_edit_list.mp4",
            empty_edit => "empty_edit.mp4",
            audio_delayed => "audio_delayed.mp4",
            negative_cts => "negative_cts.mp4",
            h264_open_gop => "h264_open_gop.mp4",
            video_low => "video_low.mp4",
            av1_opus => "av1_opus.mp4",
            vp9_flac => "vp9_flac.mp4",
            audio_ac3 => "audio_ac3.mp4",
            audio_eac3 => "audio_eac3.mp4",
            fragmented => "fragmented.mp4",
            fragmented_late_video => "fragmented_late_video.mp4",
            phone => "phone.mov",
            languages => "languages.mp4",
            h264_aac_qt => "h264_aac_qt.mov",
            h264_mpeg2_aac => "h264_mpeg2_aac.mp4",
            h264_cea608 => "h264_cea608.mp4",
            h264_c608 => "h264_c608.mov",
        }
    };
}

/// Clips of codecs carried as they are, checked by `passthrough.rs` with FFmpeg as the
/// oracle (mp4-atom does not know these sample entries).
pub const PASSTHROUGH: &[&str] = &[
    "h264_alac.mp4",
    "h264_mp3.mp4",
    "audio_mp2.mp4",
    "audio_truehd.mp4",
    "audio_dts.mp4",
    "dolby_vision_p5.mp4",
    "dolby_vision_p81.mp4",
];

/// Clips with timed-text tracks, converted to WebVTT or carried (`text_tracks.rs`).
pub const TEXT: &[&str] = &[
    "h264_aac_tx3g.mp4",
    "h264_aac_stpp.mp4",
    "h264_aac_wvtt.mp4",
    "fragmented_tx3g.mp4",
    "fragmented_wvtt.mp4",
];

/// Clips with uncompressed audio, transcoded to Opus (`transcode.rs`).
/// Video no player decodes, carried only through the ABR ladder (`tests/ladder.rs`).
pub const LADDER_ONLY: &[&str] = &["mpeg4_aac.mp4"];

pub const TRANSCODED: &[&str] = &[
    "camera_pcm.mov",
    "camera_pcm_51.mov",
    "audio_pcm_twos.mov",
    "audio_pcm_in24.mov",
    "audio_pcm_in32.mov",
    "audio_pcm_fl32.mov",
];

/// Every clip `fixtures/make.sh` writes.
pub const FIXTURES: &[&str] = &[
    "h264_aac.mp4",
    "h264_ntsc.mp4",
    "hevc_aac.mp4",
    "audio_only.m4a",
    "video_only.mp4",
    "moov_at_end.mp4",
    "no_edit_list.mp4",
    "empty_edit.mp4",
    "audio_delayed.mp4",
    "negative_cts.mp4",
    "h264_open_gop.mp4",
    "video_low.mp4",
    "av1_opus.mp4",
    "vp9_flac.mp4",
    "audio_ac3.mp4",
    "audio_eac3.mp4",
    "fragmented.mp4",
    "fragmented_late_video.mp4",
    "phone.mov",
    "languages.mp4",
    "h264_aac_qt.mov",
    "h264_mpeg2_aac.mp4",
    "h264_cea608.mp4",
    "h264_c608.mov",
];

/// Inputs with a QuickTime caption track: their pictures are written with the captions'
/// SEI added, and must otherwise be the input's bytes.
pub const WITH_CAPTION_TRACK: &[&str] = &["h264_c608.mov"];

/// An H.264 sample (4-byte lengths) without its SEI NAL units of ATSC A/53 captions.
pub fn without_caption_sei(sample: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut at = 0;
    while at + 4 <= sample.len() {
        let len = u32::from_be_bytes(sample[at..at + 4].try_into().unwrap()) as usize;
        let nal = &sample[at..at + 4 + len];
        let captions = nal[4] & 0x1F == 6 && nal.windows(4).any(|w| w == b"GA94");
        if !captions {
            out.extend_from_slice(nal);
        }
        at += 4 + len;
    }
    out
}

#[derive(Debug, Clone)]
pub struct InSample {
    pub offset: u64,
    pub size: u32,
    pub dts: i64,
    pub duration: u32,
    pub cts: i64,
    pub sync: bool,
}

#[derive(Debug, Clone)]
pub struct InTrack {
    pub id: u32,
    pub video: bool,
    pub timescale: u32,
    pub movie_timescale: u32,
    /// Leading empty edits, movie timescale.
    pub empty: u64,
    /// First media edit's media time (0 without an edit list).
    pub media_time: i64,
    pub samples: Vec<InSample>,
    pub codecs: String,
}

impl InTrack {
    /// Presentation time in seconds of a composition time, as the edit list places it.
    pub fn presentation(&self, cts: i64) -> f64 {
        (cts - self.media_time) as f64 / f64::from(self.timescale)
            + self.empty as f64 / f64::from(self.movie_timescale)
    }
}

/// Top-level boxes: (kind, start, end).
pub fn top_level(bytes: &[u8]) -> Vec<([u8; 4], usize, usize)> {
    let mut out = Vec::new();
    let mut pos = 0usize;
    while pos + 8 <= bytes.len() {
        let size32 = u32::from_be_bytes(bytes[pos..pos + 4].try_into().unwrap()) as u64;
        let kind: [u8; 4] = bytes[pos + 4..pos + 8].try_into().unwrap();
        let size = match size32 {
            0 => (bytes.len() - pos) as u64,
            1 => u64::from_be_bytes(bytes[pos + 8..pos + 16].try_into().unwrap()),
            n => n,
        };
        let end = pos + size as usize;
        out.push((kind, pos, end.min(bytes.len())));
        pos = end;
    }
    out
}

pub fn expected_codecs(codec: &Codec) -> String {
    match codec {
        Codec::Avc1(a) => format!(
            "avc1.{:02X}{:02X}{:02X}",
            a.avcc.avc_profile_indication,
            a.avcc.profile_compatibility,
            a.avcc.avc_level_indication
        ),
        Codec::Hvc1(h) => {
            let c = &h.hvcc;
            let compat = u32::from_be_bytes(c.general_profile_compatibility_flags).reverse_bits();
            let space = ["", "A", "B", "C"][c.general_profile_space as usize];
            let mut s = format!(
                "hvc1.{space}{}.{compat:X}.{}{}",
                c.general_profile_idc,
                if c.general_tier_flag { 'H' } else { 'L' },
                c.general_level_idc
            );
            let flags = c.general_constraint_indicator_flags;
            let keep = flags.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
            for b in &flags[..keep] {
                s.push_str(&format!(".{b:02X}"));
            }
            s
        }
        Codec::Mp4a(m) => {
            let dc = &m.esds.es_desc.dec_config;
            // MPEG-2 AAC (0x66-0x68) is declared as the MPEG-4 AAC object type DASH
            // players know (Main 1, LC 2, SSR 3).
            let oti = match dc.object_type_indication {
                0x66..=0x68 => 0x40,
                oti => oti,
            };
            format!(
                "mp4a.{oti:02X}.{}",
                dc.dec_specific.as_ref().unwrap().profile
            )
        }
        Codec::Av01(a) => {
            let c = &a.av1c;
            let depth = match (c.high_bitdepth, c.twelve_bit) {
                (true, true) => 12,
                (true, false) => 10,
                _ => 8,
            };
            assert!(
                a.colr.is_none(),
                "the AV1 fixture has no colr: the short form applies"
            );
            format!(
                "av01.{}.{:02}{}.{depth:02}",
                c.seq_profile,
                c.seq_level_idx_0,
                if c.seq_tier_0 { 'H' } else { 'M' }
            )
        }
        Codec::Vp09(v) => {
            let c = &v.vpcc;
            format!(
                "vp09.{:02}.{:02}.{:02}.{:02}.{:02}.{:02}.{:02}.{:02}",
                c.profile,
                c.level,
                c.bit_depth,
                c.chroma_subsampling,
                c.color_primaries,
                c.transfer_characteristics,
                c.matrix_coefficients,
                u8::from(c.video_full_range_flag)
            )
        }
        Codec::Opus(_) => "opus".into(),
        Codec::Flac(_) => "flac".into(),
        Codec::Ac3(_) => "ac-3".into(),
        Codec::Eac3(_) => "ec-3".into(),
        other => panic!("fixture codec not expected: {other:?}"),
    }
}

const CONTAINERS: [&[u8; 4]; 6] = [b"moov", b"trak", b"mdia", b"minf", b"stbl", b"edts"];

/// A copy of one box with the named descendants removed and container sizes rewritten.
/// Sample entries inside `stsd` are filtered too (their fixed fields kept), and a
/// `minf/hdlr` (QuickTime's data handler) goes when `hdlr` is in `drop`.
pub fn without_boxes(bx: &[u8], drop: &[&[u8; 4]]) -> Vec<u8> {
    let kind: [u8; 4] = bx[4..8].try_into().unwrap();
    let (fields, container) = match &kind {
        k if CONTAINERS.contains(&k) => (0, true),
        b"stsd" => (8, true),
        b"avc1" | b"avc3" | b"hvc1" | b"hev1" | b"av01" | b"vp09" => (78, true),
        // QuickTime sound descriptions 1 and 2 carry more fields.
        b"mp4a" | b"Opus" | b"fLaC" | b"ac-3" | b"ec-3" => match bx[16..18] {
            [0, 1] => (44, true),
            [0, 2] => (64, true),
            _ => (28, true),
        },
        _ => (0, false),
    };
    if !container {
        return bx.to_vec();
    }
    let mut body = bx[8..8 + fields].to_vec();
    for (child, start, end) in top_level(&bx[8 + fields..]) {
        // Only the data handler inside minf; mdia's hdlr says what the track is.
        let dropped = drop.contains(&&child) && (&child != b"hdlr" || &kind == b"minf");
        if !dropped {
            body.extend(without_boxes(
                &bx[8 + fields + start..8 + fields + end],
                drop,
            ));
        }
    }
    let mut out = ((body.len() + 8) as u32).to_be_bytes().to_vec();
    out.extend_from_slice(&kind);
    out.extend(body);
    out
}

/// An input's `moov` decoded by mp4-atom (strict). Inputs may carry boxes its strict
/// mode does not know (`sdtp` from x265, QuickTime's `minf/hdlr` and `gmhd`, [`ORACLE_SKIPS`] in
/// sample entries): they are dropped from the copy the oracle reads.
pub fn read_input_moov(bytes: &[u8]) -> Moov {
    let (_, start, end) = top_level(bytes)
        .into_iter()
        .find(|b| &b.0 == b"moov")
        .unwrap();
    let mut drop = vec![b"sdtp", b"hdlr", b"gmhd"];
    drop.extend(ORACLE_SKIPS);
    let moov_bytes = without_boxes(&bytes[start..end], &drop);
    Moov::decode(&mut Cursor::new(&moov_bytes)).unwrap()
}

/// Every sample's byte offset and size, from a sample table read by mp4-atom.
pub fn sample_offsets(stbl: &mp4_atom::Stbl) -> (Vec<u64>, Vec<u32>) {
    let sizes: Vec<u32> = match &stbl.stsz.samples {
        StszSamples::Identical { count, size } => vec![*size; *count as usize],
        StszSamples::Different { sizes } => sizes.clone(),
    };
    let chunks: Vec<u64> = match (&stbl.stco, &stbl.co64) {
        (Some(s), _) => s.entries.iter().map(|&o| u64::from(o)).collect(),
        (_, Some(c)) => c.entries.clone(),
        _ => panic!("no chunk offsets"),
    };
    let mut offsets = Vec::new();
    for (ci, &chunk_offset) in chunks.iter().enumerate() {
        let chunk = ci as u32 + 1;
        let e = stbl
            .stsc
            .entries
            .iter()
            .rev()
            .find(|e| e.first_chunk <= chunk)
            .unwrap();
        let mut o = chunk_offset;
        for _ in 0..e.samples_per_chunk {
            if offsets.len() == sizes.len() {
                break;
            }
            offsets.push(o);
            o += u64::from(sizes[offsets.len() - 1]);
        }
    }
    (offsets, sizes)
}

/// Read an input's tracks and expand their sample tables, independently of dashpack.
pub fn read_input(bytes: &[u8]) -> Vec<InTrack> {
    let moov = read_input_moov(bytes);
    let movie_timescale = moov.mvhd.timescale;
    let mut tracks = Vec::new();
    for trak in &moov.trak {
        let handler = trak.mdia.hdlr.handler;
        let video = handler == b"vide".into();
        if !video && handler != b"soun".into() {
            continue;
        }
        let stbl = &trak.mdia.minf.stbl;
        let (offsets, sizes) = sample_offsets(stbl);
        assert_eq!(offsets.len(), sizes.len());
        let mut durations = Vec::new();
        for e in &stbl.stts.entries {
            durations.extend(std::iter::repeat_n(e.sample_delta, e.sample_count as usize));
        }
        let mut ctos = Vec::new();
        match &stbl.ctts {
            Some(c) => {
                for e in &c.entries {
                    ctos.extend(std::iter::repeat_n(
                        e.sample_offset,
                        e.sample_count as usize,
                    ));
                }
            }
            None => ctos = vec![0; sizes.len()],
        }
        let sync: Option<Vec<u32>> = stbl.stss.as_ref().map(|s| s.entries.clone());
        let mut dts = 0i64;
        let mut samples: Vec<InSample> = (0..sizes.len())
            .map(|i| {
                let s = InSample {
                    offset: offsets[i],
                    size: sizes[i],
                    dts,
                    duration: durations[i],
                    cts: dts + ctos[i],
                    sync: sync.as_ref().is_none_or(|v| v.contains(&(i as u32 + 1))),
                };
                dts += i64::from(durations[i]);
                s
            })
            .collect();
        if let Some(mvex) = &moov.mvex {
            fragment_samples(bytes, mvex, trak.tkhd.track_id, &mut samples);
        }
        let (mut empty, mut media_time) = (0u64, 0i64);
        if let Some(elst) = trak.edts.as_ref().and_then(|e| e.elst.as_ref()) {
            for e in &elst.entries {
                match e.media_time {
                    None => empty += e.segment_duration,
                    Some(t) => {
                        media_time = t as i64;
                        break;
                    }
                }
            }
        }
        tracks.push(InTrack {
            id: trak.tkhd.track_id,
            video,
            timescale: trak.mdia.mdhd.timescale,
            movie_timescale,
            empty,
            media_time,
            samples,
            codecs: expected_codecs(&stbl.stsd.codecs[0]),
        });
    }
    tracks
}

/// The samples of every `moof` of a fragmented input for one track, read with
/// mp4-atom: defaults from `trex` and `tfhd`, offsets from the base (explicit or the
/// moof), decode times from the first `tfdt`.
fn fragment_samples(bytes: &[u8], mvex: &mp4_atom::Mvex, track_id: u32, out: &mut Vec<InSample>) {
    let trex = mvex.trex.iter().find(|t| t.track_id == track_id);
    let mut dts = out.last().map(|s| s.dts + i64::from(s.duration));
    for (kind, start, end) in top_level(bytes) {
        if &kind != b"moof" {
            continue;
        }
        let moof = Moof::decode(&mut Cursor::new(&bytes[start..end])).unwrap();
        for traf in moof.traf.iter().filter(|t| t.tfhd.track_id == track_id) {
            let h = &traf.tfhd;
            let base = h.base_data_offset.unwrap_or(start as u64);
            if dts.is_none() {
                dts = Some(
                    traf.tfdt
                        .as_ref()
                        .map_or(0, |t| t.base_media_decode_time as i64),
                );
            }
            let mut next = base;
            for trun in &traf.trun {
                let mut at = trun
                    .data_offset
                    .map_or(next, |o| (base as i64 + i64::from(o)) as u64);
                for e in trun.samples.iter() {
                    let duration = e
                        .duration
                        .or(h.default_sample_duration)
                        .unwrap_or_else(|| trex.unwrap().default_sample_duration);
                    let size = e
                        .size
                        .or(h.default_sample_size)
                        .unwrap_or_else(|| trex.unwrap().default_sample_size);
                    let flags = e
                        .flags
                        .or(h.default_sample_flags)
                        .unwrap_or_else(|| trex.unwrap().default_sample_flags);
                    let d = dts.unwrap();
                    out.push(InSample {
                        offset: at,
                        size,
                        dts: d,
                        duration,
                        cts: d + e.cts.unwrap_or(0),
                        sync: flags & 0x0001_0000 == 0,
                    });
                    at += u64::from(size);
                    dts = Some(d + i64::from(duration));
                }
                next = at;
            }
        }
    }
}

#[derive(Debug, Clone)]
pub struct OutSample {
    pub dts: u64,
    pub duration: u32,
    pub cto: i64,
    pub flags: u32,
    pub data: Vec<u8>,
}

impl OutSample {
    pub fn pt(&self) -> i64 {
        self.dts as i64 + self.cto
    }
    pub fn is_sync(&self) -> bool {
        self.flags & 0x0001_0000 == 0
    }
}

#[derive(Debug)]
pub struct OutSegment {
    pub sequence: u32,
    pub tfdt: u64,
    pub samples: Vec<OutSample>,
}

/// Decode a media segment strictly: `styp`, `moof` with one `traf`, `mdat`, nothing else.
pub fn read_segment(bytes: &[u8], track_id: u32) -> OutSegment {
    let boxes = top_level(bytes);
    let kinds: Vec<&[u8; 4]> = boxes.iter().map(|b| &b.0).collect();
    assert_eq!(kinds, [b"styp", b"moof", b"mdat"], "segment box order");
    let mut c = Cursor::new(bytes);
    Styp::decode(&mut c).unwrap();
    let moof_start = c.position() as usize;
    let moof = Moof::decode(&mut c).unwrap();
    let moof_size = c.position() as usize - moof_start;
    let mdat_header = 8;
    let mdat = Mdat::decode(&mut c).unwrap();
    assert_eq!(c.position() as usize, bytes.len(), "nothing after mdat");
    assert_eq!(moof.traf.len(), 1, "exactly one traf per moof");
    let traf = &moof.traf[0];
    assert_eq!(traf.tfhd.track_id, track_id);
    assert!(traf.tfhd.default_base_is_moof, "tfhd default-base-is-moof");
    assert!(traf.tfhd.base_data_offset.is_none(), "no base-data-offset");
    assert_eq!(traf.trun.len(), 1);
    let trun = &traf.trun[0];
    assert_eq!(
        trun.data_offset,
        Some((moof_size + mdat_header) as i32),
        "trun data_offset"
    );
    let tfdt = traf.tfdt.as_ref().expect("tfdt").base_media_decode_time;
    let mut dts = tfdt;
    let mut pos = 0usize;
    let mut samples = Vec::new();
    for e in trun.samples.iter() {
        let size = e.size.expect("per-sample size") as usize;
        let duration = e.duration.expect("per-sample duration");
        samples.push(OutSample {
            dts,
            duration,
            cto: e.cts.unwrap_or(0),
            flags: e.flags.expect("per-sample flags"),
            data: mdat.data[pos..pos + size].to_vec(),
        });
        pos += size;
        dts += u64::from(duration);
    }
    assert_eq!(pos, mdat.data.len(), "mdat holds exactly the samples");
    OutSegment {
        sequence: moof.mfhd.sequence_number,
        tfdt,
        samples,
    }
}

/// Standard boxes in sample entries mp4-atom's strict mode does not accept there
/// (`btrt` in Dolby entries, QuickTime's `fiel` and `chan`). The sample entry is the
/// input's, byte for byte (`stsd_is_copied`); only the oracle's copy loses them.
pub const ORACLE_SKIPS: [&[u8; 4]; 3] = [b"btrt", b"fiel", b"chan"];

/// Decode an init segment strictly and return its `moov`.
pub fn read_init(bytes: &[u8]) -> Moov {
    let mut c = Cursor::new(bytes);
    Ftyp::decode(&mut c).unwrap();
    let start = c.position() as usize;
    let moov_bytes = without_boxes(&bytes[start..], &ORACLE_SKIPS);
    let moov = Moov::decode(&mut Cursor::new(&moov_bytes)).unwrap();
    assert_eq!(
        start + u32::from_be_bytes(bytes[start..start + 4].try_into().unwrap()) as usize,
        bytes.len(),
        "nothing after moov"
    );
    moov
}

pub fn find(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The raw `stsd` box inside a buffer.
pub fn raw_box<'a>(bytes: &'a [u8], kind: &[u8; 4]) -> &'a [u8] {
    let at = bytes.windows(4).position(|w| w == kind).unwrap() - 4;
    let size = u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
    &bytes[at..at + size]
}

/// Size and MD5 of every decoded frame FFmpeg reads from `stream` of `input` (an MP4, an MPD
/// or an HLS playlist); FFmpeg must print no error.
pub fn frame_hashes(input: &std::path::Path, stream: &str) -> Vec<String> {
    let out = std::process::Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-i"])
        .arg(input)
        .args(["-map", stream, "-f", "framemd5", "-"])
        .output()
        .expect("ffmpeg must be installed (scripts/test installs it)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stderr.trim().is_empty(),
        "ffmpeg on {}: {stderr}",
        input.display()
    );
    framemd5_sizes_and_hashes(&out.stdout)
}

/// `size,hash` of every packet line of FFmpeg's `framemd5` output: timestamps are
/// compared by the conformance tests, and side data (skip samples, encryption info)
/// differs by design.
pub fn framemd5_sizes_and_hashes(stdout: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(stdout)
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| {
            l.split(',')
                .skip(4)
                .take(2)
                .map(str::trim)
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect()
}

/// The rows of an `expected.tsv` (file, verdict or error kind, why), comments skipped.
pub fn expected_tsv(path: &std::path::Path) -> Vec<(String, String, String)> {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let mut f = l.splitn(3, '\t');
            let name = f.next().unwrap().to_string();
            let kind = f.next().unwrap().to_string();
            let why = f.next().unwrap_or("").to_string();
            (name, kind, why)
        })
        .collect()
}

/// `Malformed` errors by their kind's variant name, other errors by their own.
pub fn error_kind(e: &dashpack::Error) -> String {
    let debug = match e {
        dashpack::Error::Malformed { kind, .. } => format!("{kind:?}"),
        other => format!("{other:?}"),
    };
    debug
        .split(|c: char| !c.is_alphanumeric())
        .next()
        .unwrap()
        .to_string()
}

/// Size and MD5 of every packet FFmpeg reads from `stream` of `file` (with `key`, the
/// samples decrypted first); FFmpeg must succeed.
pub fn ffmpeg_packets(file: &std::path::Path, stream: &str, key: Option<&str>) -> Vec<String> {
    let mut cmd = std::process::Command::new("ffmpeg");
    cmd.args(["-nostdin", "-v", "error"]);
    if let Some(key) = key {
        cmd.args(["-decryption_key", key]);
    }
    cmd.arg("-i")
        .arg(file)
        .args(["-map", stream, "-c", "copy", "-f", "framemd5", "-"]);
    framemd5_sizes_and_hashes(&run(&mut cmd))
}

/// Runs FFmpeg or ffprobe and returns what it wrote to standard output; a failure fails
/// the test with its standard error.
pub fn run(cmd: &mut std::process::Command) -> Vec<u8> {
    let out = cmd
        .output()
        .expect("ffmpeg must be installed (scripts/test installs it)");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Packages one input into a folder under the target's temporary folder (replaced if
/// it exists) and returns the folder and the presentation.
pub fn package_into(input: &std::path::Path, folder: &str) -> (PathBuf, dashpack::Presentation) {
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(folder);
    let options = dashpack::Options::default().with_force(true);
    let p = dashpack::package_files(&[input], &out, &options).unwrap();
    (out, p)
}
