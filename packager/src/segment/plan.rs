//! Where segments start. Video is cut at the first sync sample at or after
//! `n * target` (n counted from the start, so boundaries never drift); other tracks are
//! cut at the sample boundary nearest each video boundary, so audio segments never
//! shrink to slivers and every Representation covers the same spans.

use super::timing::{Rational, Timing};
use crate::mp4::sample_table::SampleTable;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SegmentPlan {
    /// Index of the first sample, in decode order.
    pub first: u32,
    pub count: u32,
    /// Earliest presentation time of the segment, in period time (track timescale).
    pub ept: i64,
    /// Presentation time of its first sample in decode order.
    pub first_pt: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TrackPlan {
    pub segments: Vec<SegmentPlan>,
    /// Where the track's presentation ends, in period time.
    pub end: i64,
}

impl TrackPlan {
    /// Period-time start of every segment after the first, as cut points for others.
    pub fn cut_times(&self, timescale: u32) -> Vec<Rational> {
        self.segments
            .iter()
            .skip(1)
            .map(|s| Rational::new(i128::from(s.ept), i128::from(timescale)))
            .collect()
    }

    /// Duration of segment `i`: up to the next segment's start, the last up to the end.
    pub fn duration(&self, i: usize) -> i64 {
        let next = self.segments.get(i + 1).map_or(self.end, |n| n.ept);
        next - self.segments[i].ept
    }
}

struct Builder {
    segments: Vec<SegmentPlan>,
    current: Option<SegmentPlan>,
    end: i64,
}

impl Builder {
    fn new() -> Self {
        Builder {
            segments: Vec::new(),
            current: None,
            end: i64::MIN,
        }
    }

    fn cut(&mut self) {
        if let Some(c) = self.current.take() {
            self.segments.push(c);
        }
    }

    fn add(&mut self, index: u32, pt: i64, duration: u32) {
        let c = self.current.get_or_insert(SegmentPlan {
            first: index,
            count: 0,
            ept: pt,
            first_pt: pt,
        });
        c.count += 1;
        c.ept = c.ept.min(pt);
        self.end = self.end.max(pt + i64::from(duration));
    }

    fn finish(mut self) -> TrackPlan {
        self.cut();
        TrackPlan {
            segments: self.segments,
            end: self.end,
        }
    }
}

/// Cut at sync samples at or after each multiple of `target`.
pub(crate) fn plan_by_sync(
    table: &SampleTable,
    timescale: u32,
    timing: &Timing,
    target: Rational,
) -> TrackPlan {
    let ts = i128::from(timescale);
    let mut b = Builder::new();
    let mut n: i128 = 1;
    for s in table.cursor() {
        let pt = timing.period_time(s.dts, s.cto);
        // pt >= n * target, with target = num / den seconds
        if s.sync && b.current.is_some() && i128::from(pt) * target.den >= n * target.num * ts {
            b.cut();
            n = (i128::from(pt) * target.den).div_euclid(target.num * ts) + 1;
        }
        b.add(s.index, pt, s.duration);
    }
    b.finish()
}

/// Cut before every sync sample: for video encoded here, whose keyframes were put at
/// the segment starts on purpose.
pub(crate) fn plan_at_syncs(table: &SampleTable, timing: &Timing) -> TrackPlan {
    let mut b = Builder::new();
    for s in table.cursor() {
        if s.sync && b.current.is_some() {
            b.cut();
        }
        b.add(s.index, timing.period_time(s.dts, s.cto), s.duration);
    }
    b.finish()
}

/// Cut at the sample boundary nearest each of `cuts` (period times, ascending).
pub(crate) fn plan_at(
    table: &SampleTable,
    timescale: u32,
    timing: &Timing,
    cuts: &[Rational],
) -> TrackPlan {
    let ts = i128::from(timescale);
    let mut b = Builder::new();
    let mut next = 0;
    for s in table.cursor() {
        let pt = timing.period_time(s.dts, s.cto);
        // The boundary before this sample is the nearest one to a cut c when
        // c <= pt + duration / 2.
        let mid2 = 2 * i128::from(pt) + i128::from(s.duration);
        let mut crossed = false;
        while let Some(c) = cuts.get(next) {
            if c.num * 2 * ts <= mid2 * c.den {
                crossed = true;
                next += 1;
            } else {
                break;
            }
        }
        if crossed {
            b.cut();
        }
        b.add(s.index, pt, s.duration);
    }
    b.finish()
}

/// Multiples of `target` up to `end` (period time in `timescale`), for tracks with no
/// video to follow; at most `max` of them. A track of N samples has at most N segments,
/// so more cuts than samples can only come from samples longer than the target (a
/// broken or hostile file claiming a huge duration); stopping there keeps memory and
/// time bounded by the file.
pub(crate) fn regular_cuts(
    target: Rational,
    end: i64,
    timescale: u32,
    max: usize,
) -> Vec<Rational> {
    let mut cuts = Vec::new();
    let mut n: i128 = 1;
    let end = Rational::new(i128::from(end), i128::from(timescale));
    while cuts.len() < max {
        let c = Rational::new(n * target.num, target.den);
        if !c.lt(end) {
            break;
        }
        cuts.push(c);
        n += 1;
    }
    cuts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mp4::sample_table::{Sizes, StscEntry};

    fn table(count: u32, delta: u32, sync_every: u32) -> SampleTable {
        SampleTable {
            count,
            stts: vec![(count, delta)],
            ctts: vec![],
            sizes: Sizes::Constant(1),
            stsc: vec![StscEntry {
                first_chunk: 1,
                samples_per_chunk: count,
                sample_description_index: 1,
            }],
            chunk_offsets: vec![0],
            sync: Some(
                (0..count)
                    .step_by(sync_every as usize)
                    .map(|i| i + 1)
                    .collect(),
            ),
        }
    }

    const ZERO: Timing = Timing {
        shift: 0,
        dts_offset: 0,
        cto_shift: 0,
        pto: 0,
    };

    #[test]
    fn cuts_follow_the_grid_not_the_previous_cut() {
        // 25 fps, keyframe every 30 frames (1.2 s), target 2 s: cuts at the first
        // keyframe at or after 2, 4, 6 s -> 2.4, 4.8, 6.0 s.
        let t = table(200, 40, 30);
        let p = plan_by_sync(&t, 1000, &ZERO, Rational::new(2, 1));
        let starts: Vec<i64> = p.segments.iter().map(|s| s.ept).collect();
        assert_eq!(starts, [0, 2400, 4800, 6000]);
        assert_eq!(p.end, 8000);
        assert_eq!(p.duration(3), 2000);
    }

    #[test]
    fn long_gop_gives_longer_segments() {
        let t = table(100, 100, 50); // keyframe every 5 s, target 2 s
        let p = plan_by_sync(&t, 1000, &ZERO, Rational::new(2, 1));
        let starts: Vec<i64> = p.segments.iter().map(|s| s.ept).collect();
        assert_eq!(starts, [0, 5000]);
    }

    #[test]
    fn audio_cuts_at_nearest_frame() {
        // AAC frames of 1024 at 48 kHz; cuts at 2.0 s and 4.0 s.
        let t = table(300, 1024, 1);
        let cuts = [Rational::new(2, 1), Rational::new(4, 1)];
        let p = plan_at(&t, 48000, &ZERO, &cuts);
        let starts: Vec<i64> = p.segments.iter().map(|s| s.ept).collect();
        // 96000 / 1024 = 93.75 -> frame 94 starts at 96256 (256 after), frame 93 at 95232
        // (768 before): 94 is nearer.
        assert_eq!(starts, [0, 96256, 191488]);
        for (s, c) in starts[1..].iter().zip([96000i64, 192000]) {
            assert!((s - c).abs() <= 512);
        }
    }

    #[test]
    fn regular_cuts_stop_before_the_end() {
        let c = regular_cuts(Rational::new(4, 1), 48000 * 10, 48000, usize::MAX);
        assert_eq!(c, [Rational::new(4, 1), Rational::new(8, 1)]);
    }
}
