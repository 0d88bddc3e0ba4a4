//! Audio that an edit list hides and an empty edit would play (see
//! `join::audible_hidden_audio`), made silent: those AAC-LC samples are written as silent
//! frames of the same duration. Players then play the silence the empty edit asks for,
//! and the track still starts with the others (an AdaptationSet that starts late makes
//! players skip the start of the rest). The other samples are read as they are.

use std::ops::Range;

use super::substituted::{Substituted, Which};
use crate::codec::aac;
use crate::mp4::moov::Track;

/// `silent` written as silent frames; `None` unless the track is clear AAC-LC of a
/// standard channel configuration.
pub(crate) fn of(track: &Track, silent: Range<usize>) -> Option<Substituted> {
    if silent.is_empty() || track.codec.codecs != "mp4a.40.2" || track.protection.is_some() {
        return None;
    }
    let frame = aac::silent_lc_frame(track.codec.channels)?;
    Some(Substituted::new(track, Which::Indices(silent), frame))
}
