//! Preparing the timeline: the inputs opened and checked, tracks kept or skipped, one
//! timeline for all of them, and each track's cuts planned.

use std::collections::HashMap;
use std::sync::Arc;

use rayon::prelude::*;

use crate::carriage::{self, CheckedTrack, Media};
use crate::codec::Family;
use crate::described::Thumbnails;
use crate::layout;
use crate::layout::ContentType;
use crate::mp4::moov::{SkipWhy, Skipped};
use crate::options::{Options, RunControl, TrackSelector};
use crate::segment::captions::{CaptionPairs, PairAt};
use crate::segment::plan::{TrackPlan, plan_at, plan_at_syncs, plan_by_sync, regular_cuts};
use crate::segment::timing::{Rational, Timing, share_media_start, start_delay, timing};
use crate::source::Input;
use crate::{Error, Result};

/// One track on its way to becoming a Representation.
pub(super) struct OutTrack {
    pub(super) input: usize,
    pub(super) track: usize,
    pub(super) rep_id: String,
    pub(super) timing: Timing,
    pub(super) plan: TrackPlan,
    /// H.264 and HEVC video: its input's caption-track pairs on the Period timeline.
    pub(super) captions: CaptionPairs,
}

pub(super) struct Prepared {
    pub(super) media: Vec<Media>,
    pub(super) tracks: Vec<OutTrack>,
    pub(super) warnings: Vec<String>,
    /// The ladders' seek-bar previews, made as their rungs are written.
    pub(super) thumbnails: Vec<Arc<Thumbnails>>,
    /// The media time, in seconds, at which every audio and video track starts the
    /// presentation with HLS (`share_media_start`); 0 without, each track its own.
    pub(super) media_start: Rational,
}

impl Prepared {
    pub(super) fn checked(&self, o: &OutTrack) -> &CheckedTrack {
        &self.media[o.input].tracks[o.track]
    }

    /// `media_start` in the 90 kHz clock of HLS's `X-TIMESTAMP-MAP`.
    pub(super) fn media_start_90k(&self) -> u64 {
        u64::try_from(self.media_start.nearest_in_timescale(90_000)).unwrap_or(0)
    }
}

pub(super) fn target_duration(options: &Options) -> Result<Rational> {
    let d = options.segment_duration;
    let range = Options::SEGMENT_DURATION_RANGE;
    if !d.is_finite() || !range.contains(&d) {
        return Err(Error::InvalidOption {
            name: "segment_duration",
            reason: format!(
                "{d} is not between {} and {} seconds",
                range.start(),
                range.end()
            ),
        });
    }
    Ok(Rational::new((d * 1000.0).round() as i128, 1000))
}

/// Every option checked before anything is read; returns the target segment duration.
fn checked_options(options: &Options) -> Result<Rational> {
    let target = target_duration(options)?;
    check_mpd_name(&options.mpd_name)?;
    super::captions::check_options(options)?;
    if cfg!(not(feature = "transcode")) && options.ladder.is_some() {
        return Err(Error::InvalidOption {
            name: "ladder",
            reason: "this build cannot encode video: the ladder needs the library's \
                     `transcode` feature"
                .into(),
        });
    }
    Ok(target)
}

pub(super) fn check_mpd_name(name: &str) -> Result<()> {
    let ok = !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\\']);
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidOption {
            name: "mpd_name",
            reason: format!("{name:?} is not a plain file name"),
        })
    }
}

/// Most common sample duration: the nominal frame duration even with a few odd frames.
pub(super) fn nominal_delta(t: &CheckedTrack) -> Option<u32> {
    let mut counts: HashMap<u32, u64> = HashMap::new();
    for &(n, d) in &t.track.table.stts {
        *counts.entry(d).or_default() += u64::from(n);
    }
    counts
        .into_iter()
        .filter(|&(d, _)| d > 0)
        .max_by_key(|&(d, n)| (n, std::cmp::Reverse(d)))
        .map(|(d, _)| d)
}

/// Half a nominal sample duration, in seconds: boundaries of two Representations
/// closer than this are the same boundary.
pub(super) fn half_frame(t: &CheckedTrack) -> f64 {
    f64::from(nominal_delta(t).unwrap_or(1)) / f64::from(t.track.timescale) / 2.0
}

