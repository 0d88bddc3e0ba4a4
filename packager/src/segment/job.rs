//! What one track's cut is given: the input, the checked track, its timing and plan,
//! and its encryption.

use super::plan::TrackPlan;
use super::timing::Timing;
use crate::carriage::CheckedTrack;
use crate::crypt::{EncryptionKey, Pssh, Scheme};
use crate::source::Input;

pub(crate) struct TrackJob<'a> {
    pub input: &'a Input,
    pub track: &'a CheckedTrack,
    pub timing: Timing,
    pub plan: &'a TrackPlan,
    pub rep_id: &'a str,
    pub protection: Option<&'a TrackProtection>,
    /// Video: the pairs of the input's caption tracks, to go into its pictures' SEI.
    pub captions: &'a super::captions::CaptionPairs,
}

/// How one track is encrypted.
#[derive(Debug, Clone)]
pub(crate) struct TrackProtection {
    pub scheme: Scheme,
    pub key: EncryptionKey,
    /// cenc: the first sample's IV (first 8 bytes); cbcs: the constant IV.
    pub iv: [u8; 16],
    /// Segments at the start written clear (clear lead).
    pub clear_segments: usize,
    /// Every `pssh` box of the init segment.
    pub pssh: Vec<Pssh>,
}
