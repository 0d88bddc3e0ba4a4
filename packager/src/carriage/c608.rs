//! A QuickTime closed-caption track (`clcp`/`c608`) made into captions in the video:
//! its CEA-608 byte pairs, each given a presentation time, go into the SEI of the
//! picture shown at that time (`segment::captions`), as broadcast encoders carry them
//! and as players read them (Apple's segmenter does the same). Players have no use for
//! a track of caption bytes of its own.

use super::timed_text::{read_text_sample, single_edit};
use crate::Result;
use crate::codec::c608;
use crate::error::{BoxError, Malformed};
use crate::limits::MAX_CAPTION_BYTES;
use crate::mp4::moov::TextTrack;
use crate::source::Input;

/// The CEA-608 byte pairs of one sample and when they are presented.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TimedPairs {
    /// Seconds on the input's timeline, as a fraction (numerator, denominator).
    pub at: (i128, i128),
    /// `cc_data` constructs: `cc_valid | cc_type` (field 1: 0b100, field 2: 0b101), then
    /// the pair; field 1's first.
    pub triples: Vec<[u8; 3]>,
}

/// A caption track read whole: its samples' pairs in presentation order.
#[derive(Debug)]
pub(crate) struct TrackCaptions {
    pub id: u32,
    pub samples: Vec<TimedPairs>,
}

/// Reads every sample of `t` and times its pairs: all of a sample's pairs at its start,
/// as QuickTime plays them (writers put a whole caption's commands in one sample, or
/// one pair in each frame's), placed by the track's edit list like text. What the edit
/// list cuts away is left out.
pub(crate) fn read(input: &Input, t: &TextTrack, movie_timescale: u32) -> Result<TrackCaptions> {
    let name = input.name();
    let edit = single_edit(name, t, movie_timescale, ("caption track", "captions"))?;
    let path = format!("caption track {}", t.id);
    let (ts, mts) = (
        i128::from(t.timescale.max(1)),
        i128::from(movie_timescale.max(1)),
    );
    let mut samples = Vec::new();
    let mut total = 0u64;
    let mut buf = Vec::new();
    let what = "caption bytes in one track";
    let (begin, end) = (i128::from(edit.media_time), edit.end.map(i128::from));
    for s in t.table.cursor() {
        read_text_sample(
            input,
            &path,
            &s,
            (&mut total, what, MAX_CAPTION_BYTES),
            &mut buf,
        )?;
        let fields = c608::pairs(&buf).map_err(|detail| {
            let kind = Malformed::Bitstream {
                sample: s.index + 1,
                detail: format!("caption track {}: {detail}", t.id),
            };
            BoxError::new(&path, s.offset, kind).in_file(name)
        })?;
        let start = i128::from(t.start_dts) + i128::from(s.dts) + i128::from(s.cto);
        if end.is_some_and(|e| start >= e) || start + i128::from(s.duration.max(1)) <= begin {
            continue; // cut away by the edit list
        }
        // A sample the edit starts inside gives its commands at the start.
        let at = (
            (start.max(begin) - begin) * mts + i128::from(edit.empty) * ts,
            ts * mts,
        );
        let triples = fields
            .fields
            .iter()
            .enumerate()
            .flat_map(|(field, pairs)| pairs.iter().map(move |p| [0x04 | field as u8, p[0], p[1]]))
            .collect();
        samples.push(TimedPairs { at, triples });
    }
    // Stable: samples of one time keep their order. All times share one denominator.
    samples.sort_by_key(|s| s.at.0);
    Ok(TrackCaptions { id: t.id, samples })
}
