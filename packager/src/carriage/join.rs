//! Edit lists a DASH timeline cannot carry as they are, made into ones it can without
//! re-encoding: joined media edits, and a first edit that starts inside a GOP.
//!
//! Media edits that skip or repeat media (ISO/IEC 14496-12 8.6.6: the edits are played
//! one after the other), made one span: the samples each edit presents, moved in decode time so
//! each edit's media starts when the edit does, as one table. The result is an ordinary
//! track with one media edit, so timing, segmenting and the MPD need nothing else.
//!
//! Exact only where the media allows it without re-encoding; otherwise the track is
//! refused, saying which edit and why:
//! - Video (and any track with composition offsets): a later edit must start on a sync
//!   sample whose group of pictures is closed (nothing decoded from it on is presented
//!   before it), and the samples each edit presents must follow each other in decode
//!   order, none of them presented outside the edit.
//! - Audio: every sample is a sync sample, so each edit keeps the whole samples inside
//!   it. A frame that straddles a joint (at most one on each side) is left out: what it
//!   held of the edit is not played (a gap of less than a frame), and nothing the edit
//!   list cut away is.

use crate::layout::ContentType;
use crate::mp4::file::Stats;
use crate::mp4::moov::Track;
use crate::mp4::sample_table::{Sample, SampleTable, Sizes, StscEntry};

/// Makes one span of `track`'s edit and its joins, rewriting the sample table (and the
/// decryption records). Does nothing without joins.
pub(crate) fn join_edits(track: &mut Track) -> Result<(), String> {
    if track.edit.joins.is_empty() {
        return Ok(());
    }
    let samples: Vec<Sample> = track.table.cursor().collect();
    let start = track.start_dts as i64;
    // Saturating: the times come from the file, which may be crafted.
    let cts = |s: &Sample| start.saturating_add(s.dts as i64).saturating_add(s.cto);
    let whole_frames = track.kind == ContentType::Audio && !track.table.has_composition_offsets();
    let first = track.edit.media_time;

    // Each span: (first index, last index + 1, decode-time shift).
    let mut spans: Vec<(usize, usize, i64)> = Vec::new();
    let mut edges = vec![(first, track.edit.end, 0i64)];
    edges.extend(track.edit.joins.iter().map(|j| (j.media_time, j.end, j.at)));
    let last_span = edges.len() - 1;
    for (k, &(media_time, end, at)) in edges.iter().enumerate() {
        let n = k + 1;
        let shift = at.saturating_sub(media_time.saturating_sub(first));
        let inside_end = |s: &Sample| match end {
            None => true,
            Some(e) if k == last_span => cts(s) < e,
            Some(e) if whole_frames => cts(s).saturating_add(i64::from(s.duration)) <= e,
            Some(e) => cts(s) < e,
        };
        let begin = if k == 0 {
            // The first span keeps what comes before its start (hidden by the
            // presentation time offset, as for one edit).
            0
        } else if whole_frames {
            match samples.iter().position(|s| cts(s) >= media_time) {
                Some(i) => i,
                None => return Err(format!("media edit {n} starts after the last sample")),
            }
        } else {
            sync_start(&samples, &cts, media_time, n)?
        };
        let mut stop = begin;
        while stop < samples.len() && inside_end(&samples[stop]) {
            stop += 1;
        }
        if !whole_frames && k != last_span {
            // Open GOPs: a sample decoded in the span must be presented in it.
            if let Some(s) = samples[begin..stop]
                .iter()
                .find(|s| k > 0 && cts(s) < media_time)
            {
                return Err(format!(
                    "media edit {n}: sample {} is decoded after the edit's sync sample but \
                     presented before the edit starts (an open group of pictures)",
                    s.index + 1
                ));
            }
            if let Some(s) = samples[stop..]
                .iter()
                .take_while(|s| !s.sync)
                .find(|s| end.is_some_and(|e| cts(s) < e))
            {
                return Err(format!(
                    "media edit {n}: sample {} is presented inside it but decoded after a \
                     sample presented after it",
                    s.index + 1
                ));
            }
        }
        if stop == begin {
            return Err(format!("media edit {n} presents no whole sample"));
        }
        spans.push((begin, stop, shift));
    }

    // Decode times after the move; each span's last sample lasts until the next begins.
    let mut kept: Vec<(Sample, i64, i64)> = Vec::new();
    for &(begin, stop, shift) in &spans {
        kept.extend(
            samples[begin..stop]
                .iter()
                .map(|s| (*s, (s.dts as i64).saturating_add(shift), s.cto)),
        );
    }
    rebuild(track, &kept)?;
    // Decode times stay from the first sample's, which is the first span's first.
    track.edit.end = edges[last_span]
        .1
        .map(|e| e.saturating_add(spans[last_span].2));
    track.edit.joins.clear();
    Ok(())
}

