//! Captions from a caption track (`carriage::c608`) written into a segment's pictures:
//! each picture's SEI gets the byte pairs presented from its time up to the next
//! picture's, the way a broadcast encoder paces them. The windows of one segment's
//! pictures tile the segment's time, and segments tile the Period, so every pair goes
//! into exactly one picture.

use std::ops::Range;

use super::plan::TrackPlan;
use super::timing::Timing;
use crate::codec::CodecInfo;
use crate::codec::captions::{self, CaptionScan};
use crate::mp4::sample_table::Sample;

/// One pair of a caption track on the Period timeline, in the video's timescale.
pub(crate) type PairAt = (i64, [u8; 3]);

/// The pairs of a video track's caption tracks, in time order, and those tracks' IDs.
#[derive(Debug, Default)]
pub(crate) struct CaptionPairs {
    pub tracks: Vec<u32>,
    pub pairs: Vec<PairAt>,
}

/// The SEI NAL units of one segment, per sample in decode order.
#[derive(Default)]
pub(super) struct SegmentSei {
    bytes: Vec<u8>,
    ranges: Vec<Range<usize>>,
    /// The captions written so far, read in presentation order.
    pub scan: CaptionScan,
}

impl SegmentSei {
    /// Makes the SEI for segment `i`'s `samples` (of a track `timing` places on the
    /// Period) from the track's caption `pairs`.
    pub fn prepare(
        &mut self,
        pairs: &[PairAt],
        (plan, timing, codec): (&TrackPlan, &Timing, &CodecInfo),
        i: usize,
        samples: &[Sample],
    ) {
        self.bytes.clear();
        self.ranges.clear();
        if pairs.is_empty() {
            return;
        }
        let plan = &plan.segments;
        let lo = if i == 0 { i64::MIN } else { plan[i].ept };
        let hi = plan.get(i + 1).map_or(i64::MAX, |s| s.ept);
        let mut shown: Vec<(i64, usize)> = samples
            .iter()
            .enumerate()
            .map(|(k, s)| (timing.period_time(s.dts, s.cto), k))
            .collect();
        shown.sort_unstable();
        let mut per_sample: Vec<Range<usize>> = vec![0..0; samples.len()];
        let index_at = |t: i64| pairs.partition_point(|p| p.0 < t);
        for (j, &(_, k)) in shown.iter().enumerate() {
            let from = if j == 0 { lo } else { shown[j].0.clamp(lo, hi) };
            let to = shown.get(j + 1).map_or(hi, |n| n.0.clamp(lo, hi));
            let (a, b) = (index_at(from), index_at(to));
            if a >= b {
                continue;
            }
            let triples: Vec<[u8; 3]> = pairs[a..b].iter().map(|p| p.1).collect();
            self.scan.feed(&triples);
            let start = self.bytes.len();
            captions::sei_nal_units(
                codec.family,
                codec.nal_length_size,
                &triples,
                &mut self.bytes,
            );
            per_sample[k] = start..self.bytes.len();
        }
        self.ranges = per_sample;
    }

    /// The SEI to put into sample `k` of the segment (empty for none).
    pub fn of(&self, k: usize) -> &[u8] {
        self.ranges
            .get(k)
            .map_or(&[][..], |r| &self.bytes[r.clone()])
    }

    pub fn any(&self) -> bool {
        !self.bytes.is_empty()
    }
}
