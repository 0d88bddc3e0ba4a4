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

    /// In units of `timescale`, rounded up.
    pub fn ceil_in_timescale(self, timescale: u32) -> i128 {
        let n = self.num * i128::from(timescale);
        n.div_euclid(self.den) + i128::from(n.rem_euclid(self.den) != 0)
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

    /// The same presentation with the media timeline moved `pto - self.pto` later.
    fn with_pto(self, pto: u64) -> Timing {
        let later = pto.saturating_sub(self.pto);
        Timing {
            dts_offset: self.dts_offset + later,
            pto: self.pto + later,
            ..self
        }
    }
}

/// HLS cannot say `presentationTimeOffset`: its players line tracks up by media time.
/// So the tracks given, (timing, timescale), all start the presentation at one media
/// time, the latest any of them needs (an AAC encoder delay, the frames decoded before
/// a video edit's start), in each timescale rounded up. DASH stays exact per track;
/// in HLS the tracks agree within a tick. Returns that time in seconds.
pub(crate) fn share_media_start(tracks: &mut [(&mut Timing, u32)]) -> Rational {
    let start = tracks
        .iter()
        .map(|(t, ts)| Rational::new(i128::from(t.pto), i128::from((*ts).max(1))))
        .fold(Rational::new(0, 1), |a, b| if a.lt(b) { b } else { a });
    for (t, ts) in tracks.iter_mut() {
        let pto = u64::try_from(start.ceil_in_timescale((*ts).max(1))).unwrap_or(u64::MAX);
        **t = t.with_pto(pto);
    }
    start
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

#[cfg(test)]
mod tests {
    use super::*;

    fn t(shift: i64, dts_offset: u64, pto: u64) -> Timing {
        Timing {
            shift,
            dts_offset,
            cto_shift: 0,
            pto,
        }
    }

    #[test]
    fn every_track_starts_the_presentation_at_the_latest_media_time_any_needs() {
        // Video cut 1 s into a GOP (90 kHz), AAC with 1024 samples of priming at 44.1 kHz,
        // and audio delayed 0.5 s by an empty edit at 48 kHz.
        let (mut video, mut aac, mut delayed) = (
            t(-90_000, 0, 90_000),
            t(-1024, 0, 1024),
            t(24_000, 24_000, 0),
        );
        let start = share_media_start(&mut [
            (&mut video, 90_000),
            (&mut aac, 44_100),
            (&mut delayed, 48_000),
        ]);
        assert_eq!((start.num, start.den), (90_000, 90_000));
        assert_eq!(video, t(-90_000, 0, 90_000));
        assert_eq!(aac, t(-1024, 44_100 - 1024, 44_100));
        assert_eq!(delayed, t(24_000, 72_000, 48_000));
        // The presentation itself does not move: period time is the same for each.
        assert_eq!(aac.period_time(0, 0), -1024);
    }

    #[test]
    fn a_start_between_ticks_is_rounded_up_so_no_decode_time_is_negative() {
        // 1024/44100 s in a 1000 Hz track is 23.2 ticks: 24.
        let (mut aac, mut coarse) = (t(-1024, 0, 1024), t(0, 0, 0));
        share_media_start(&mut [(&mut aac, 44_100), (&mut coarse, 1000)]);
        assert_eq!(coarse, t(0, 24, 24));
        assert_eq!(aac, t(-1024, 0, 1024));
        assert_eq!(Rational::new(1024, 44_100).ceil_in_timescale(1000), 24);
        assert_eq!(Rational::new(1, 1).ceil_in_timescale(1000), 1000);
        assert_eq!(Rational::new(0, 7).ceil_in_timescale(1000), 0);
    }
}
