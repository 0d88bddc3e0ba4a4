//! What the MPD and playlist writers are told about each written Representation: a
//! neutral description, so that `mpd/` and `hls/` depend on neither the segment
//! builder nor the packaging flow.

use crate::crypt::{Pssh, Scheme};
use crate::layout::ContentType;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BuiltSegment {
    /// Earliest presentation time on the media timeline (`S@t`).
    pub time: u64,
    pub duration: u64,
    pub bytes: u64,
    /// Video whose segment starts with a sync sample: the bytes from the segment's
    /// start to the end of that sample (an HLS I-frame's byte range); 0 otherwise.
    pub key_bytes: u64,
}

/// What the MPD needs to know about one written Representation.
#[derive(Debug, Clone)]
pub(crate) struct RepInput<'a> {
    pub id: &'a str,
    pub kind: ContentType,
    pub fourcc: [u8; 4],
    pub codecs: &'a str,
    pub language: &'a str,
    pub width: u32,
    pub height: u32,
    pub frame_rate: Option<(u64, u64)>,
    pub sar: Option<(u32, u32)>,
    pub sample_rate: u32,
    pub channels: u16,
    /// Dolby channel layout (AC-3, E-AC-3): Dolby's AudioChannelConfiguration scheme.
    pub dolby_mask: Option<u16>,
    /// Another AudioChannelConfiguration scheme and value (DTS, MPEG-H CICP).
    pub channel_scheme: Option<(&'static str, &'a str)>,
    /// Dolby Vision over a cross-compatible base layer.
    pub supplemental: Option<&'a crate::codec::Supplemental>,
    /// Audio: how many earlier audio tracks of the same input share this one's
    /// language. Tracks of one file are different programmes (main, commentary), never
    /// bitrates of one: each slot gets its own AdaptationSet.
    pub slot: usize,
    pub timescale: u32,
    pub pto: u64,
    pub segments: &'a [BuiltSegment],
    /// Where the input's edit list ends the track, on the media timeline, when that is
    /// inside the last sample: the presentation ends there, not with the sample.
    pub until: Option<u64>,
    pub sap: u8,
    /// Boundaries of two Representations closer than this (seconds) count as aligned.
    pub tolerance: f64,
    pub protection: Option<RepProtection<'a>>,
    /// On-demand profile: the init segment's length and the `sidx` byte range in the
    /// Representation's one file.
    pub on_demand: Option<(u64, (u64, u64))>,
    /// Closed captions in the video, as (channel, language): `CC1`, `SERVICE1`.
    pub captions: &'a [(String, String)],
    /// Text: the DASH role when the track gives one (else `subtitle`).
    pub role: Option<&'a str>,
}

/// A WebVTT sidecar file: one text AdaptationSet.
#[derive(Debug, Clone)]
pub(crate) struct TextInput<'a> {
    pub id: &'a str,
    pub language: &'a str,
    /// Path of the file relative to the MPD.
    pub file: &'a str,
    pub bytes: u64,
    /// TTML rather than WebVTT.
    pub ttml: bool,
    /// The DASH role when the source gives one (else `subtitle`).
    pub role: Option<&'a str>,
}

/// How an encrypted Representation is signalled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RepProtection<'a> {
    pub scheme: Scheme,
    pub kid: [u8; 16],
    /// The `pssh` boxes of the init segment.
    pub pssh: &'a [Pssh],
    /// ClearKey license URL, when ClearKey is signalled.
    pub clearkey_laurl: Option<String>,
}

/// Seek-bar previews made from a ladder's decode (DASH-IF thumbnail tiles): the plan,
/// known before anything is decoded, and the JPEG tiles, left here by the decoder when
/// it has given its last picture.
#[derive(Debug)]
pub(crate) struct Thumbnails {
    /// For messages: the input and the video track the thumbnails show.
    pub file: String,
    pub track: u32,
    /// One thumbnail's size; a tile is `columns` x `rows` of them.
    pub width: u32,
    pub height: u32,
    pub columns: u32,
    pub rows: u32,
    /// Seconds between thumbnails, as a fraction.
    pub interval: (u64, u64),
    /// Thumbnails in all; the last tile may be part empty.
    pub count: usize,
    pub tiles: std::sync::Mutex<Option<Result<Vec<Vec<u8>>, String>>>,
    pub ready: std::sync::Condvar,
}

impl Thumbnails {
    pub fn per_tile(&self) -> usize {
        (self.columns * self.rows) as usize
    }

    /// How long one tile's thumbnails last, in seconds as (num, den).
    pub fn tile_duration(&self) -> (u64, u64) {
        let (num, den) = self.interval;
        (num.max(1) * self.per_tile() as u64, den.max(1))
    }

    /// Tiles needed for every thumbnail.
    pub fn tile_count(&self) -> usize {
        self.count.div_ceil(self.per_tile())
    }

    /// The decoder's thread, as it ends: the tiles, or why there are none. The first
    /// word stands (a maker dropped after its result, or by a panic, says no more).
    #[cfg_attr(not(feature = "transcode"), allow(dead_code))]
    pub fn deposit(&self, result: Result<Vec<Vec<u8>>, String>) {
        if let Ok(mut tiles) = self.tiles.lock()
            && tiles.is_none()
        {
            *tiles = Some(result);
        }
        self.ready.notify_all();
    }

    /// The tiles, once, waiting for the decoder's thread to leave them (it may still
    /// be writing the last tile when the rungs have their last pictures). Ask only
    /// after the rungs were written: the decoder ran to its end.
    pub fn take_tiles(&self) -> Result<Vec<Vec<u8>>, String> {
        let poisoned = |_| "the thumbnail maker panicked".to_string();
        let mut tiles = self.tiles.lock().map_err(poisoned)?;
        loop {
            if let Some(result) = tiles.take() {
                return result;
            }
            tiles = self.ready.wait(tiles).map_err(poisoned)?;
        }
    }
}

/// Written thumbnail tiles: one image AdaptationSet.
#[derive(Debug, Clone)]
pub(crate) struct ImageInput<'a> {
    pub id: &'a str,
    /// The tiles' path, with `$Number$` (from 1).
    pub media: &'a str,
    pub set: &'a Thumbnails,
    /// The largest tile's bytes.
    pub largest: u64,
}
