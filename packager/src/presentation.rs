//! What [`crate::package`] and [`crate::inspect`] report back.

use serde::Serialize;

use crate::layout::ContentType;

/// One Representation written to the MPD.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Representation {
    /// The Representation's `@id` and folder name: `video-1`, `audio-2`, `text-1`.
    pub id: String,
    /// The input it came from and its track ID there.
    pub input: String,
    /// The track ID in that input (0 for a subtitle file).
    pub track_id: u32,
    /// Video, audio or text.
    pub content_type: ContentType,
    /// The RFC 6381 `@codecs` string (empty for WebVTT).
    pub codecs: String,
    /// Bits per second, by the DASH definition for the MPD's `minBufferTime`.
    pub bandwidth: u64,
    /// Picture size in pixels (video).
    pub width: Option<u32>,
    /// Picture height in pixels (video).
    pub height: Option<u32>,
    /// `30`, or `30000/1001` when not integral.
    pub frame_rate: Option<String>,
    /// Samples per second (audio).
    pub sample_rate: Option<u32>,
    /// Channel count (audio).
    pub channels: Option<u16>,
    /// BCP-47 language tag, `und` when unknown.
    pub language: String,
    /// Media segments written (subsegments in the on-demand profile).
    pub segments: u32,
    /// Bytes of the init segment and every media segment.
    pub bytes: u64,
    /// The longest segment, seconds.
    pub max_segment_duration: f64,
    /// Closed captions in the video's SEI, as `CHANNEL=LANGUAGE` (`CC1=en`,
    /// `SERVICE1=und`): CEA-608 channels CC1 to CC4, CEA-708 services 1 to 63.
    pub captions: Vec<String>,
}

/// The result of a successful [`crate::package`] call.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Presentation {
    /// The MPD's path relative to the output folder.
    pub mpd: String,
    /// `mediaPresentationDuration`, seconds.
    pub duration: f64,
    /// `minBufferTime`, seconds: the buffer the bandwidths are computed for.
    pub min_buffer_time: f64,
    /// Every Representation, audio and video first, then text.
    pub representations: Vec<Representation>,
    /// Files written, including the MPD.
    pub files: u64,
    /// Bytes written, including the MPD.
    pub bytes: u64,
    /// Tracks left out and other things worth knowing.
    pub warnings: Vec<String>,
}

/// One track of an input, as [`crate::inspect`] sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct TrackInfo {
    /// The `tkhd` track ID.
    pub track_id: u32,
    /// Video or audio.
    pub content_type: ContentType,
    /// Sample entry type such as `avc1` or `mp4a`.
    pub sample_entry: String,
    /// The RFC 6381 codecs string the MPD would declare.
    pub codecs: String,
    /// Ticks per second of the track's media timeline (`mdhd`).
    pub timescale: u32,
    /// Seconds from the first to the last presented sample's end.
    pub duration: f64,
    /// Samples (frames) in the track.
    pub samples: u32,
    /// Sync samples (keyframes) in the track.
    pub sync_samples: u32,
    /// Mean seconds between sync samples (video).
    pub keyframe_interval: Option<f64>,
    /// Mean bits per second of the media data.
    pub bitrate: u64,
    /// Picture width in pixels (video).
    pub width: Option<u32>,
    /// Picture height in pixels (video).
    pub height: Option<u32>,
    /// `30`, or `30000/1001` when not integral (video).
    pub frame_rate: Option<String>,
    /// Samples per second (audio).
    pub sample_rate: Option<u32>,
    /// Channel count (audio).
    pub channels: Option<u16>,
    /// BCP-47 language tag, `und` when unknown.
    pub language: String,
    /// Seconds the track's presentation starts after the presentation's start (edit list).
    pub start: f64,
    /// Media segments `package` would write for this track with the given options.
    pub planned_segments: u32,
}

/// The result of [`crate::inspect`].
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct MediaInfo {
    /// The input's name.
    pub file: String,
    /// Its size in bytes.
    pub size: u64,
    /// Seconds, the longest track's.
    pub duration: f64,
    /// The audio and video tracks that would be packaged.
    pub tracks: Vec<TrackInfo>,
    /// Tracks left out and other things worth knowing.
    pub warnings: Vec<String>,
}
