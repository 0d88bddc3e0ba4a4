//! `moov` (ISO/IEC 14496-12 8.2.1): the movie header and its tracks.

pub(crate) mod stbl;
pub(crate) mod trak;

use crate::error::{BoxError, Malformed};
use crate::mp4::header::Bx;
pub(crate) use trak::{Edit, Kind, SkipWhy, Skipped, Track};

#[derive(Debug)]
pub(crate) struct Movie {
    /// `mvhd` timescale: the unit of `tkhd` and `elst` durations.
    pub timescale: u32,
    pub tracks: Vec<Track>,
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
    let mut tracks = Vec::new();
    let mut skipped = Vec::new();
    for trak in &traks {
        match trak::parse_trak(trak)? {
            Ok(t) => tracks.push(t),
            Err(s) => skipped.push(s),
        }
    }
    Ok(Movie {
        timescale,
        tracks,
        skipped,
    })
}

fn parse_mvhd(b: &Bx<'_>) -> Result<u32, BoxError> {
    let mut r = b.body();
    r.skip_header_times()?;
    r.timescale("mvhd timescale")
}
