//! From the input's composition times and edit lists to the output timeline.
//!
//! Per track, the input presents a sample at `cts - media_time + empty_edit` (ISO/IEC
//! 14496-12 8.6.6). The output keeps exactly that, minus one lead-in `global_start`
//! shared by all tracks (so a presentation whose every track starts late begins at 0),
//! using signed `trun` composition offsets shifted so the first presented sample has
//! CTS == DTS, a non-negative `tfdt`, and `presentationTimeOffset` for what is left
//! (AAC priming). All arithmetic is integer, in the track's own timescale.

use crate::carriage::CheckedTrack;

/// A time in seconds as an exact fraction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rational {
    pub num: i128,
    pub den: i128,
}

impl Rational {
    pub fn new(num: i128, den: i128) -> Self {
        Rational {
            num,
            den: den.max(1),
        }
    }

    /// In units of `timescale`, rounded to the nearest (halves up).
    pub fn nearest_in_timescale(self, timescale: u32) -> i128 {
        (2 * self.num * i128::from(timescale) + self.den).div_euclid(2 * self.den)
    }

    pub fn lt(self, other: Rational) -> bool {
        self.num * other.den < other.num * self.den
    }

    pub fn sub(self, other: Rational) -> Rational {
        Rational::new(
            self.num * other.den - other.num * self.den,
            self.den * other.den,
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Timing {
    /// Period presentation time = input CTS + shift.
    pub shift: i64,
    /// Written decode time = input DTS + dts_offset.
    pub dts_offset: u64,
    /// Written composition offset = input offset - cto_shift.
    pub cto_shift: i64,
    /// `presentationTimeOffset`: media presentation time = period time + pto.
    pub pto: u64,
}

impl Timing {
    pub fn period_time(&self, dts: u64, cto: i64) -> i64 {
        dts as i64 + cto + self.shift
    }
}

/// When the track starts presenting: its leading empty edit plus the decode time of its
/// first sample (a fragmented input's first `tfdt`), in seconds.
pub(crate) fn start_delay(t: &CheckedTrack, movie_timescale: u32) -> Rational {
    let (mts, ts) = (
        i128::from(movie_timescale.max(1)),
        i128::from(t.track.timescale.max(1)),
    );
    Rational::new(
        i128::from(t.track.edit.empty) * ts + i128::from(t.track.start_dts) * mts,
        mts * ts,
    )
}

pub(crate) fn timing(t: &CheckedTrack, movie_timescale: u32, global_start: Rational) -> Timing {
    let ts = t.track.timescale;
    // The track's start against the shared one, rounded once: to the nearest tick, so
    // tracks of coarse timescales stay within half a tick of each other.
    let delay = start_delay(t, movie_timescale)
        .sub(global_start)
        .nearest_in_timescale(ts);
    let shift =
        (delay - i128::from(t.track.edit.media_time) - i128::from(t.track.lead_fill)) as i64;
    let cto_shift = if t.track.table.has_composition_offsets() {
        t.stats.first_presented_cto
    } else {
        0
    };
    let d = shift + cto_shift;
    Timing {
        shift,
        dts_offset: d.max(0) as u64,
        cto_shift,
        pto: (-d).max(0) as u64,
    }
}
