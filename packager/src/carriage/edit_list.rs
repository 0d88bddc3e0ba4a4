//! The edit-list model: what a track's `elst` says, reduced to the form a DASH timeline
//! can carry (ISO/IEC 14496-12 8.6.6).

use crate::mp4::moov::trak::{Edit, ElstEntry, Join};

/// Reduces `entries` (ISO/IEC 14496-12 8.6.6) to an [`Edit`], or says why the list
/// cannot be played as a DASH Representation without re-encoding: a dwell or a rate
/// other than 1, or an empty edit between media edits. Contiguous media edits are
/// one span; media edits that skip or repeat media become `joins`.
pub(crate) fn reduce(entries: &[ElstEntry], movie_ts: u32, media_ts: u32) -> Result<Edit, String> {
    let mut edit = Edit::default();
    // Trailing empty edits present nothing after the media: no effect here.
    let last_media = entries.iter().rposition(|e| e.media_time != -1);
    let Some(last_media) = last_media else {
        // Only empty edits (a zero-length one is an mp4parser artefact): no delay
        // that anything follows, so none.
        return Ok(edit);
    };
    let to_media =
        |d: u64| (u128::from(d) * u128::from(media_ts) / u128::from(movie_ts.max(1))) as i64;
    // One movie-timescale tick in media units, the rounding of `elst` durations.
    let slack = i64::from(media_ts.div_ceil(movie_ts.max(1)));
    // (media start, media end, presentation start in media ticks) of each span.
    let mut spans: Vec<Join> = Vec::new();
    // Movie time since the first media edit began.
    let mut played = 0u64;
    for (i, e) in entries[..=last_media].iter().enumerate() {
        let n = i + 1;
        if e.media_time == -1 {
            if !spans.is_empty() {
                return Err(format!(
                    "edit list entry {n} is an empty edit between media edits (a gap \
                     in the middle of the track)"
                ));
            }
            edit.empty = edit.empty.saturating_add(e.duration);
            continue;
        }
        if e.media_time < 0 {
            return Err(format!(
                "edit list entry {n} has media_time {}",
                e.media_time
            ));
        }
        if e.rate != 0x10000 {
            return Err(format!(
                "edit list entry {n} plays at rate {} ({}), which a DASH timeline cannot \
                 carry",
                f64::from(e.rate) / 65536.0,
                if e.rate == 0 {
                    "a dwell"
                } else {
                    "a speed change"
                }
            ));
        }
        // A zero duration on the last media edit means "to the end of the media"
        // (fragmented files, whose length is not known when the edit is written).
        let end = (e.duration > 0 || i < last_media)
            .then(|| e.media_time.saturating_add(to_media(e.duration)));
        let at = to_media(played);
        played = played.saturating_add(e.duration);
        match spans.last_mut() {
            Some(last) if last.end.is_some_and(|p| (e.media_time - p).abs() <= slack) => {
                last.end = end;
            }
            // Media after, or again before, what the span before played: a join,
            // which `carriage::join` makes one span of (or says why it cannot exactly).
            Some(_) => spans.push(Join {
                media_time: e.media_time,
                end,
                at,
            }),
            None => spans.push(Join {
                media_time: e.media_time,
                end,
                at,
            }),
        }
    }
    let mut spans = spans.into_iter();
    if let Some(first) = spans.next() {
        edit.media_time = first.media_time;
        edit.end = first.end;
    }
    edit.joins = spans.collect();
    Ok(edit)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(duration: u64, media_time: i64) -> ElstEntry {
        ElstEntry {
            duration,
            media_time,
            rate: 0x10000,
        }
    }

    #[test]
    fn edit_lists_reduce_to_one_span_or_say_why_not() {
        // Movie timescale 1000, media 48000.
        let r = |v: &[ElstEntry]| reduce(v, 1000, 48_000);
        assert_eq!(r(&[]).unwrap(), Edit::default());
        // Lead-in and one media edit that ends at 10 s of media after its start.
        let one = r(&[e(500, -1), e(10_000, 1024)]).unwrap();
        assert_eq!(
            (one.empty, one.media_time, one.end),
            (500, 1024, Some(1024 + 480_000))
        );
        // Zero duration on the last edit: to the end of the media.
        assert_eq!(r(&[e(0, 1024)]).unwrap().end, None);
        // Two contiguous media edits (within a movie tick) are one span.
        let two = r(&[e(1000, 0), e(2000, 48_010)]).unwrap();
        assert_eq!((two.media_time, two.end), (0, Some(48_010 + 96_000)));
        // Trailing empty edits change nothing; only empty edits are no delay.
        assert_eq!(r(&[e(1000, 0), e(500, -1)]).unwrap().end, Some(48_000));
        assert_eq!(r(&[e(0, -1)]).unwrap(), Edit::default());
        // A skip: two spans, the second presented 1 s in.
        let skip = r(&[e(1000, 0), e(1000, 96_000)]).unwrap();
        assert_eq!((skip.media_time, skip.end), (0, Some(48_000)));
        assert_eq!(
            skip.joins,
            [Join {
                media_time: 96_000,
                end: Some(144_000),
                at: 48_000
            }]
        );
        // A repeat: the second span plays the first second again.
        let repeat = r(&[e(1000, 0), e(1000, 0)]).unwrap();
        assert_eq!(
            repeat.joins,
            [Join {
                media_time: 0,
                end: Some(48_000),
                at: 48_000
            }]
        );
        // Not representable: a gap, a dwell, a speed change.
        assert!(
            r(&[e(1000, 0), e(300, -1), e(1000, 48_000)])
                .unwrap_err()
                .contains("gap")
        );
        let dwell = ElstEntry {
            rate: 0,
            ..e(1000, 0)
        };
        assert!(r(&[dwell]).unwrap_err().contains("dwell"));
        let fast = ElstEntry {
            rate: 0x20000,
            ..e(1000, 0)
        };
        assert!(r(&[fast]).unwrap_err().contains("speed change"));
    }
}