pub(super) fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

pub(super) fn frame_rate_string(t: &CheckedTrack) -> Option<String> {
    frame_rate(t).map(|(n, d)| {
        if d == 1 {
            n.to_string()
        } else {
            format!("{n}/{d}")
        }
    })
}

/// `@frameRate`: the average frame rate over the Representation (ISO/IEC 23009-1
/// 5.3.7.2), samples over their total duration. A constant rate with a few odd frames
/// (within 0.1% of the most common frame duration's rate) is given as that exact ratio
/// (`30000/1001`); a variable one as the average to a thousandth of a frame per second.
pub(super) fn frame_rate(t: &CheckedTrack) -> Option<(u64, u64)> {
    if t.track.kind != ContentType::Video {
        return None;
    }
    let ts = u128::from(t.track.timescale);
    let count = u128::from(t.track.table.count);
    // Decode time after the last sample: the durations of the samples packaged (an
    // end trim may leave some of `stts` out).
    let ticks = u128::from(t.stats.end_dts);
    if count == 0 || ticks == 0 || ts == 0 {
        return None;
    }
    let reduce = |n: u128, d: u128| {
        let g = gcd(n as u64, d as u64).max(1) as u128;
        (u64::try_from(n / g).ok()?, u64::try_from(d / g).ok()?).into()
    };
    let average = count * ts * 1_000_000 / ticks; // micro-frames per second
    if let Some(nominal) = nominal_delta(t).map(u128::from) {
        let exact = ts * 1_000_000 / nominal;
        if average.abs_diff(exact) * 1000 <= exact {
            return reduce(ts, nominal);
        }
    }
    reduce((count * ts * 1000 + ticks / 2) / ticks, 1000)
}

/// Gives each encrypted track of one input its key; a track without one becomes a
/// skipped track (encrypted input that cannot be carried, unless skipped on purpose).
pub(super) fn find_keys(name: &str, m: &mut Media, keys: &[crate::DecryptionKey]) -> Result<()> {
    let mut i = 0;
    while i < m.tracks.len() {
        let t = &mut m.tracks[i].track;
        let Some(p) = t.protection.as_mut() else {
            i += 1;
            continue;
        };
        match keys.iter().find(|k| k.kid == p.protection.kid) {
            Some(k) => {
                // An edit that ends before the media leaves samples (and their records)
                // out; fewer records than samples leaves samples undecryptable.
                if t.aux.len() < t.table.count as usize {
                    return Err(Error::Unsupported {
                        file: name.to_string(),
                        what: format!(
                            "track {}: {} encrypted samples but sample encryption data \
                             (senc, or saiz/saio) for {}",
                            t.id,
                            t.table.count,
                            t.aux.len()
                        ),
                    });
                }
                t.aux.truncate(t.table.count as usize);
                p.key = Some(k.key);
                i += 1;
            }
            None => {
                let why = p.why.clone();
                let c = m.tracks.remove(i);
                let entry = if c.track.kind == ContentType::Video {
                    b"encv"
                } else {
                    b"enca"
                };
                m.skipped.push(Skipped {
                    entry: Some(*entry),
                    ..Skipped::of(&c.track, why)
                });
            }
        }
    }
    Ok(())
}

/// Applies the skip list to one input. An audio or video track that cannot be carried
/// and was not skipped on purpose fails the call when `strict` (packaging) and is a
/// warning otherwise (inspecting); tracks without media to lose are warnings.
pub(super) fn keep_tracks(
    name: &str,
    m: &mut Media,
    skip: &[TrackSelector],
    strict: bool,
    laddered: bool,
    warnings: &mut Vec<String>,
) -> Result<()> {
    let asked = |id: u32, handler: &[u8; 4]| skip.iter().any(|s| s.matches(id, handler));
    let (kept, dropped): (Vec<_>, Vec<_>) = std::mem::take(&mut m.tracks)
        .into_iter()
        .partition(|t| !asked(t.track.id, crate::mp4::moov::handler(t.track.kind)));
    m.tracks = kept;
    m.skipped.extend(
        dropped
            .into_iter()
            .map(|t| Skipped::of(&t.track, SkipWhy::Requested)),
    );
    keep_captions(m, &asked, laddered);
    for s in &mut m.skipped {
        if s.loses_media() && asked(s.id, &s.handler) {
            s.why = SkipWhy::Requested;
        } else if s.loses_media() && strict {
            return Err(Media::uncarried(name, s));
        }
    }
    warnings.extend(m.warnings.iter().map(|w| format!("{name}: {w}")));
    warnings.extend(m.skipped.iter().map(|s| format!("{name}: {}", s.warning())));
    if m.tracks.is_empty() {
        return Err(Error::NoTracks {
            file: name.to_string(),
            detail: " (every track was skipped)".into(),
        });
    }
    Ok(())
}