/// Where a later media edit of a video track begins: on a sync sample, with nothing
/// decoded before it presented inside the edit.
fn sync_start(
    samples: &[Sample],
    cts: &dyn Fn(&Sample) -> i64,
    media_time: i64,
    n: usize,
) -> Result<usize, String> {
    let Some(i) = samples.iter().position(|s| cts(s) >= media_time) else {
        return Err(format!("media edit {n} starts after the last sample"));
    };
    let s = &samples[i];
    if !s.sync {
        return Err(format!(
            "media edit {n} starts at media time {media_time}, on sample {} which is \
             not a sync sample (only re-encoding could join it)",
            s.index + 1
        ));
    }
    if let Some(b) = samples[..i].iter().find(|s| cts(s) >= media_time) {
        return Err(format!(
            "media edit {n}: sample {} is presented inside it but decoded before \
             its sync sample {}",
            b.index + 1,
            s.index + 1
        ));
    }
    Ok(i)
}

/// A video track whose edit starts inside a group of pictures: the frames of that group
/// presented before the edit start must be decoded but not shown (from its sync sample
/// to the edit start, in decode order, and any presented before it after it). Hidden
/// before the Period start (`presentationTimeOffset`), MSE players drop each of them and
/// with it every frame after it up to the next keyframe (the need-random-access-point
/// rule): a black first GOP. So they are presented one tick each, in their order, in the
/// ticks just before the edit start, and the whole presentation starts that many ticks
/// later (see `Track::preroll`), so no track moves against another. Earlier groups of
/// pictures stay hidden as before: MSE drops them and starts again at the sync sample.
/// Returns the ticks the frames take.
pub(crate) fn squeeze_preroll(track: &mut Track, stats: &Stats) -> u64 {
    let start = track.start_dts as i64;
    let media_time = track.edit.media_time;
    // Nothing presented before the edit start (the usual case: the edit takes out the
    // B-frame delay only): no walk of the table.
    if track.kind != ContentType::Video || start.saturating_add(stats.min_cts) >= media_time {
        return 0;
    }
    let cts = |s: &Sample| start.saturating_add(s.dts as i64).saturating_add(s.cto);
    // When the group's sync sample is itself shown, what is hidden after it is an open
    // GOP's leading frames (see `drop_hidden_lead`): left before the Period start.
    let Some(from) = shown_group(track)
        .key
        .filter(|s| cts(s) < media_time)
        .map(|s| s.index)
    else {
        return 0;
    };
    let mut hidden: Vec<(i64, u32)> = track
        .table
        .cursor()
        .skip(from as usize)
        .filter(|s| cts(s) < media_time)
        .map(|s| (cts(&s), s.index))
        .collect();
    if hidden.is_empty() {
        return 0;
    }
    // In presentation order, one tick each, ending just before the edit start.
    hidden.sort_unstable();
    let ticks = hidden.len() as i64;
    let mut new_cts: std::collections::HashMap<u32, i64> = hidden
        .iter()
        .enumerate()
        .map(|(rank, &(_, i))| (i, media_time - ticks + rank as i64))
        .collect();
    let mut ctts: Vec<(u32, i64)> = Vec::new();
    for s in track.table.cursor() {
        let cto = match new_cts.remove(&s.index) {
            Some(c) => c.saturating_sub(start).saturating_sub(s.dts as i64),
            None => s.cto,
        };
        run_push(&mut ctts, cto);
    }
    track.table.ctts = ctts;
    ticks as u64
}

/// The group of pictures the first frame shown by the edit (decode order) belongs to.
struct ShownGroup {
    /// The last sync sample at or before that frame (the last one at all when no frame
    /// is shown).
    key: Option<Sample>,
    /// Whether any frame is shown.
    shown: bool,
}

