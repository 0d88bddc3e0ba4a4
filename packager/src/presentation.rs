//! What [`crate::package`] and [`crate::inspect`] report back.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum ContentType {
    Video,
    Audio,
    /// A WebVTT sidecar file.
    Text,
}

/// One Representation written to the MPD.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Representation {
    pub id: String,
    /// The input it came from and its track ID there.
    pub input: String,
    pub track_id: u32,
    pub content_type: ContentType,
    pub codecs: String,
    /// Bits per second, by the DASH definition for the MPD's `minBufferTime`.
    pub bandwidth: u64,
    pub width: Option<u32>,
    pub height: Option<u32>,
    /// `30`, or `30000/1001` when not integral.
    pub frame_rate: Option<String>,
    pub sample_rate: Option<u32>,
    pub channels: Option<u16>,
    pub language: String,
    pub segments: u32,
    /// Bytes of the init segment and every media segment.
    pub bytes: u64,
    pub max_segment_duration: f64,
}

/// The result of a successful [`crate::package`] call.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Presentation {
    /// The MPD's path relative to the output folder.
    pub mpd: String,
    /// `mediaPresentationDuration`, seconds.
    pub duration: f64,
    pub min_buffer_time: f64,
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
    pub track_id: u32,
    pub content_type: ContentType,
    /// Sample entry type such as `avc1` or `mp4a`.
    pub sample_entry: String,
    pub codecs: String,
    pub timescale: u32,
    /// Seconds from the first to the last presented sample's end.
    pub duration: f64,
    pub samples: u32,
    pub sync_samples: u32,
    /// Mean seconds between sync samples (video).
    pub keyframe_interval: Option<f64>,
    /// Mean bits per second of the media data.
    pub bitrate: u64,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub frame_rate: Option<String>,
    pub sample_rate: Option<u32>,
    pub channels: Option<u16>,
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
    pub file: String,
    pub size: u64,
    pub duration: f64,
    pub tracks: Vec<TrackInfo>,
    pub warnings: Vec<String>,
}