/// Caption tracks go into the SEI of every H.264 or HEVC video track (a ladder encodes
/// H.264): without one they would be lost, and are refused unless skipped on purpose.
fn keep_captions(m: &mut Media, asked: &dyn Fn(u32, &[u8; 4]) -> bool, laddered: bool) {
    let carrier = m.tracks.iter().any(|t| {
        t.track.kind == ContentType::Video
            && (laddered || matches!(t.track.codec.family, Family::Avc | Family::Hevc))
    });
    for c in std::mem::take(&mut m.captions) {
        let skipped = |why| Skipped {
            id: c.id,
            handler: *b"clcp",
            entry: Some(*b"c608"),
            why,
        };
        if asked(c.id, b"clcp") {
            m.skipped.push(skipped(SkipWhy::Requested));
        } else if !carrier {
            m.skipped.push(skipped(SkipWhy::NoCaptionCarrier));
        } else {
            m.warnings.push(format!(
                "caption track {} ('c608'): its CEA-608 captions are carried in the video's SEI",
                c.id
            ));
            m.captions.push(c);
        }
    }
}

/// A video track that does not start on a sync sample starts with pictures a player
/// may not decode. (H.264 that starts on a keyframe that is not an IDR picture is
/// rewritten, or warned about, when read: `carriage::idr_start`.)
fn first_sync_warnings(inputs: &[Input], media: &[Media], warnings: &mut Vec<String>) {
    for (input, m) in inputs.iter().zip(media) {
        for t in &m.tracks {
            let (name, id) = (input.name(), t.track.id);
            if t.track.kind != ContentType::Video {
                continue;
            }
            if !t.track.table.starts_on_sync() {
                warnings.push(format!(
                    "{name}: track {id}: the first video sample is not a sync sample; players may \
                     not decode the start of the first segment"
                ));
            }
        }
    }
}

/// One input's tracks as asked: its language, decryption keys, the tracks left out,
/// PCM audio transcoded and video laddered (when packaging), and the warnings that
/// tell. Returns the ladders' thumbnails.
fn adjust_input(
    input: &Input,
    m: &mut Media,
    options: &Options,
    run: Option<&RunControl>,
    warnings: &mut Vec<String>,
) -> Result<Vec<Arc<Thumbnails>>> {
    if let Some(lang) = input.language() {
        for t in &mut m.tracks {
            t.track.language = lang.to_string();
        }
    }
    find_keys(input.name(), m, &options.decryption_keys)?;
    keep_tracks(
        input.name(),
        m,
        &options.skip,
        run.is_some(),
        options.ladder.is_some(),
        warnings,
    )?;
    let name = input.name();
    for t in &mut m.tracks {
        if t.track.codec.family != Family::Pcm {
            continue;
        }
        let (id, kind) = (
            t.track.id,
            crate::mp4::header::fourcc_str(&t.track.codec.fourcc),
        );
        match run {
            #[cfg(feature = "opus")]
            Some(_) => {
                t.made = Some(Box::new(crate::transcode::opus::to_opus(input, t)?));
                warnings.push(format!(
                    "{name}: track {id}: PCM audio ('{kind}') transcoded to Opus"
                ));
            }
            #[cfg(not(feature = "opus"))]
            Some(_) => {
                return Err(Error::UncarriedTrack {
                    file: name.to_string(),
                    track: id,
                    handler: "soun".into(),
                    codec: kind,
                    reason: "PCM audio is transcoded to Opus only with the library's \
                             `opus` feature"
                        .into(),
                });
            }
            None => warnings.push(format!(
                "{name}: track {id}: PCM audio ('{kind}'), transcoded to Opus when packaged"
            )),
        }
    }
    match (&options.ladder, run) {
        (Some(ladder), Some(_)) => {
            encode_ladders(input, m, ladder, target_duration(options)?, warnings)
        }
        (None, Some(_)) => refuse_legacy_media(name, m).map(|()| Vec::new()),
        (_, None) => {
            for t in m
                .tracks
                .iter()
                .filter(|t| t.track.codec.family == Family::Legacy)
            {
                warnings.push(format!(
                    "{name}: track {}: '{}' {} is carried only encoded to {} (a ladder)",
                    t.track.id,
                    t.track.codec.codecs,
                    t.track.kind.as_str(),
                    encoded_as(t.track.kind)
                ));
            }
            Ok(Vec::new())
        }
    }
}

