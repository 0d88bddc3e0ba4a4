//! Entry points into the hot paths for the criterion benchmarks in `benches/`. Behind
//! the `bench` feature so the public API stays small; not a stable interface.

use crate::described::{BuiltSegment, RepInput};
use crate::layout::ContentType;
use crate::mp4::write::moof::{Fragment, write_segment_header};
use crate::mp4::write::trun::TrunSample;
use crate::mpd;
use crate::{Input, Result, Timeline};

/// Reads and checks an input's movie: box scan, sample tables, the per-track pass over
/// every sample. Returns the number of samples.
pub fn read_sample_tables(input: &Input) -> Result<u64> {
    let media = crate::carriage::open(input)?;
    Ok(media
        .tracks
        .iter()
        .map(|t| u64::from(t.track.table.count))
        .sum())
}

/// Walks every sample of every track through the compact-table cursor, as segment
/// building does. Returns the sum of sample sizes.
pub fn walk_samples(input: &Input) -> Result<u64> {
    let media = crate::carriage::open(input)?;
    Ok(media
        .tracks
        .iter()
        .flat_map(|t| t.track.table.cursor())
        .map(|s| u64::from(s.size))
        .sum())
}

/// Writes one segment's `styp` + `moof` (with a `trun` of `samples` entries) into `buf`.
pub fn segment_header(buf: &mut Vec<u8>, samples: usize) {
    let trun: Vec<TrunSample> = (0..samples)
        .map(|i| TrunSample {
            duration: 1001,
            size: 3000 + (i as u32 % 7) * 100,
            flags: if i == 0 { 0x0200_0000 } else { 0x0101_0000 },
            cto: (i as i32 % 3) * 1001,
        })
        .collect();
    let payload = trun.iter().map(|s| u64::from(s.size)).sum();
    buf.clear();
    let fragment = Fragment {
        sequence: 1,
        track_id: 1,
        base_decode_time: 0,
        samples: &trun,
        with_cto: true,
        with_styp: true,
    };
    write_segment_header(buf, &fragment, payload, None);
}

/// Writes an MPD for `reps` video Representations of `segments` segments each
/// (bandwidth model included). Returns its length in bytes.
pub fn write_mpd(reps: usize, segments: usize) -> usize {
    let reps: Vec<RepDescription> = (0..reps as u64)
        .map(|r| RepDescription {
            video: true,
            timescale: 90_000,
            pto: 0,
            segments: (0..segments as u64)
                .map(|i| (i * 360_000, 360_000, 1_000_000 * (r + 1) + (i % 5) * 10_000))
                .collect(),
        })
        .collect();
    write_mpd_for(&reps).map_or(0, |xml| xml.len())
}

/// One Representation for [`write_mpd_for`]: video or audio, its timescale and its
/// segments as (time, duration, bytes).
pub struct RepDescription {
    pub video: bool,
    pub timescale: u32,
    pub pto: u64,
    pub segments: Vec<(u64, u64, u64)>,
}

/// Writes an MPD for arbitrary Representations (the fuzz target's entry point).
/// Returns the XML, or `None` when the writer refuses.
pub fn write_mpd_for(reps: &[RepDescription]) -> Option<String> {
    let lists: Vec<Vec<BuiltSegment>> = reps
        .iter()
        .map(|r| {
            r.segments
                .iter()
                .map(|&(time, duration, bytes)| BuiltSegment {
                    time,
                    duration,
                    bytes,
                    key_bytes: 0,
                })
                .collect()
        })
        .collect();
    let ids: Vec<String> = (0..reps.len()).map(|i| format!("rep-{}", i + 1)).collect();
    let inputs: Vec<RepInput<'_>> = reps
        .iter()
        .zip(&lists)
        .zip(&ids)
        .map(|((r, segs), id)| RepInput {
            id,
            kind: if r.video {
                ContentType::Video
            } else {
                ContentType::Audio
            },
            fourcc: if r.video { *b"avc1" } else { *b"mp4a" },
            codecs: if r.video { "avc1.64001f" } else { "mp4a.40.2" },
            language: "und",
            width: 640,
            height: 360,
            frame_rate: r.video.then_some((25, 1)),
            sar: Some((1, 1)),
            sample_rate: 48_000,
            channels: 2,
            dolby_mask: None,
            channel_scheme: None,
            supplemental: None,
            slot: 0,
            timescale: r.timescale,
            pto: r.pto,
            protection: None,
            on_demand: None,
            segments: segs,
            until: None,
            sap: 1,
            tolerance: 0.02,
            captions: &[],
            role: None,
        })
        .collect();
    mpd::write(&inputs, &[], &[], Timeline::Number)
        .ok()
        .map(|w| w.xml)
}

/// The slice header length (bytes of the NAL unit, its header included) of every slice
/// NAL unit of the first video track, in decode order, as subsample encryption uses
/// it; `None` where it does not parse. For tests against an outside parser.
pub fn slice_header_lengths(input: &Input) -> Result<Vec<Option<usize>>> {
    use crate::codec::slice_header::SliceHeaders;
    let media = crate::carriage::open(input)?;
    let Some(t) = media
        .tracks
        .iter()
        .find(|t| t.track.kind == ContentType::Video)
    else {
        return Ok(Vec::new());
    };
    let codec = &t.track.codec;
    let mut headers = match codec.family {
        crate::codec::Family::Hevc => SliceHeaders::hevc(),
        _ => SliceHeaders::avc(),
    };
    for ps in &codec.parameter_sets {
        headers.observe(ps);
    }
    let ls = usize::from(codec.nal_length_size);
    let mut out = Vec::new();
    for s in t.track.table.cursor() {
        let mut buf = vec![0u8; s.size as usize];
        input
            .source()
            .read_exact_at(&mut buf, s.offset)
            .map_err(|e| crate::Error::io(format!("{}: sample {}", input.name(), s.index), e))?;
        let mut pos = 0;
        while pos + ls <= buf.len() {
            let len = buf[pos..pos + ls]
                .iter()
                .fold(0usize, |a, &b| (a << 8) | usize::from(b));
            let Some(nal) = buf.get(pos + ls..pos + ls + len) else {
                break;
            };
            if headers.is_vcl(nal) {
                out.push(headers.header_len(nal));
            } else {
                headers.observe(nal);
            }
            pos += ls + len;
        }
    }
    Ok(out)
}
