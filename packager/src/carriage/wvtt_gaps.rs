//! Carried WebVTT (`wvtt`) from movie fragments with time between them: each gap is an
//! empty sample in the table (time with no cue, not a longer cue before it), and is
//! written as the `vtte` box ISO/IEC 14496-30 gives such a sample. Text tracks are
//! small, so the sample list is kept whole.

use super::substituted::{Substituted, Which};
use crate::codec::Family;
use crate::mp4::moov::Track;

/// An empty WebVTT sample: a `vtte` box.
const VTTE: [u8; 8] = [0, 0, 0, 8, b'v', b't', b't', b'e'];

/// The samples of a `wvtt` track with gaps, each gap a `vtte` box; `None` for any other
/// track.
pub(crate) fn of(track: &Track) -> Option<Substituted> {
    if track.codec.family != Family::Wvtt || !track.table.cursor().any(|s| s.size == 0) {
        return None;
    }
    Some(Substituted::new(track, Which::Empty, VTTE.to_vec()))
}
