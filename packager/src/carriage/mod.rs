//! Which tracks of a read movie are carried, and in what form: the edit-list model
//! (`edit_list`, `join`), repairs worth a warning, timed text converted to WebVTT, and
//! the refusal when audio or video would be lost. Sits above `mp4` (the boxes) and below
//! `segment` (the cut).

pub(crate) mod c608;
pub(crate) mod edit_list;
pub(crate) mod idr_start;
pub(crate) mod join;
pub(crate) mod silent_lead;
pub(crate) mod substituted;
pub(crate) mod timed_text;
pub(crate) mod wvtt_gaps;

use crate::mp4::file::{self, Stats, sample_stats};
use crate::mp4::header::fourcc_str;
use crate::mp4::moov::{SkipWhy, Skipped, TextTrack, Track};
use crate::source::{Input, MadeSamples};
use crate::subtitles::Subtitles;
use crate::{Error, Result};

/// One checked track.
#[derive(Debug)]
pub(crate) struct CheckedTrack {
    pub track: Track,
    pub stats: Stats,
    /// Samples made while the track is written rather than read (transcoded audio,
    /// WebVTT with gaps).
    pub made: Option<Box<dyn MadeSamples>>,
}

#[derive(Debug)]
pub(crate) struct Media {
    pub movie_timescale: u32,
    pub tracks: Vec<CheckedTrack>,
    /// Timed-text tracks, converted to WebVTT.
    pub subtitles: Vec<Subtitles>,
    /// QuickTime caption tracks, to go into the video's SEI.
    pub captions: Vec<c608::TrackCaptions>,
    /// Tracks not packaged, with the reason; the caller decides whether that is allowed.
    pub skipped: Vec<Skipped>,
    /// Repairs made while reading, worth telling.
    pub warnings: Vec<String>,
}

impl Media {
    /// The error for a track whose audio or video would be lost.
    pub fn uncarried(file: &str, s: &Skipped) -> Error {
        Error::UncarriedTrack {
            file: file.to_string(),
            track: s.id,
            handler: fourcc_str(&s.handler),
            codec: s.entry.as_ref().map(fourcc_str).unwrap_or_default(),
            reason: s.reason(),
        }
    }
}

/// Read one input and decide, track by track, what is carried.
pub(crate) fn open(input: &Input) -> Result<Media> {
    let name = input.name();
    let movie = file::read(input)?;
    let timescale = movie.timescale;
    let (mut tracks, mut skipped) = (movie.tracks, movie.skipped);
    for t in &mut tracks {
        t.edit = edit_list::reduce(&t.elst, timescale, t.timescale).map_err(|why| {
            Error::Unsupported {
                file: name.to_string(),
                what: format!("track {}: {why}", t.id),
            }
        })?;
    }
    let mut warnings = Vec::new();
    let mut subtitles = Vec::new();
    let mut captions = Vec::new();
    for t in &movie.texts {
        if crate::mp4::moov::text::is_caption(&t.entry) {
            captions.push(c608::read(input, t, timescale)?);
            continue;
        }
        match text_track(input, t, timescale)? {
            Ok((subs, warning)) => {
                subtitles.push(subs);
                warnings.push(warning);
            }
            Err(s) => skipped.push(s),
        }
    }
    let mut checked = Vec::with_capacity(tracks.len());
    for track in tracks {
        match carry(input, track, timescale, &mut warnings)? {
            Ok(t) => checked.push(t),
            Err(s) => skipped.push(s),
        }
    }
    if checked.is_empty() {
        return Err(none_carried(name, &skipped));
    }
    Ok(Media {
        movie_timescale: timescale,
        tracks: checked,
        subtitles,
        captions,
        skipped,
        warnings,
    })
}

impl CheckedTrack {
    /// Shows a video track's first frame from `gap` ticks before its first decode time
    /// (see `Track::lead_fill`); returns whether it did. Players cannot play a stretch
    /// where one AdaptationSet has no media: dash.js waits there (a fragmented file whose
    /// video starts 10 s after its audio) and shows no frame for a seek into it.
    pub fn fill_video_lead(&mut self, input: &Input, gap: u32) -> Result<bool> {
        let reencoded = self.made.as_ref().is_some_and(|m| !m.same_frames());
        if gap == 0 || reencoded || !self.track.table.lengthen_first(gap) {
            return Ok(false);
        }
        self.track.lead_fill += u64::from(gap);
        self.stats =
            sample_stats(&self.track, input.source().len()).map_err(|e| e.in_file(input.name()))?;
        Ok(true)
    }

