//! Options for [`crate::package`], with defaults that suit most presentations.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::{Error, Result};

use crate::crypt::Encryption;
use crate::layout::Timeline;
use crate::subtitles::Subtitles;

/// The DASH profile: how media is split into files and addressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
#[non_exhaustive]
pub enum Profile {
    /// `isoff-live`: an init segment and one file per media segment, SegmentTemplate.
    #[default]
    Live,
    /// `isoff-on-demand`: one file per Representation (init, `sidx`, then every
    /// segment), addressed by byte ranges with SegmentBase.
    OnDemand,
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Profile::Live => "live",
            Profile::OnDemand => "on-demand",
        })
    }
}

impl std::str::FromStr for Profile {
    type Err = crate::Error;

    fn from_str(s: &str) -> Result<Self, crate::Error> {
        Self::parse_str(s).map_err(|e| crate::Error::option("profile", e))
    }
}

impl Profile {
    fn parse_str(s: &str) -> Result<Self, String> {
        match s {
            "live" => Ok(Profile::Live),
            "on-demand" => Ok(Profile::OnDemand),
            other => Err(format!(
                "unknown profile {other:?} (expected live or on-demand)"
            )),
        }
    }
}

/// Which tracks of every input to leave out on purpose ([`Options::skip`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TrackSelector {
    /// The track with this `tkhd` track ID.
    Id(u32),
    /// Every video track.
    Video,
    /// Every audio track.
    Audio,
}

impl TrackSelector {
    pub(crate) fn matches(&self, id: u32, handler: &[u8; 4]) -> bool {
        match self {
            TrackSelector::Id(n) => *n == id,
            TrackSelector::Video => handler == b"vide",
            TrackSelector::Audio => handler == b"soun",
        }
    }
}

impl std::str::FromStr for TrackSelector {
    type Err = crate::Error;

    fn from_str(s: &str) -> Result<Self, crate::Error> {
        Self::parse_str(s).map_err(|e| crate::Error::option("skip", e))
    }
}

impl TrackSelector {
    fn parse_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "video" => Ok(TrackSelector::Video),
            "audio" => Ok(TrackSelector::Audio),
            n => match n.parse::<u32>() {
                Ok(id) if id > 0 => Ok(TrackSelector::Id(id)),
                _ => Err(format!(
                    "unknown track {n:?} (expected a track ID, video or audio)"
                )),
            },
        }
    }
}

impl fmt::Display for TrackSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrackSelector::Id(n) => write!(f, "{n}"),
            TrackSelector::Video => f.write_str("video"),
            TrackSelector::Audio => f.write_str("audio"),
        }
    }
}

/// Progress of a running [`crate::package`] call, in bytes of media data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Progress {
    /// Bytes of media data written so far.
    pub bytes_done: u64,
    /// Bytes of media data the call will write.
    pub bytes_total: u64,
}

/// Called from the packaging threads whenever a segment is finished.
pub(crate) type ProgressFn = Arc<dyn Fn(Progress) + Send + Sync>;

/// Everything that changes what [`crate::package`] writes: plain configuration,
/// comparable and printable. How a call runs (progress, cancel) is a [`RunControl`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Options {
    /// Target segment duration in seconds (default 4). Video is cut at the first sync
    /// sample at or after each multiple of it, so segments can be longer.
    pub segment_duration: f64,
    /// File name of the MPD (default `stream.mpd`).
    pub mpd_name: String,
    /// `$Number$` (default) or `$Time$` addressing (live profile).
    pub timeline: Timeline,
    /// Live (default) or on-demand.
    pub profile: Profile,
    /// Replace the contents of a non-empty output folder (default false: refuse).
    pub force: bool,
    /// Common Encryption of every track (default none: clear output).
    pub encryption: Option<Encryption>,
    /// Also write HLS playlists (`master.m3u8` and one per Representation) over the
    /// same segments.
    pub hls: bool,
    /// WebVTT files published beside the media, one text AdaptationSet each.
    pub subtitles: Vec<Subtitles>,
    /// Tracks of every input to leave out on purpose (default none). Without it, an
    /// audio or video track that cannot be carried fails the call
    /// ([`crate::Error::UncarriedTrack`]) instead of being dropped.
    pub skip: Vec<TrackSelector>,
    /// Keys for encrypted input (`cenc`, `cbcs`, PIFF), by key ID. A protected track
    /// whose key is here is decrypted; without one it cannot be carried.
    pub decryption_keys: Vec<crate::DecryptionKey>,
    /// Languages of closed-caption channels found in the video, as (channel, BCP-47
    /// tag): `CC1` to `CC4` (CEA-608), `SERVICE1` to `SERVICE63` (CEA-708). A channel not
    /// named takes the video track's language.
    pub caption_languages: Vec<(String, String)>,
    /// Encode each video track to an ABR ladder of H.264 renditions (the `transcode`
    /// feature); default none: the video is published as it is.
    pub ladder: Option<crate::Ladder>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            segment_duration: Options::DEFAULT_SEGMENT_DURATION,
            mpd_name: crate::layout::DEFAULT_MPD.to_string(),
            timeline: Timeline::Number,
            profile: Profile::Live,
            force: false,
            encryption: None,
            hls: false,
            subtitles: Vec::new(),
            skip: Vec::new(),
            decryption_keys: Vec::new(),
            caption_languages: Vec::new(),
            ladder: None,
        }
    }
}

