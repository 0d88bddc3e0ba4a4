//! H.264 video that starts on an I picture that is not an IDR picture, carried so that
//! it starts on one (`codec::idr_start` rewrites the slice headers as the segments are
//! written). The pictures of the first GOP shown before that I picture (an open GOP's
//! leading pictures) refer to pictures before the cut, which are not there: they are
//! left out, and every picture kept keeps its time.

use super::substituted::{Stored, read_stored};
use crate::codec::idr_start::{IdrStart, Refusal};
use crate::codec::{self, Family};
use crate::layout::ContentType;
use crate::mp4::moov::Track;
use crate::mp4::sample_table::Sample;
use crate::source::{Input, Made, MadeSamples, SampleMaker};
use crate::{Error, Result};

/// A track whose start is rewritten: its samples as stored, and the rewriter checked
/// against its first sample (each pass over the track starts from a copy).
#[derive(Debug)]
pub(crate) struct Rewritten {
    samples: Stored,
    start: IdrStart,
    file: String,
    id: u32,
}

/// What [`of`] made of a track.
pub(crate) enum Start {
    /// Not H.264 starting on a non-IDR I picture: nothing to do.
    Idr,
    /// Rewritten; this many leading pictures were left out.
    Rewritten(Box<Rewritten>, usize),
    /// Such a start that this rewrite does not handle, and why.
    Refused(Refusal),
}

/// Decides on `track` (its table final but for leading pictures) and leaves out its
/// leading pictures when it is rewritten.
pub(crate) fn of(input: &Input, track: &mut Track) -> Result<Start> {
    let codec = &track.codec;
    if track.kind != ContentType::Video
        || codec.family != Family::Avc
        || !track.table.starts_on_sync()
    {
        return Ok(Start::Idr);
    }
    let Some(first) = track.table.cursor().next() else {
        return Ok(Start::Idr);
    };
    let mut bytes = vec![0; first.size as usize];
    input.read_at(&mut bytes, first.offset)?;
    // 1: a coded slice of a non-IDR picture (an encrypted sample's NAL headers are clear).
    if codec::first_vcl_nal_type(codec.family, codec.nal_length_size, &bytes) != Some(1) {
        return Ok(Start::Idr);
    }
    if track.protection.is_some() {
        return Ok(Start::Refused("it is encrypted"));
    }
    if !track.inband.is_empty() {
        return Ok(Start::Refused("its sample entries change"));
    }
    if !track.edit.joins.is_empty() {
        return Ok(Start::Refused("its media edits are joined"));
    }
    let start = match IdrStart::new(&codec.parameter_sets, codec.nal_length_size, &bytes) {
        Ok(start) => start,
        Err(why) => return Ok(Start::Refused(why)),
    };
    let samples: Vec<Sample> = track.table.cursor().collect();
    let keep = not_leading(&samples);
    let left_out = keep.iter().filter(|k| !**k).count();
    if left_out > 0 && !super::join::keep_only(track, &samples, &keep) {
        return Ok(Start::Refused("its leading pictures cannot be left out"));
    }
    let rewritten = Rewritten {
        samples: Stored::of(track),
        start,
        file: input.name().to_string(),
        id: track.id,
    };
    Ok(Start::Rewritten(Box::new(rewritten), left_out))
}

/// False for the leading pictures of the first GOP: decoded after its first (sync)
/// sample and shown before it.
fn not_leading(samples: &[Sample]) -> Vec<bool> {
    let mut keep = vec![true; samples.len()];
    let Some(first) = samples.first() else {
        return keep;
    };
    let shown = first.dts as i64 + first.cto;
    for (k, s) in keep.iter_mut().zip(samples).skip(1) {
        if s.sync {
            break;
        }
        if (s.dts as i64 + s.cto) < shown {
            *k = false;
        }
    }
    keep
}

impl MadeSamples for Rewritten {
    fn start<'a>(&'a self, input: &'a Input) -> Result<Box<dyn SampleMaker + 'a>> {
        Ok(Box::new(RewrittenMaker {
            track: self,
            next: 0,
            input,
            rewriter: self.start.clone(),
            read: Vec::new(),
        }))
    }

    fn same_frames(&self) -> bool {
        true
    }
}

impl Rewritten {
    fn error(&self, index: usize, why: String) -> Error {
        Error::Unsupported {
            file: self.file.clone(),
            what: format!(
                "track {}: sample {} (at byte {}) cannot be rewritten to follow the IDR \
                 picture the track now starts on: {why}",
                self.id,
                index + 1,
                self.samples.offset(index)
            ),
        }
    }
}

struct RewrittenMaker<'a> {
    track: &'a Rewritten,
    next: usize,
    input: &'a Input,
    rewriter: IdrStart,
    read: Vec<u8>,
}

impl SampleMaker for RewrittenMaker<'_> {
    fn next(&mut self, n: usize, data: &mut Vec<u8>, made: &mut Vec<Made>) -> Result<()> {
        let (t, input) = (self.track, self.input);
        let (read, rewriter) = (&mut self.read, &mut self.rewriter);
        t.samples
            .make(&mut self.next, n, data, made, |i, stored, data| {
                read.clear();
                read_stored(input, stored, read)?;
                rewriter.sample(read, data).map_err(|why| t.error(i, why))
            })
    }
}