    /// Makes silent the audio samples an edit list hides that an empty edit would put
    /// after the Period start (`join::audible_hidden_audio`); returns how many there
    /// are and whether they were made silent (clear AAC-LC only).
    pub fn silence_audible_hidden_audio(&mut self, shift: i64) -> (usize, bool) {
        if self.made.is_some() {
            return (0, false);
        }
        let audible = join::audible_hidden_audio(&self.track, shift);
        let n = audible.len();
        match silent_lead::of(&self.track, audible) {
            Some(lead) => {
                self.made = Some(Box::new(lead));
                (n, true)
            }
            None => (n, false),
        }
    }
}

/// A timed-text track as WebVTT with the warning that says so, or why it is left out.
fn text_track(
    input: &Input,
    t: &TextTrack,
    timescale: u32,
) -> Result<std::result::Result<(Subtitles, String), Skipped>> {
    let skip = |why: &str| Skipped {
        id: t.id,
        handler: t.handler,
        entry: Some(t.entry),
        why: SkipWhy::UnreadableText(why.into()),
    };
    if t.table.count == 0 {
        return Ok(Err(Skipped {
            why: SkipWhy::NoSamples,
            ..skip("")
        }));
    }
    let (subs, styled) = timed_text::to_webvtt(input, t, timescale)?;
    let warning = format!(
        "text track {} ('{}'): converted to WebVTT{}",
        t.id,
        fourcc_str(&t.entry),
        if styled {
            "; its styling is dropped"
        } else {
            ""
        }
    );
    Ok(Ok((subs, warning)))
}

/// One audio or video track checked against the file and made into what a DASH
/// timeline carries (last duration repaired, media edits joined, the part after the
/// edit's end left out, pre-roll squeezed), or why it is left out.
fn carry(
    input: &Input,
    mut track: Track,
    movie_timescale: u32,
    warnings: &mut Vec<String>,
) -> Result<std::result::Result<CheckedTrack, Skipped>> {
    let (name, file_len) = (input.name(), input.source().len());
    let stats_of = |track: &Track| sample_stats(track, file_len).map_err(|e| e.in_file(name));
    if repair_last_duration(&mut track) {
        warnings.push(format!(
            "track {}: the last sample had no duration; given the one before it",
            track.id
        ));
    }
    // Every table must agree, also on a track that turns out to be empty.
    let mut stats = file::check_track(&track, file_len).map_err(|e| e.in_file(name))?;
    if !track.edit.joins.is_empty() {
        join::join_edits(&mut track).map_err(|why| Error::Unsupported {
            file: name.to_string(),
            what: format!("track {}: {why}", track.id),
        })?;
        warnings.push(format!(
            "track {}: its media edits skip or repeat media; the parts they present are joined",
            track.id
        ));
        stats = stats_of(&track)?;
    }
    match kept_before_edit_end(&track, &stats, movie_timescale) {
        Some(0) => return Ok(Err(Skipped::of(&track, SkipWhy::EditedOut))),
        Some(keep) if keep < track.table.count => {
            track.table.count = keep;
            stats = stats_of(&track)?;
        }
        _ => {}
    }
    if track.table.count == 0 {
        return Ok(Err(Skipped::of(&track, SkipWhy::NoSamples)));
    }
    let dropped = join::drop_hidden_lead(&mut track, &stats);
    if dropped.lead > 0 {
        stats = stats_of(&track)?;
        warnings.push(if dropped.undecodable {
            format!(
                "track {}: the {} frames before its first sync sample cannot be decoded; \
                 left out (the frames after them keep their times)",
                track.id, dropped.lead
            )
        } else {
            format!(
                "track {}: its edit list starts after the {} frames before the keyframe \
                 it needs; left out",
                track.id, dropped.lead
            )
        });
    }
    let mut made = None::<Box<dyn MadeSamples>>;
    match idr_start::of(input, &mut track)? {
        idr_start::Start::Rewritten(r, left_out) => {
            stats = stats_of(&track)?;
            made = Some(r);
            warnings.push(format!(
                "track {}: H.264 that starts on an I picture that is not an IDR picture (a cut \
                 inside an open GOP): its slice headers are rewritten to start on an IDR \
                 picture{}",
                track.id,
                if left_out > 0 {
                    format!(
                        "; the {left_out} frames shown before it, which refer to pictures \
                         before the cut, are left out"
                    )
                } else {
                    String::new()
                }
            ));
        }
        idr_start::Start::Refused(why) => warnings.push(format!(
            "track {}: H.264 that starts on a keyframe that is not an IDR picture (a cut \
             inside an open GOP), not rewritten to start on one ({why}); browsers may fail \
             to decode it (--ladder re-encodes it)",
            track.id
        )),
        idr_start::Start::Idr => {}
    }
    track.preroll = join::squeeze_preroll(&mut track, &stats);
    if track.preroll > 0 {
        stats = stats_of(&track)?;
        warnings.push(format!(
            "track {}: its edit starts inside a group of pictures; the {} frames decoded \
             before it are presented a tick each, and the presentation starts {:.3} ms later",
            track.id,
            track.preroll,
            track.preroll as f64 * 1000.0 / f64::from(track.timescale.max(1))
        ));
    }
    let made = made.or_else(|| wvtt_gaps::of(&track).map(|g| Box::new(g) as Box<dyn MadeSamples>));
    Ok(Ok(CheckedTrack { track, stats, made }))
}

