//! `moov` (ISO/IEC 14496-12 8.2.1): the movie header and its tracks.

pub(crate) mod stbl;
pub(crate) mod text;
pub(crate) mod trak;

use crate::codec::tx3g::Rect;
use crate::error::{BoxError, Malformed};
use crate::layout::ContentType;
use crate::mp4::header::Bx;
pub(crate) use text::TextTrack;
pub(crate) use trak::{SkipWhy, Skipped, Track, handler};

#[derive(Debug)]
pub(crate) struct Movie {
    /// `mvhd` timescale: the unit of `tkhd` and `elst` durations.
    pub timescale: u32,
    pub tracks: Vec<Track>,
    /// Timed-text tracks, to be converted to WebVTT, and QuickTime caption tracks.
    pub texts: Vec<TextTrack>,
    /// Tracks left out, with the reason.
    pub skipped: Vec<Skipped>,
}

pub(crate) fn parse_moov(moov: &Bx<'_>) -> Result<Movie, BoxError> {
    let mut timescale = None;
    let mut traks = Vec::new();
    for child in moov.children() {
        let child = child?;
        match &child.kind {
            b"mvhd" => {
                if timescale.is_some() {
                    return Err(child.err(Malformed::Duplicate("mvhd")));
                }
                timescale = Some(parse_mvhd(&child)?);
            }
            b"trak" => traks.push(child),
            _ => {}
        }
    }
    let timescale = timescale.ok_or_else(|| moov.err(Malformed::Missing("mvhd")))?;
    let mut chapters = Vec::new();
    for trak in &traks {
        chapters.extend(text::chapter_tracks(trak)?);
    }
    let mut tracks = Vec::new();
    let mut texts = Vec::new();
    let mut skipped = Vec::new();
    // The video's area: what text positions are given against.
    let mut viewport: Option<Rect> = None;
    for trak in &traks {
        match trak::parse_trak(trak)? {
            Ok(t) => {
                if t.kind == ContentType::Video
                    && let Some(area) = trak::trak_area(trak)?
                    && viewport.is_none_or(|v| area.w * area.h > v.w * v.h)
                {
                    viewport = Some(area);
                }
                tracks.push(t)
            }
            Err(mut s)
                if s.why == SkipWhy::NotAudioVideo
                    && (trak::is_text_handler(&s.handler) || &s.handler == b"clcp") =>
            {
                if chapters.contains(&s.id) {
                    s.why = SkipWhy::Chapters;
                    skipped.push(s);
                } else {
                    match text::parse_text_trak(trak, s.handler) {
                        Ok(Some(t)) => texts.push(t),
                        Ok(None) => skipped.push(s),
                        // As before text was read at all: left out, with the reason.
                        Err(e) => {
                            s.why = SkipWhy::UnreadableText(format!(
                                "{} at byte {}: {}",
                                e.path, e.offset, e.kind
                            ));
                            skipped.push(s);
                        }
                    }
                }
            }
            Err(s) => skipped.push(s),
        }
    }
    for t in &mut texts {
        t.frame.viewport = viewport;
    }
    Ok(Movie {
        timescale,
        tracks,
        texts,
        skipped,
    })
}

fn parse_mvhd(b: &Bx<'_>) -> Result<u32, BoxError> {
    let mut r = b.body();
    r.skip_header_times()?;
    r.timescale("mvhd timescale")
}