/// What a ladder encodes a track of `kind` no player decodes to.
fn encoded_as(kind: ContentType) -> &'static str {
    if kind == ContentType::Audio {
        "AAC"
    } else {
        "H.264"
    }
}

/// Video (MPEG-4 Part 2, H.263, ProRes, DV) or audio (AMR) no player decodes, without a
/// ladder to encode it: refused by name, as any track that cannot be carried.
fn refuse_legacy_media(name: &str, m: &Media) -> Result<()> {
    match m
        .tracks
        .iter()
        .find(|t| t.track.codec.family == Family::Legacy)
    {
        Some(t) => Err(Error::UncarriedTrack {
            file: name.to_string(),
            track: t.track.id,
            handler: crate::mp4::header::fourcc_str(crate::mp4::moov::handler(t.track.kind)),
            codec: crate::mp4::header::fourcc_str(&t.track.codec.fourcc),
            reason: format!(
                "no DASH player decodes this {}; it is carried only encoded to {} (package \
                 with a ladder, `--ladder auto`, in a build with the `transcode` feature)",
                t.track.kind.as_str(),
                encoded_as(t.track.kind)
            ),
        }),
        None => Ok(()),
    }
}

/// Every video track the ladder takes replaced by its renditions (or kept beside them).
#[cfg(feature = "transcode")]
fn encode_ladders(
    input: &Input,
    m: &mut Media,
    ladder: &crate::Ladder,
    target: Rational,
    warnings: &mut Vec<String>,
) -> Result<Vec<Arc<Thumbnails>>> {
    use crate::ladder::Treatment;
    let mut tracks = Vec::with_capacity(m.tracks.len());
    let mut thumbnails = Vec::new();
    for t in std::mem::take(&mut m.tracks) {
        if t.track.kind == ContentType::Audio {
            encode_audio(input, t, ladder, &mut tracks, warnings)?;
            continue;
        }
        let treatment = ladder.treatment(t.track.codec.family);
        if t.track.kind != ContentType::Video || treatment == Treatment::Keep {
            tracks.push(t);
            continue;
        }
        let planned =
            crate::transcode::video::ladder_tracks(input, &t, ladder, (target.num, target.den))?;
        let (rungs, notes) = (planned.rungs, planned.notes);
        thumbnails.push(planned.thumbnails);
        let sizes: Vec<String> = rungs
            .iter()
            .map(|r| format!("{}x{}", r.track.codec.width, r.track.codec.height))
            .collect();
        warnings.push(format!(
            "{}: track {}: video encoded to H.264 renditions {}",
            input.name(),
            t.track.id,
            sizes.join(", ")
        ));
        for n in notes {
            warnings.push(format!("{}: track {}: {n}", input.name(), t.track.id));
        }
        // The rungs first: the other tracks follow the first video track's cuts.
        tracks.extend(rungs);
        if treatment == Treatment::EncodeAndKeep {
            tracks.push(t);
        }
    }
    m.tracks = tracks;
    Ok(thumbnails)
}