fn shown_group(track: &Track) -> ShownGroup {
    let start = track.start_dts as i64;
    let mut key = None;
    for s in track.table.cursor() {
        if s.sync {
            key = Some(s);
        }
        if start.saturating_add(s.dts as i64).saturating_add(s.cto) >= track.edit.media_time {
            return ShownGroup { key, shown: true };
        }
    }
    ShownGroup { key, shown: false }
}

/// What `drop_hidden_lead` left out.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Dropped {
    /// Samples left out before the sync sample the output starts with.
    pub lead: u32,
    /// Whether those were all before the first sync sample (never decodable).
    pub undecodable: bool,
}

/// Video samples no shown frame needs are left out, so the first segment starts with a
/// sync sample as `startWithSAP` says, and the edit moves with the media so every kept
/// sample is presented when it was:
/// - samples before the first sync sample: no decoder can decode them (a recording cut
///   inside a GOP), whether the edit list shows them or not; MSE players drop them, and
///   FFmpeg decodes nothing before the keyframe either;
/// - samples before the group of pictures the edit starts in (decode order: before the
///   last sync sample at or before the first shown frame): never shown, and whole groups
///   the edit skips would be shown during an empty edit before it.
///
/// An open GOP's leading frames that the edit hides stay here (before the Period start):
/// they refer to the group before, which is not there. H.264 ones go with the rewrite to
/// an IDR start (`idr_start`); for others MSE players drop them and every frame up to
/// the next keyframe, which at least plays.
pub(crate) fn drop_hidden_lead(track: &mut Track, stats: &Stats) -> Dropped {
    let none = Dropped::default();
    if track.kind != ContentType::Video || !track.edit.joins.is_empty() {
        return none;
    }
    let start = track.start_dts as i64;
    let hidden_group = || {
        let group = shown_group(track);
        group.key.filter(|_| group.shown)
    };
    // Only when something is presented before the edit start: no walk of the table
    // otherwise (the usual edit takes out the B-frame delay only).
    let key = (start.saturating_add(stats.min_cts) < track.edit.media_time)
        .then(hidden_group)
        .flatten()
        .or_else(|| {
            (!track.table.starts_on_sync())
                .then(|| track.table.cursor().find(|s| s.sync))
                .flatten()
        });
    let Some(key) = key else {
        return none;
    };
    let lead = key.index as usize;
    if lead == 0 {
        return none;
    }
    let samples: Vec<Sample> = track.table.cursor().collect();
    if !drop_first(track, &samples, lead) {
        return none;
    }
    Dropped {
        lead: lead as u32,
        undecodable: !samples[..lead].iter().any(|s| s.sync),
    }
}

/// Audio samples wholly before the edit start are not presented. Without an empty edit
/// they sit before the Period start, where players skip them; an empty edit longer than
/// the presentation's shared lead-in puts some after it, where players would play them.
/// Returns those (sample indices), less the last hidden sample: the decoder's pre-roll
/// for the first presented frame, at most one frame of which plays. `shift` is the
/// track's Period time less its decode time plus offset (`Timing::shift`).
pub(crate) fn audible_hidden_audio(track: &Track, shift: i64) -> std::ops::Range<usize> {
    if track.kind != ContentType::Audio || !track.edit.joins.is_empty() {
        return 0..0;
    }
    let start = track.start_dts as i64;
    let media_time = track.edit.media_time;
    let mut first_audible = None;
    let mut hidden = 0usize;
    // Audio is presented in decode order: the hidden samples are a prefix.
    for s in track.table.cursor() {
        let end = (s.dts as i64)
            .saturating_add(s.cto)
            .saturating_add(i64::from(s.duration));
        if start.saturating_add(end) > media_time {
            break;
        }
        if first_audible.is_none() && end.saturating_add(shift) > 0 {
            first_audible = Some(hidden);
        }
        hidden += 1;
    }
    match first_audible {
        Some(first) if first + 1 < hidden => first..hidden - 1,
        _ => 0..0,
    }
}

