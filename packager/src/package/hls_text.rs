//! Text carried as fMP4, in HLS. IMSC1 (`stpp`) segments get a media playlist like
//! audio's (RFC 8216bis has IMSC1 subtitles in fMP4). WebVTT in MP4 (`wvtt`) has no HLS
//! form in fMP4, so its cues are written once more as a WebVTT file beside the
//! segments, at the times the segments present them.

use super::prepare::{OutTrack, Prepared};
use crate::Result;
use crate::carriage::timed_text::read_text_sample;
use crate::codec::text::wvtt_cues;
use crate::described::RepInput;
use crate::hls::{self, TextRendition};
use crate::layout::{self, ContentType};
use crate::limits::MAX_SUBTITLE_BYTES;
use crate::source::Input;
use crate::subtitles::{Cue, webvtt_of_cue_text};

/// The WebVTT files HLS needs as (path, text), and the subtitle renditions of the text
/// Representations in `reps` (one per `p.tracks`).
pub(super) type HlsText<'a> = (Vec<(String, String)>, Vec<TextRendition<'a>>);

pub(super) fn renditions<'a>(
    p: &Prepared,
    inputs: &[Input],
    reps: &[RepInput<'a>],
    start_90k: u64,
) -> Result<HlsText<'a>> {
    let (mut files, mut renditions) = (Vec::new(), Vec::new());
    for (o, r) in p.tracks.iter().zip(reps) {
        if r.kind != ContentType::Text {
            continue;
        }
        let file = match r.codecs {
            "wvtt" => {
                let text = hls::timestamp_mapped(&webvtt_of(p, o, &inputs[o.input], r)?, start_90k);
                files.push((layout::subtitle_path(r.id, false), text));
                Some(layout::SUBTITLE_FILE)
            }
            _ => None,
        };
        renditions.push(TextRendition {
            id: r.id,
            file,
            language: r.language,
            role: r.role,
            fmp4_codecs: None,
        });
    }
    Ok((files, renditions))
}

/// The cues of a `wvtt` track as WebVTT on the presentation's timeline: each `vttc` a
/// cue over its sample's time, a cue repeated in the next sample (split at a fragment
/// or segment boundary) joined into one.
fn webvtt_of(p: &Prepared, o: &OutTrack, input: &Input, r: &RepInput<'_>) -> Result<String> {
    let t = &p.checked(o).track;
    let path = format!("track {}", t.id);
    let ts = i128::from(t.timescale.max(1));
    let ms = |ticks: i64| (i128::from(ticks) * 1000 + ts / 2).div_euclid(ts);
    let until = r.until.map(|u| u as i64 - r.pto as i64);
    let mut cues: Vec<Cue> = Vec::new();
    let mut total = 0u64;
    let mut buf = Vec::new();
    for s in t.table.cursor() {
        read_text_sample(
            input,
            &path,
            &s,
            (&mut total, "text in one track", MAX_SUBTITLE_BYTES),
            &mut buf,
        )?;
        let start = o.timing.period_time(s.dts, s.cto);
        let end = until.map_or(start + i64::from(s.duration), |u| {
            u.min(start + i64::from(s.duration))
        });
        let (a, b) = (ms(start).max(0) as u64, ms(end).max(0) as u64);
        if b <= a {
            continue;
        }
        for cue in wvtt_cues(&buf) {
            let joined = cues
                .iter_mut()
                .rev()
                .take_while(|c| c.end_ms == a)
                .find(|c| c.text == cue.text && c.settings == cue.settings);
            match joined {
                Some(c) => c.end_ms = b,
                None => cues.push(Cue {
                    start_ms: a,
                    end_ms: b,
                    settings: cue.settings,
                    text: cue.text,
                }),
            }
        }
    }
    Ok(webvtt_of_cue_text(&cues))
}
