//! Read: a segment's samples from the input in as few positional reads as the chunk
//! layout allows, decrypted when the input is encrypted and a key was given, checked
//! against their codec's framing, and the segment's SAP type found.

use super::job::TrackJob;
use super::plan::SegmentPlan;
use crate::codec::captions::{self, CaptionScan};
use crate::codec::{self, Family};
use crate::error::{BoxError, Malformed};
use crate::layout::ContentType;
use crate::mp4::sample_table::Sample;
use crate::source::Input;
use crate::{Error, Result};

/// A segment's samples read into `data` (or copied from `made`, when the track's
/// samples are made as it is written), decrypted when the input is, and checked
/// against their codec's framing; returns the segment's SAP type (1 for audio).
pub(super) fn read_checked(
    job: &TrackJob<'_>,
    seg: &SegmentPlan,
    samples: &[Sample],
    made: Option<&[u8]>,
    data: &mut [u8],
    captions: &mut CaptionScan,
) -> Result<u8> {
    match made {
        Some(bytes) => data.copy_from_slice(bytes),
        None => read_samples(job.input, samples, data)?,
    }
    decrypt_samples(job, seg.first, samples, data);
    check_samples(job, seg.first, samples, data)?;
    Ok(if job.track.track.kind == ContentType::Video {
        scan_captions(job, samples, data, captions);
        sap_type(job, seg.ept, samples, data)
    } else {
        1
    })
}

/// The closed captions in the segment's SEI, fed in presentation order: each picture
/// carries its own captions, and pictures are stored in decode order.
fn scan_captions(job: &TrackJob<'_>, samples: &[Sample], data: &[u8], scan: &mut CaptionScan) {
    let codec = &job.track.track.codec;
    if !matches!(codec.family, Family::Avc | Family::Hevc) {
        return;
    }
    let mut pictures: Vec<(i64, Vec<[u8; 3]>)> = Vec::new();
    let mut at = 0usize;
    for s in samples {
        let mut triples = Vec::new();
        let bytes = &data[at..at + s.size as usize];
        captions::cc_data(codec.family, codec.nal_length_size, bytes, &mut triples);
        if !triples.is_empty() {
            pictures.push((s.dts as i64 + s.cto, triples));
        }
        at += s.size as usize;
    }
    pictures.sort_by_key(|(pt, _)| *pt);
    for (_, triples) in &pictures {
        scan.feed(triples);
    }
}

/// Read the samples' bytes into `out`, merging samples that sit next to each other in
/// the file into one read.
fn read_samples(input: &Input, samples: &[Sample], out: &mut [u8]) -> Result<()> {
    let mut pos = 0usize;
    let mut i = 0;
    while i < samples.len() {
        let start = samples[i].offset;
        let mut len = samples[i].size as usize;
        let mut j = i + 1;
        while j < samples.len() && samples[j].offset == start + len as u64 {
            len += samples[j].size as usize;
            j += 1;
        }
        input
            .source()
            .read_exact_at(&mut out[pos..pos + len], start)
            .map_err(|e| {
                Error::io(
                    format!(
                        "{}: read {len} bytes of samples at byte {start}",
                        input.name()
                    ),
                    e,
                )
            })?;
        pos += len;
        i = j;
    }
    Ok(())
}

/// Encrypted input with its key: each sample decrypted in place with its IV and
/// subsamples (the framing check after it tells a wrong key by garbage).
fn decrypt_samples(job: &TrackJob<'_>, first_index: u32, samples: &[Sample], data: &mut [u8]) {
    let t = &job.track.track;
    let Some((p, key)) = t
        .protection
        .as_ref()
        .and_then(|p| Some((&p.protection, p.key?)))
    else {
        return;
    };
    let mut at = 0usize;
    for (k, s) in samples.iter().enumerate() {
        let end = at + s.size as usize;
        if let Some(aux) = t.aux.get((first_index as usize) + k) {
            crate::crypt::decrypt::decrypt(p, &key, aux, &mut data[at..end]);
        }
        at = end;
    }
}

/// Refuses the first sample whose bytes are not what its codec's framing says
/// ([`codec::framing`]), naming the track's tables, the sample and its file offset.
fn check_samples(
    job: &TrackJob<'_>,
    first_index: u32,
    samples: &[Sample],
    data: &[u8],
) -> Result<()> {
    let t = &job.track.track;
    let mut at = 0usize;
    for (k, s) in samples.iter().enumerate() {
        let bytes = &data[at..at + s.size as usize];
        if let Err(detail) = codec::framing::check(&t.codec, bytes) {
            return Err(BoxError::new(
                format!("{}/mdia/minf/stbl", t.path),
                s.offset,
                Malformed::Bitstream {
                    sample: first_index + k as u32 + 1,
                    detail: format!("track {}: {detail}", t.id),
                },
            )
            .in_file(job.input.name()));
        }
        at += s.size as usize;
    }
    Ok(())
}

/// SAP type of a segment (ISO/IEC 14496-12 Annex I): 1 when its first sample is the
/// first presented; otherwise it has leading pictures: 2 when they are decodable
/// (RADL, or after an H.264 IDR), 3 when they reference the previous GOP (open GOP).
fn sap_type(job: &TrackJob<'_>, ept: i64, samples: &[Sample], data: &[u8]) -> u8 {
    let first = samples[0];
    let first_pt = job.timing.period_time(first.dts, first.cto);
    if ept >= first_pt {
        return 1;
    }
    let codec = &job.track.track.codec;
    let nal = |s: &Sample, at: usize| {
        data.get(at..at + s.size as usize)
            .and_then(|d| codec::first_vcl_nal_type(codec.family, codec.nal_length_size, d))
    };
    match codec.family {
        Family::Avc => {
            if nal(&first, 0) == Some(5) {
                2
            } else {
                3
            }
        }
        Family::Hevc => {
            let mut at = 0usize;
            let mut rasl = false;
            for s in samples {
                let pt = job.timing.period_time(s.dts, s.cto);
                if pt < first_pt && matches!(nal(s, at), Some(8) | Some(9)) {
                    rasl = true;
                }
                at += s.size as usize;
            }
            if rasl { 3 } else { 2 }
        }
        // Other codecs' sync samples are where decoding starts (SAP 1).
        _ => 1,
    }
}