/// Leaves out the first `lead` of `samples` (the track's), moving the edit with the
/// media so every kept sample is presented when it was; false when the table cannot be
/// rebuilt (nothing changed).
fn drop_first(track: &mut Track, samples: &[Sample], lead: usize) -> bool {
    let keep: Vec<bool> = (0..samples.len()).map(|i| i >= lead).collect();
    keep_only(track, samples, &keep)
}

/// Keeps the samples (the track's) whose `keep` is true, each presented when it was
/// (the edit moves with the media when the first ones go); false when the table cannot
/// be rebuilt or nothing is kept (nothing changed).
pub(crate) fn keep_only(track: &mut Track, samples: &[Sample], keep: &[bool]) -> bool {
    let Some(first) = samples.iter().zip(keep).find(|(_, k)| **k) else {
        return false;
    };
    let d0 = first.0.dts as i64;
    let kept: Vec<(Sample, i64, i64)> = samples
        .iter()
        .zip(keep)
        .filter(|(_, k)| **k)
        .map(|(s, _)| (*s, s.dts as i64 - d0, s.cto))
        .collect();
    if rebuild(track, &kept).is_err() {
        return false;
    }
    // Negative when the edit starts before the kept media: presented later, as before.
    track.edit.media_time -= d0;
    track.edit.end = track.edit.end.map(|e| e - d0);
    true
}

/// Replaces the sample table with `kept`: each sample with its new decode time (from the
/// track's start) and composition offset. A sample lasts until the next one decodes.
fn rebuild(track: &mut Track, kept: &[(Sample, i64, i64)]) -> Result<(), String> {
    let mut table = SampleTable {
        count: kept.len() as u32,
        stts: Vec::new(),
        ctts: Vec::new(),
        sizes: Sizes::PerSample(kept.iter().map(|(s, _, _)| s.size).collect()),
        stsc: Vec::new(),
        chunk_offsets: Vec::new(),
        sync: track.table.sync.as_ref().map(|_| {
            kept.iter()
                .enumerate()
                .filter(|(_, (s, _, _))| s.sync)
                .map(|(i, _)| i as u32 + 1)
                .collect()
        }),
    };
    let with_ctts = kept.iter().any(|k| k.2 != 0);
    // A new chunk wherever the data does not follow on or the sample entry changes:
    // (samples, sample description index) of each.
    let mut chunk_sizes: Vec<(u32, u32)> = Vec::new();
    let mut chunk_end = None;
    for (i, (s, dts, cto)) in kept.iter().enumerate() {
        let duration = match kept.get(i + 1) {
            Some((_, next, _)) => {
                let d = next.saturating_sub(*dts);
                if d <= 0 {
                    return Err(format!(
                        "the joined edits would decode sample {} at or after the next one",
                        s.index + 1
                    ));
                }
                u32::try_from(d).map_err(|_| "a joint leaves a gap too long".to_string())?
            }
            None => s.duration,
        };
        run_push(&mut table.stts, duration);
        if with_ctts {
            run_push(&mut table.ctts, *cto);
        }
        if chunk_end == Some(s.offset)
            && let Some((n, d)) = chunk_sizes.last_mut()
            && *d == s.description
        {
            *n += 1;
        } else {
            table.chunk_offsets.push(s.offset);
            chunk_sizes.push((1, s.description));
        }
        chunk_end = Some(s.offset.saturating_add(u64::from(s.size)));
    }
    for (i, &(n, d)) in chunk_sizes.iter().enumerate() {
        if table
            .stsc
            .last()
            .is_none_or(|e| e.samples_per_chunk != n || e.sample_description_index != d)
        {
            table.stsc.push(StscEntry {
                first_chunk: i as u32 + 1,
                samples_per_chunk: n,
                sample_description_index: d,
            });
        }
    }
    if !track.aux.is_empty() {
        let mut aux = Vec::with_capacity(kept.len());
        for (s, _, _) in kept {
            match track.aux.get(s.index as usize) {
                Some(a) => aux.push(a.clone()),
                None => break,
            }
        }
        track.aux = aux;
    }
    track.table = table;
    Ok(())
}

fn run_push<T: PartialEq + Copy>(runs: &mut Vec<(u32, T)>, v: T) {
    match runs.last_mut() {
        Some((n, last)) if *last == v => *n += 1,
        _ => runs.push((1, v)),
    }
}
