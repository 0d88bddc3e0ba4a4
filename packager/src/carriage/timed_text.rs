//! A movie's timed-text track read into WebVTT: each sample a cue, placed on the
//! presentation timeline by the track's edit list, the same rule as audio and video.

use crate::codec::tx3g;
use crate::error::{BoxError, Malformed};
use crate::limits::MAX_SUBTITLE_BYTES;
use crate::mp4::moov::TextTrack;
use crate::mp4::moov::trak::Edit;
use crate::mp4::sample_table::Sample;
use crate::source::Input;
use crate::subtitles::{self, Cue, Subtitles};
use crate::{Error, Result};

/// The one edit of text track `t` (named `kind`: "text track"), refused when its edit
/// list skips or repeats part of the media (`what` it holds: "text"): a cue of text
/// cannot be cut and joined as audio and video are.
pub(crate) fn single_edit(
    name: &str,
    t: &TextTrack,
    movie_timescale: u32,
    (kind, what): (&str, &str),
) -> Result<Edit> {
    let refuse = |why: String| Error::Unsupported {
        file: name.to_string(),
        what: format!("{kind} {}: {why}", t.id),
    };
    let edit = super::edit_list::reduce(&t.elst, movie_timescale, t.timescale).map_err(refuse)?;
    if !edit.joins.is_empty() {
        return Err(refuse(format!("its edit list skips or repeats {what}")));
    }
    Ok(edit)
}

/// The track as WebVTT subtitles, and whether styling was dropped on the way.
pub(crate) fn to_webvtt(
    input: &Input,
    t: &TextTrack,
    movie_timescale: u32,
) -> Result<(Subtitles, bool)> {
    let name = input.name();
    let edit = single_edit(name, t, movie_timescale, ("text track", "text"))?;
    let path = format!("text track {}", t.id);
    let ts = i128::from(t.timescale);
    // Presentation time in ms of a media time: (media - media_time) / ts + empty.
    let empty_ms = i128::from(edit.empty) * 1000 / i128::from(movie_timescale.max(1));
    let ms = |media: i128| {
        ((media - i128::from(edit.media_time)) * 1000 + ts / 2).div_euclid(ts) + empty_ms
    };
    let placement = |description: u32| {
        let i = description.saturating_sub(1) as usize;
        t.placements.get(i).copied().unwrap_or_default()
    };
    let mut cues = Vec::new();
    let (mut total, mut styled) = (0u64, false);
    let mut buf = Vec::new();
    for s in t.table.cursor() {
        read_text_sample(
            input,
            &path,
            &s,
            (&mut total, "text in one track", MAX_SUBTITLE_BYTES),
            &mut buf,
        )?;
        let sample = tx3g::decode(&buf, &t.entry == b"text").map_err(|detail| {
            BoxError::new(
                &path,
                s.offset,
                Malformed::Bitstream {
                    sample: s.index + 1,
                    detail,
                },
            )
            .in_file(name)
        })?;
        styled |= sample.styled;
        let start = i128::from(t.start_dts) + i128::from(s.dts) + i128::from(s.cto);
        let mut end = start + i128::from(s.duration);
        if let Some(e) = edit.end {
            if start >= i128::from(e) {
                continue;
            }
            end = end.min(i128::from(e));
        }
        let (start_ms, end_ms) = (ms(start).max(0), ms(end));
        if end_ms <= start_ms {
            continue; // before the presentation starts, or no time at all
        }
        cues.push(Cue {
            start_ms: start_ms as u64,
            end_ms: end_ms as u64,
            settings: tx3g::cue_settings(&placement(s.description), sample.text_box, &t.frame),
            text: sample.text,
        });
    }
    let text = subtitles::webvtt(&cues);
    let subs = Subtitles::from_text(format!("{name} (text track {})", t.id), &t.language, text)?
        .with_role(t.role.clone());
    Ok((subs, styled))
}

/// Reads sample `s` of a text or caption track (`path` in messages) into `buf`, after
/// checking it lies inside the file and counting its bytes into `total` against `limit`
/// (`what` names them): text is read whole, so it is bounded.
pub(crate) fn read_text_sample(
    input: &Input,
    path: &str,
    s: &Sample,
    (total, what, limit): (&mut u64, &'static str, u64),
    buf: &mut Vec<u8>,
) -> Result<()> {
    let name = input.name();
    *total += u64::from(s.size);
    if *total > limit {
        let limit = Malformed::Limit { what, limit };
        return Err(BoxError::new(path, s.offset, limit).in_file(name));
    }
    s.check_in_file(path, input.source().len())
        .map_err(|e| e.in_file(name))?;
    buf.resize(s.size as usize, 0);
    input.read_at(buf, s.offset)
}
