//! Every name dashpack gives an output file, and each file's content type, in one
//! place: the writers ask here for paths, and uploaders ask here what a path is rather
//! than guessing from folder names.
//!
//! ```text
//! stream.mpd                       the MPD (Options::mpd_name)
//! master.m3u8                      the HLS multivariant playlist
//! video-1/init.mp4                 a Representation's init segment (live profile)
//! video-1/seg-1.m4s                its media segments ($Number$ or $Time$)
//! video-1/media.mp4                its one file (on-demand profile)
//! video-1/playlist.m3u8            its HLS media playlist
//! video-1/iframes.m3u8             its HLS I-frame playlist (byte ranges of its segments)
//! text-1/subtitles.vtt             a WebVTT sidecar (and text-1/playlist.m3u8)
//! image-1/tile-1.jpg               thumbnail tiles ($Number$), made with a ladder
//! ```

use std::fmt;

/// How media segments are named and addressed in the SegmentTemplate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
#[non_exhaustive]
pub enum Timeline {
    /// `seg-$Number$.m4s`, numbered from 1.
    #[default]
    Number,
    /// `seg-$Time$.m4s`, named by the segment's start on the media timeline.
    Time,
}

impl fmt::Display for Timeline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Timeline::Number => "number",
            Timeline::Time => "time",
        })
    }
}

impl std::str::FromStr for Timeline {
    type Err = crate::Error;

    fn from_str(s: &str) -> Result<Self, crate::Error> {
        Self::parse_str(s).map_err(|e| crate::Error::option("timeline", e))
    }
}

impl Timeline {
    fn parse_str(s: &str) -> Result<Self, String> {
        match s {
            "number" => Ok(Timeline::Number),
            "time" => Ok(Timeline::Time),
            other => Err(format!(
                "unknown timeline {other:?} (expected number or time)"
            )),
        }
    }
}

/// The MPD's file name unless `Options::mpd_name` says otherwise.
pub const DEFAULT_MPD: &str = "stream.mpd";
/// The HLS multivariant playlist.
pub const MULTIVARIANT: &str = "master.m3u8";
const SUBTITLES: &str = "subtitles.vtt";
const TTML_SUBTITLES: &str = "subtitles.ttml";
const PLAYLIST: &str = "playlist.m3u8";
const IFRAME_PLAYLIST: &str = "iframes.m3u8";
/// A Representation's init segment (live profile), inside its folder.
pub(crate) const INIT_FILE: &str = "init.mp4";
/// A Representation's one file (on-demand profile), inside its folder.
pub(crate) const ON_DEMAND_FILE: &str = "media.mp4";

/// What a Representation carries: the DASH `@contentType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum ContentType {
    /// Video: a picture track.
    Video,
    /// Audio: a sound track.
    Audio,
    /// A WebVTT sidecar file.
    Text,
    /// Thumbnail tiles (JPEG) for seek-bar previews.
    Image,
}

impl ContentType {
    /// `video`, `audio`, `text` or `image`: the MPD's `@contentType`, and the start of
    /// a Representation's id and folder name.
    pub fn as_str(self) -> &'static str {
        match self {
            ContentType::Video => "video",
            ContentType::Audio => "audio",
            ContentType::Text => "text",
            ContentType::Image => "image",
        }
    }
}

/// What an output file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FileKind {
    /// The MPD.
    Mpd,
    /// An HLS playlist, multivariant or media.
    Playlist,
    /// An init segment of an audio or video Representation.
    Init(ContentType),
    /// A media segment, or an on-demand Representation's one file.
    Media(ContentType),
    /// A WebVTT file.
    Subtitles,
    /// A TTML (IMSC) file.
    TtmlSubtitles,
}

impl FileKind {
    /// The content type to serve or store the file with.
    pub fn content_type(self) -> &'static str {
        match self {
            FileKind::Mpd => "application/dash+xml",
            FileKind::Playlist => "application/vnd.apple.mpegurl",
            FileKind::Init(ContentType::Audio) | FileKind::Media(ContentType::Audio) => "audio/mp4",
            // Text in fragmented MP4 (wvtt, stpp): neither audio nor video.
            FileKind::Init(ContentType::Text) | FileKind::Media(ContentType::Text) => {
                "application/mp4"
            }
            FileKind::Init(ContentType::Image) | FileKind::Media(ContentType::Image) => {
                "image/jpeg"
            }
            FileKind::Init(_) | FileKind::Media(_) => "video/mp4",
            FileKind::Subtitles => "text/vtt",
            FileKind::TtmlSubtitles => "application/ttml+xml",
        }
    }
}