/// An audio track with a ladder: kept, or encoded to AAC-LC (and kept beside it).
/// Audio FFmpeg cannot decode here, and PCM (already Opus), is kept as it is.
#[cfg(feature = "transcode")]
fn encode_audio(
    input: &Input,
    t: CheckedTrack,
    ladder: &crate::Ladder,
    tracks: &mut Vec<CheckedTrack>,
    warnings: &mut Vec<String>,
) -> Result<()> {
    use crate::ladder::Treatment;
    use crate::transcode::aac;
    let c = &t.track.codec;
    let legacy = c.family == Family::Legacy;
    let treatment = ladder.audio_treatment(c.family, &c.codecs, c.channels);
    if treatment == Treatment::Keep || t.made.is_some() || (!legacy && !aac::decodable(&t.track)) {
        tracks.push(t);
        return Ok(());
    }
    let encoded = aac::to_aac(input, &t)?;
    let kept = treatment == Treatment::EncodeAndKeep && !legacy;
    warnings.push(format!(
        "{}: track {}: '{}' audio encoded to AAC-LC ({} Hz, {} channel{}){}",
        input.name(),
        t.track.id,
        c.codecs,
        encoded.track.codec.sample_rate,
        encoded.track.codec.channels,
        if encoded.track.codec.channels == 1 {
            ""
        } else {
            "s"
        },
        if kept {
            ", the source kept beside it"
        } else {
            ""
        }
    ));
    tracks.push(encoded);
    if kept {
        tracks.push(t);
    }
    Ok(())
}

#[cfg(not(feature = "transcode"))]
fn encode_ladders(
    _: &Input,
    _: &mut Media,
    _: &crate::Ladder,
    _: Rational,
    _: &mut Vec<String>,
) -> Result<Vec<Arc<Thumbnails>>> {
    Ok(Vec::new()) // refused with the options (`checked_options`)
}

/// Where the segments of every track but video are cut: at the first video track's
/// boundaries, or (audio only) on the regular grid.
fn plan_others(p: &mut Prepared, target: Rational) {
    let reference = p
        .tracks
        .iter()
        .find(|o| p.checked(o).track.kind == ContentType::Video);
    let has_video = reference.is_some();
    let cuts = reference.map_or_else(Vec::new, |o| o.plan.cut_times(p.checked(o).track.timescale));
    for k in 0..p.tracks.len() {
        let o = &p.tracks[k];
        let c = p.checked(o);
        if c.track.kind == ContentType::Video {
            continue;
        }
        let plan = if has_video {
            plan_at(&c.track.table, c.track.timescale, &o.timing, &cuts)
        } else {
            // Audio only: a first pass finds the end, then cut on the regular grid.
            let whole = plan_at(&c.track.table, c.track.timescale, &o.timing, &[]);
            let grid = regular_cuts(
                target,
                whole.end,
                c.track.timescale,
                c.track.table.count as usize,
            );
            plan_at(&c.track.table, c.track.timescale, &o.timing, &grid)
        };
        p.tracks[k].plan = plan;
    }
}