/// How many samples (in decode order) start before the edit's end, when a sample may
/// start at or after it; `None` when all do (the usual edit ends with the media: no
/// second walk of the table). What the edit list ends before is not presented.
///
/// An edit that ends where decoding ends (to the movie tick its duration is rounded
/// to) was written as "the whole media" from the summed sample durations, with the
/// composition offset forgotten (Flash-era F4V writers): it cuts nothing, as FFmpeg
/// reads such files, rather than the last frames the offset pushes past it.
fn kept_before_edit_end(track: &Track, stats: &Stats, movie_timescale: u32) -> Option<u32> {
    let start = track.start_dts as i64;
    let end = track.edit.end?;
    if track.table.count == 0 || start.saturating_add(stats.end_cts) <= end {
        return None;
    }
    let slack = i64::from(track.timescale.div_ceil(movie_timescale.max(1)));
    let decode_end = start.saturating_add(stats.end_dts as i64);
    if track.edit.joins.is_empty() && (end - decode_end).abs() <= slack {
        return None;
    }
    Some(
        track
            .table
            .cursor()
            .filter(|s| start + s.dts as i64 + s.cto < end)
            .map(|s| s.index + 1)
            .max()
            .unwrap_or(0),
    )
}

/// No track carried: say which could not be, rather than only that none could.
fn none_carried(name: &str, skipped: &[Skipped]) -> Error {
    if let Some(s) = skipped.iter().find(|s| s.loses_media()) {
        return Media::uncarried(name, s);
    }
    let why: Vec<String> = skipped.iter().map(Skipped::warning).collect();
    Error::NoTracks {
        file: name.to_string(),
        detail: if why.is_empty() {
            String::new()
        } else {
            format!(" ({})", why.join("; "))
        },
    }
}

/// Many muxers write a zero duration for a track's last sample (its end is not known
/// when it is written). Presented for no time, it would vanish: it gets the duration of
/// the sample before it. Returns whether anything changed.
fn repair_last_duration(track: &mut Track) -> bool {
    let stts = &mut track.table.stts;
    let Some(&(n, 0)) = stts.last() else {
        return false;
    };
    if n != 1 {
        return false; // several samples at zero duration: refused by the check
    }
    let previous = stts
        .iter()
        .rev()
        .skip(1)
        .find(|e| e.0 > 0)
        .map_or(1, |e| e.1.max(1));
    if let Some(last) = stts.last_mut() {
        last.1 = previous;
    }
    true
}
