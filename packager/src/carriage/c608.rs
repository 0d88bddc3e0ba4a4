//! A QuickTime closed-caption track (`clcp`/`c608`) made into captions in the video:
//! its CEA-608 byte pairs, each given a presentation time, go into the SEI of the
//! picture shown at that time (`segment::captions`), as broadcast encoders carry them
//! and as players read them (Apple's segmenter does the same). Players have no use for
//! a track of caption bytes of its own.

use crate::codec::c608;
use crate::error::{BoxError, Malformed};
use crate::limits::MAX_SUBTITLE_BYTES;
use crate::mp4::moov::TextTrack;
use crate::segment::timing::Rational;
use crate::source::Input;
use crate::{Error, Result};

/// One CEA-608 byte pair and when it is presented, in seconds on the input's timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TimedPair {
    pub at: Rational,
    /// `cc_data` construct: `cc_valid | cc_type` (field 1: 0b100, field 2: 0b101), the pair.
    pub triple: [u8; 3],
}

/// A caption track read whole: its pairs in presentation order.
#[derive(Debug)]
pub(crate) struct TrackCaptions {
    pub id: u32,
    pub pairs: Vec<TimedPair>,
}

/// Reads every sample of `t` and times its pairs: a sample's pairs of one field share
/// its duration evenly (one pair a frame, as a 608 stream runs), placed by the track's
/// edit list like text. What the edit list cuts away is left out.
pub(crate) fn read(input: &Input, t: &TextTrack, movie_timescale: u32) -> Result<TrackCaptions> {
    let name = input.name();
    let edit = super::edit_list::reduce(&t.elst, movie_timescale, t.timescale).map_err(|why| {
        Error::Unsupported {
            file: name.to_string(),
            what: format!("caption track {}: {why}", t.id),
        }
    })?;
    if !edit.joins.is_empty() {
        return Err(Error::Unsupported {
            file: name.to_string(),
            what: format!(
                "caption track {}: its edit list skips or repeats captions",
                t.id
            ),
        });
    }
    let path = format!("caption track {}", t.id);
    let file_len = input.source().len();
    let (ts, mts) = (
        i128::from(t.timescale.max(1)),
        i128::from(movie_timescale.max(1)),
    );
    let mut pairs = Vec::new();
    let mut total = 0u64;
    let mut buf = Vec::new();
    for s in t.table.cursor() {
        total += u64::from(s.size);
        if total > MAX_SUBTITLE_BYTES {
            let limit = Malformed::Limit {
                what: "caption bytes in one track",
                limit: MAX_SUBTITLE_BYTES,
            };
            return Err(BoxError::new(&path, s.offset, limit).in_file(name));
        }
        s.check_in_file(&path, file_len)
            .map_err(|e| e.in_file(name))?;
        buf.resize(s.size as usize, 0);
        input.read_at(&mut buf, s.offset)?;
        let fields = c608::pairs(&buf).map_err(|detail| {
            let kind = Malformed::Bitstream {
                sample: s.index + 1,
                detail: format!("caption track {}: {detail}", t.id),
            };
            BoxError::new(&path, s.offset, kind).in_file(name)
        })?;
        let start = i128::from(t.start_dts) + i128::from(s.dts) + i128::from(s.cto);
        let duration = i128::from(s.duration);
        for (field, field_pairs) in fields.fields.iter().enumerate() {
            let n = field_pairs.len() as i128;
            for (k, p) in field_pairs.iter().enumerate() {
                // In media ticks: start + k * duration / n.
                let media = (start * n + k as i128 * duration, n);
                if edit.end.is_some_and(|e| media.0 >= i128::from(e) * n) {
                    continue;
                }
                if media.0 < i128::from(edit.media_time) * n {
                    continue;
                }
                let at = Rational::new(
                    (media.0 - i128::from(edit.media_time) * n) * mts
                        + i128::from(edit.empty) * n * ts,
                    n * ts * mts,
                );
                let cc_type = 0x04 | field as u8;
                pairs.push(TimedPair {
                    at,
                    triple: [cc_type, p[0], p[1]],
                });
            }
        }
    }
    // Stable: pairs of one time keep field 1 before field 2, as a picture carries them.
    pairs.sort_by(|a, b| (a.at.num * b.at.den).cmp(&(b.at.num * a.at.den)));
    Ok(TrackCaptions { id: t.id, pairs })
}