/// Reads the inputs and plans every track's cut. With `run` (packaging), tracks are
/// made ready to write (PCM transcoded); without it (inspecting), only described.
pub(super) fn prepare(
    inputs: &[Input],
    options: &Options,
    run: Option<&RunControl>,
) -> Result<Prepared> {
    let target = checked_options(options)?;
    if inputs.is_empty() {
        return Err(Error::InvalidOption {
            name: "inputs",
            reason: "no input file given".into(),
        });
    }
    let mut media: Vec<Media> = inputs
        .par_iter()
        .map(carriage::open)
        .collect::<Result<_>>()?;
    let mut warnings = Vec::new();
    let mut thumbnails = Vec::new();
    for (input, m) in inputs.iter().zip(&mut media) {
        thumbnails.extend(adjust_input(input, m, options, run, &mut warnings)?);
    }
    first_sync_warnings(inputs, &media, &mut warnings);
    // The presentation starts where its earliest track starts.
    let global_start = media
        .iter()
        .flat_map(|m| {
            m.tracks
                .iter()
                .map(move |t| start_delay(t, m.movie_timescale))
        })
        .reduce(|a, b| if b.lt(a) { b } else { a })
        .unwrap_or(Rational::new(0, 1));
    // Frames decoded but not shown before a video edit's start are presented in the
    // ticks just before it (`carriage::join::squeeze_preroll`): the whole presentation starts the
    // longest such run later, so they fall at or after 0 and no track moves against
    // another.
    let preroll = media
        .iter()
        .flat_map(|m| m.tracks.iter())
        .map(|t| Rational::new(i128::from(t.track.preroll), i128::from(t.track.timescale)))
        .reduce(|a, b| if a.lt(b) { b } else { a })
        .unwrap_or(Rational::new(0, 1));
    let global_start = global_start.sub(preroll);
    fill_video_leads(inputs, &mut media, global_start, &mut warnings)?;
    silence_audible_hidden_audio(inputs, &mut media, global_start, &mut warnings);

    let mut tracks = Vec::new();
    // Representations numbered from 1 within each content type.
    let mut counts: HashMap<ContentType, usize> = HashMap::new();
    for (i, m) in media.iter().enumerate() {
        for (j, t) in m.tracks.iter().enumerate() {
            let n = counts.entry(t.track.kind).or_default();
            *n += 1;
            let rep_id = layout::representation_id(t.track.kind, *n);
            tracks.push(OutTrack {
                input: i,
                track: j,
                rep_id,
                timing: timing(t, m.movie_timescale, global_start),
                plan: TrackPlan {
                    segments: Vec::new(),
                    end: 0,
                },
                captions: caption_pairs(m, t, global_start),
            });
        }
    }
    let media_start = audio_and_video_media_start(options.hls, &media, &mut tracks);
    let mut p = Prepared {
        media,
        tracks,
        warnings,
        thumbnails,
        media_start,
    };

    // Video first: each video track is cut at its own sync samples on the same grid.
    for k in 0..p.tracks.len() {
        let (kind, plan) = {
            let o = &p.tracks[k];
            let c = p.checked(o);
            let plan = (c.track.kind == ContentType::Video).then(|| match &c.made {
                // Encoded here: every keyframe starts a segment.
                Some(m) if !m.same_frames() => plan_at_syncs(&c.track.table, &o.timing),
                _ => plan_by_sync(&c.track.table, c.track.timescale, &o.timing, target),
            });
            (c.track.kind, plan)
        };
        if let (ContentType::Video, Some(plan)) = (kind, plan) {
            p.tracks[k].plan = plan;
        }
    }
    check_video_alignment(&p, inputs)?;

    // Everything else follows the first video track's boundaries.
    plan_others(&mut p, target);
    Ok(p)
}

/// With `hls`, every audio and video track starts the presentation at one media time
/// (`share_media_start`). Text in fMP4 keeps its own: a TTML document's times are its
/// track's media times. Only HLS needs it: in DASH each Representation's own offset is
/// exact, and Shaka starts one whose offset is after the Period's 1 ms late (its
/// workaround for an old browser), so a seek to exactly 0 finds such video unbuffered
/// and fetches it again.
fn audio_and_video_media_start(hls: bool, media: &[Media], tracks: &mut [OutTrack]) -> Rational {
    if !hls {
        return Rational::new(0, 1);
    }
    let mut av: Vec<(&mut Timing, u32)> = tracks
        .iter_mut()
        .map(|o| {
            let t = &media[o.input].tracks[o.track].track;
            (&mut o.timing, t.kind, t.timescale)
        })
        .filter(|(_, kind, _)| matches!(kind, ContentType::Audio | ContentType::Video))
        .map(|(timing, _, ts)| (timing, ts))
        .collect();
    share_media_start(&mut av)
}

/// The pairs of `m`'s caption tracks for video track `t`, in its timescale on the Period
/// timeline; none for other tracks.
fn caption_pairs(m: &Media, t: &CheckedTrack, global_start: Rational) -> CaptionPairs {
    let video = t.track.kind == ContentType::Video
        && matches!(t.track.codec.family, Family::Avc | Family::Hevc);
    if !video {
        return CaptionPairs::default();
    }
    let mut pairs: Vec<PairAt> = m
        .captions
        .iter()
        .flat_map(|c| &c.samples)
        .flat_map(|s| {
            let at = Rational::new(s.at.0, s.at.1)
                .sub(global_start)
                .nearest_in_timescale(t.track.timescale)
                .clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64;
            s.triples.iter().map(move |&triple| (at, triple))
        })
        .collect();
    // Stable: field 1's pair of a time before field 2's.
    pairs.sort_by_key(|p| p.0);
    CaptionPairs {
        tracks: m.captions.iter().map(|c| c.id).collect(),
        pairs,
    }
}