impl Options {
    /// The target segment duration, seconds, unless [`Options::segment_duration`] says
    /// otherwise: the one default every front end (CLI, Python, C, worker) uses.
    pub const DEFAULT_SEGMENT_DURATION: f64 = 4.0;

    /// The segment durations accepted, in seconds (every front end checks against this).
    pub const SEGMENT_DURATION_RANGE: std::ops::RangeInclusive<f64> = 0.1..=3600.0;

    /// Sets [`Options::segment_duration`].
    pub fn with_segment_duration(mut self, seconds: f64) -> Self {
        self.segment_duration = seconds;
        self
    }

    /// Sets [`Options::caption_languages`].
    pub fn with_caption_languages(mut self, languages: Vec<(String, String)>) -> Self {
        self.caption_languages = languages;
        self
    }

    /// Sets [`Options::ladder`].
    pub fn with_ladder(mut self, ladder: crate::Ladder) -> Self {
        self.ladder = Some(ladder);
        self
    }

    /// Sets [`Options::mpd_name`].
    pub fn with_mpd_name(mut self, name: impl Into<String>) -> Self {
        self.mpd_name = name.into();
        self
    }

    /// Sets [`Options::timeline`].
    pub fn with_timeline(mut self, timeline: Timeline) -> Self {
        self.timeline = timeline;
        self
    }

    /// Sets [`Options::profile`].
    pub fn with_profile(mut self, profile: Profile) -> Self {
        self.profile = profile;
        self
    }

    /// Sets [`Options::force`].
    pub fn with_force(mut self, force: bool) -> Self {
        self.force = force;
        self
    }

    /// Sets [`Options::encryption`].
    pub fn with_encryption(mut self, encryption: Option<Encryption>) -> Self {
        self.encryption = encryption;
        self
    }

    /// Sets [`Options::hls`].
    pub fn with_hls(mut self, hls: bool) -> Self {
        self.hls = hls;
        self
    }

    /// Sets [`Options::subtitles`].
    pub fn with_subtitles(mut self, subtitles: Vec<Subtitles>) -> Self {
        self.subtitles = subtitles;
        self
    }

    /// Sets [`Options::skip`].
    pub fn with_skip(mut self, skip: Vec<TrackSelector>) -> Self {
        self.skip = skip;
        self
    }

    /// Sets [`Options::decryption_keys`].
    pub fn with_decryption_keys(mut self, keys: Vec<crate::DecryptionKey>) -> Self {
        self.decryption_keys = keys;
        self
    }
}

/// How one call runs, apart from what it writes: progress reports and a flag to stop.
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct RunControl {
    progress: Option<ProgressFn>,
    cancel: Option<Arc<AtomicBool>>,
}

impl RunControl {
    /// Calls `progress` from the packaging threads whenever a segment is finished.
    pub fn with_progress(mut self, progress: impl Fn(Progress) + Send + Sync + 'static) -> Self {
        self.progress = Some(Arc::new(progress));
        self
    }

    /// Stops the call (with [`crate::Error::Cancelled`]) soon after `flag` is set to
    /// true, from any thread; no output is left behind.
    pub fn with_cancel(mut self, flag: Arc<AtomicBool>) -> Self {
        self.cancel = Some(flag);
        self
    }
}

impl fmt::Debug for RunControl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunControl")
            .field("progress", &self.progress.is_some())
            .field("cancel", &self.cancel.is_some())
            .finish()
    }
}

/// Cancellation and progress, shared by the packaging threads.
pub(crate) struct Control<'a> {
    run: &'a RunControl,
    done: AtomicU64,
    total: u64,
}

impl<'a> Control<'a> {
    pub fn new(run: &'a RunControl, total: u64) -> Self {
        Control {
            run,
            done: AtomicU64::new(0),
            total,
        }
    }

    pub fn check_cancel(&self) -> Result<()> {
        match &self.run.cancel {
            Some(flag) if flag.load(Ordering::Relaxed) => Err(Error::Cancelled),
            _ => Ok(()),
        }
    }

    pub fn advance(&self, bytes: u64) {
        let done = self.done.fetch_add(bytes, Ordering::Relaxed) + bytes;
        if let Some(cb) = &self.run.progress {
            cb(Progress {
                bytes_done: done,
                bytes_total: self.total,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_plain_values() {
        let key: crate::DecryptionKey =
            "00112233445566778899aabbccddeeff:ffeeddccbbaa99887766554433221100"
                .parse()
                .unwrap();
        let a = Options::default()
            .with_segment_duration(2.0)
            .with_timeline(Timeline::Time)
            .with_decryption_keys(vec![key]);
        let b = a.clone();
        assert_eq!(a, b);
        assert_ne!(a, Options::default());
        let shown = format!("{a:?}");
        assert!(shown.contains("segment_duration: 2.0"), "{shown}");
        assert!(
            !shown.contains("ffeeddcc"),
            "the key must not be printed: {shown}"
        );
        let run = RunControl::default().with_cancel(Arc::new(AtomicBool::new(false)));
        assert_eq!(
            format!("{run:?}"),
            "RunControl { progress: false, cancel: true }"
        );
    }
}