/// What a path dashpack wrote is, from the names this module gives (`None` for a path
/// it never writes). `mpd_name` is the MPD's name in use.
pub fn file_kind(path: &str, mpd_name: &str) -> Option<FileKind> {
    if path == mpd_name {
        return Some(FileKind::Mpd);
    }
    if path == MULTIVARIANT {
        return Some(FileKind::Playlist);
    }
    let (rep, file) = path.split_once('/')?;
    let content = [
        ContentType::Video,
        ContentType::Audio,
        ContentType::Text,
        ContentType::Image,
    ]
    .into_iter()
    .find(|c| {
        rep.strip_prefix(c.as_str())
            .is_some_and(|n| n.starts_with('-'))
    })?;
    if file.contains('/') {
        return None;
    }
    match file {
        PLAYLIST => Some(FileKind::Playlist),
        IFRAME_PLAYLIST if content == ContentType::Video => Some(FileKind::Playlist),
        SUBTITLES if content == ContentType::Text => Some(FileKind::Subtitles),
        TTML_SUBTITLES if content == ContentType::Text => Some(FileKind::TtmlSubtitles),
        f if content == ContentType::Image => f
            .strip_prefix("tile-")
            .and_then(|n| n.strip_suffix(".jpg"))
            .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            .map(|_| FileKind::Media(content)),
        INIT_FILE => Some(FileKind::Init(content)),
        ON_DEMAND_FILE => Some(FileKind::Media(content)),
        f if f.starts_with("seg-") && f.ends_with(".m4s") => Some(FileKind::Media(content)),
        _ => None,
    }
}

/// `video-1`, `audio-2`, `text-1`: the n-th (from 1) Representation of its kind.
pub(crate) fn representation_id(kind: ContentType, n: usize) -> String {
    format!("{}-{n}", kind.as_str())
}

/// The one file of a Representation in the on-demand profile.
pub(crate) fn on_demand_path(rep: &str) -> String {
    format!("{rep}/{ON_DEMAND_FILE}")
}

pub(crate) fn init_path(rep: &str) -> String {
    format!("{rep}/{INIT_FILE}")
}

pub(crate) fn media_template(rep: &str, timeline: Timeline) -> String {
    match timeline {
        Timeline::Number => format!("{rep}/seg-$Number$.m4s"),
        Timeline::Time => format!("{rep}/seg-$Time$.m4s"),
    }
}

/// A media segment's file name inside its Representation's folder.
pub(crate) fn segment_file_name(timeline: Timeline, number: u32, time: u64) -> String {
    match timeline {
        Timeline::Number => format!("seg-{number}.m4s"),
        Timeline::Time => format!("seg-{time}.m4s"),
    }
}

pub(crate) fn media_path(rep: &str, timeline: Timeline, number: u32, time: u64) -> String {
    format!("{rep}/{}", segment_file_name(timeline, number, time))
}

pub(crate) fn media_playlist_path(rep: &str) -> String {
    format!("{rep}/{PLAYLIST}")
}

pub(crate) fn iframe_playlist_path(rep: &str) -> String {
    format!("{rep}/{IFRAME_PLAYLIST}")
}

/// Thumbnail tiles, numbered from 1: the SegmentTemplate's `@media`, and tile `n`.
pub(crate) fn tile_template(rep: &str) -> String {
    format!("{rep}/tile-$Number$.jpg")
}

pub(crate) fn tile_path(rep: &str, n: usize) -> String {
    format!("{rep}/tile-{n}.jpg")
}

/// A subtitle file inside its Representation's folder, and the path from the MPD.
pub(crate) const SUBTITLE_FILE: &str = SUBTITLES;

pub(crate) fn subtitle_path(rep: &str, ttml: bool) -> String {
    format!("{rep}/{}", if ttml { TTML_SUBTITLES } else { SUBTITLES })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_written_has_its_kind() {
        let cases = [
            ("stream.mpd".to_string(), "application/dash+xml"),
            (MULTIVARIANT.to_string(), "application/vnd.apple.mpegurl"),
            (
                media_playlist_path("video-1"),
                "application/vnd.apple.mpegurl",
            ),
            (
                media_playlist_path("audio-1"),
                "application/vnd.apple.mpegurl",
            ),
            (
                media_playlist_path("text-1"),
                "application/vnd.apple.mpegurl",
            ),
            (init_path("video-2"), "video/mp4"),
            (init_path("audio-1"), "audio/mp4"),
            (media_path("video-1", Timeline::Number, 3, 0), "video/mp4"),
            (
                media_path("audio-1", Timeline::Time, 1, 96_000),
                "audio/mp4",
            ),
            (on_demand_path("audio-3"), "audio/mp4"),
            (subtitle_path("text-1", false), "text/vtt"),
            (subtitle_path("text-1", true), "application/ttml+xml"),
            (tile_path("image-1", 12), "image/jpeg"),
            (
                iframe_playlist_path("video-2"),
                "application/vnd.apple.mpegurl",
            ),
        ];
        let content_type = |p: &str, mpd: &str| {
            file_kind(p, mpd).map_or("application/octet-stream", FileKind::content_type)
        };
        for (path, want) in cases {
            assert_eq!(content_type(&path, DEFAULT_MPD), want, "{path}");
        }
        assert_eq!(
            content_type("other.mpd", "other.mpd"),
            "application/dash+xml"
        );
        assert_eq!(
            content_type("video-1/x/seg-1.m4s", DEFAULT_MPD),
            "application/octet-stream"
        );
        assert_eq!(
            content_type("image-1/tile-x.jpg", DEFAULT_MPD),
            "application/octet-stream"
        );
        assert_eq!(
            content_type("video-1/tile-1.jpg", DEFAULT_MPD),
            "application/octet-stream"
        );
        assert_eq!(
            content_type("notes.txt", DEFAULT_MPD),
            "application/octet-stream"
        );
    }
}