/// Video that starts decoding over a second after the presentation starts shows its
/// first frame from the start (`CheckedTrack::fill_video_lead`); later frames keep their times. Video
/// presented later only by its composition offset (B-frames without an edit list)
/// already decodes from the start and is left as it is.
fn fill_video_leads(
    inputs: &[Input],
    media: &mut [Media],
    global_start: Rational,
    warnings: &mut Vec<String>,
) -> Result<()> {
    for (input, m) in inputs.iter().zip(media) {
        let movie_timescale = m.movie_timescale;
        for t in &mut m.tracks {
            if t.track.kind != ContentType::Video {
                continue;
            }
            // The first sample's decode time on the Period timeline. Lead-ins under a
            // second (a few frames of an empty edit) are left exact: players step over
            // them, and showing the frame earlier would move it against the audio.
            let gap = timing(t, movie_timescale, global_start).shift;
            let Ok(gap) = u32::try_from(gap) else {
                continue;
            };
            if gap <= t.track.timescale {
                continue;
            }
            if t.fill_video_lead(input, gap)? {
                warnings.push(format!(
                    "{}: track {}: video starts {:.3} s after the presentation; its first \
                     frame is shown from the start",
                    input.name(),
                    t.track.id,
                    f64::from(gap) / f64::from(t.track.timescale.max(1))
                ));
            }
        }
    }
    Ok(())
}

/// Audio an edit list hides, put after the presentation start by an empty edit, would
/// be played there: made silent where it is AAC-LC
/// (`CheckedTrack::silence_audible_hidden_audio`), with a warning either way.
fn silence_audible_hidden_audio(
    inputs: &[Input],
    media: &mut [Media],
    global_start: Rational,
    warnings: &mut Vec<String>,
) {
    for (input, m) in inputs.iter().zip(media) {
        let movie_timescale = m.movie_timescale;
        for t in &mut m.tracks {
            if t.track.kind != ContentType::Audio || t.track.edit.empty == 0 {
                continue;
            }
            let shift = timing(t, movie_timescale, global_start).shift;
            let (n, silenced) = t.silence_audible_hidden_audio(shift);
            if n > 0 {
                warnings.push(format!(
                    "{}: track {}: its edit list hides {n} audio frames that its empty edit \
                     puts after the presentation start; {}",
                    input.name(),
                    t.track.id,
                    if silenced {
                        "written as silent frames"
                    } else {
                        "they play there (only AAC-LC is made silent)"
                    }
                ));
            }
        }
    }
}

/// Video tracks of one sample entry type share an AdaptationSet, so their segment
/// boundaries must match; refuse rather than write a false `segmentAlignment`.
pub(super) fn check_video_alignment(p: &Prepared, inputs: &[Input]) -> Result<()> {
    let videos: Vec<&OutTrack> = p
        .tracks
        .iter()
        .filter(|o| p.checked(o).track.kind == ContentType::Video)
        .collect();
    for (a_i, a) in videos.iter().enumerate() {
        for b in videos.iter().skip(a_i + 1) {
            let (ca, cb) = (p.checked(a), p.checked(b));
            if ca.track.codec.fourcc != cb.track.codec.fourcc {
                continue;
            }
            let tolerance = half_frame(ca).min(half_frame(cb));
            let times = |o: &OutTrack, c: &CheckedTrack| -> Vec<f64> {
                o.plan
                    .segments
                    .iter()
                    .map(|s| s.ept as f64 / f64::from(c.track.timescale))
                    .collect()
            };
            let (ta, tb) = (times(a, ca), times(b, cb));
            let mismatch = ta
                .iter()
                .zip(&tb)
                .position(|(x, y)| (x - y).abs() > tolerance)
                .or((ta.len() != tb.len()).then_some(ta.len().min(tb.len())));
            if let Some(i) = mismatch {
                let at = |t: &[f64]| {
                    t.get(i)
                        .map_or("its end".to_string(), |x| format!("{x:.3} s"))
                };
                return Err(Error::Misaligned {
                    detail: format!(
                        "segment {} starts at {} in {} (track {}) but at {} in {} (track {}); \
                         the inputs' keyframes are not aligned",
                        i + 1,
                        at(&ta),
                        inputs[a.input].name(),
                        ca.track.id,
                        at(&tb),
                        inputs[b.input].name(),
                        cb.track.id,
                    ),
                });
            }
        }
    }
    Ok(())
}
