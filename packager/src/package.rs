//! The whole flow: open every input, put all tracks on one timeline, plan the cuts,
//! build the tracks in parallel, then write the MPD last.

use std::collections::HashMap;
use std::path::Path;

use rayon::prelude::*;

use crate::crypt::{self, ClearKey, Encryption, Pssh, Scheme};
use crate::described::{RepInput, RepProtection, TextInput};
use crate::hls;
use crate::layout;
use crate::mp4::file::{self, CheckedTrack, Media};
use crate::mp4::moov::{Kind, SkipWhy, Skipped};
use crate::mpd;
use crate::options::{Control, Options, TrackSelector};
use crate::presentation::{ContentType, MediaInfo, Presentation, Representation, TrackInfo};
use crate::segment::build::{BuiltTrack, TrackJob, TrackProtection, build_track};
use crate::segment::plan::{TrackPlan, plan_at, plan_by_sync, regular_cuts};
use crate::segment::timing::{Rational, Timing, start_delay, timing};
use crate::sink::{DirSink, Sink};
use crate::source::Input;
use crate::{Error, Result};

/// One track on its way to becoming a Representation.
struct OutTrack {
    input: usize,
    track: usize,
    rep_id: String,
    timing: Timing,
    plan: TrackPlan,
}

struct Prepared {
    media: Vec<Media>,
    tracks: Vec<OutTrack>,
    warnings: Vec<String>,
}

impl Prepared {
    fn checked(&self, o: &OutTrack) -> &CheckedTrack {
        &self.media[o.input].tracks[o.track]
    }
}

fn target_duration(options: &Options) -> Result<Rational> {
    let d = options.segment_duration;
    if !d.is_finite() || !(0.1..=3600.0).contains(&d) {
        return Err(Error::InvalidOption {
            name: "segment_duration",
            reason: format!("{d} is not between 0.1 and 3600 seconds"),
        });
    }
    Ok(Rational::new((d * 1000.0).round() as i128, 1000))
}

fn check_mpd_name(name: &str) -> Result<()> {
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
fn nominal_delta(t: &CheckedTrack) -> Option<u32> {
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
fn half_frame(t: &CheckedTrack) -> f64 {
    f64::from(nominal_delta(t).unwrap_or(1)) / f64::from(t.track.timescale) / 2.0
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

fn frame_rate_string(t: &CheckedTrack) -> Option<String> {
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
fn frame_rate(t: &CheckedTrack) -> Option<(u64, u64)> {
    if t.track.kind != Kind::Video {
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
fn find_keys(name: &str, m: &mut Media, keys: &[crate::DecryptionKey]) -> Result<()> {
    let mut i = 0;
    while i < m.tracks.len() {
        let t = &mut m.tracks[i].track;
        let Some(p) = t.protection.as_mut() else {
            i += 1;
            continue;
        };
        match keys.iter().find(|k| k.kid == p.protection.kid) {
            Some(k) => {
                if t.aux.len() != t.table.count as usize {
                    return Err(Error::Unsupported {
                        file: name.to_string(),
                        what: format!(
                            "track {}: encrypted samples outside fragments (saiz/saio in the \
                             sample table) are not decrypted; fragmented input with senc is",
                            t.id
                        ),
                    });
                }
                p.key = Some(k.key);
                i += 1;
            }
            None => {
                let why = p.why.clone();
                let c = m.tracks.remove(i);
                let entry = if c.track.kind == Kind::Video {
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
fn keep_tracks(
    name: &str,
    m: &mut Media,
    skip: &[TrackSelector],
    strict: bool,
    warnings: &mut Vec<String>,
) -> Result<()> {
    let asked = |id: u32, handler: &[u8; 4]| skip.iter().any(|s| s.matches(id, handler));
    for s in &mut m.skipped {
        if s.loses_media() && asked(s.id, &s.handler) {
            s.why = SkipWhy::Requested;
        } else if s.loses_media() && strict {
            return Err(Media::uncarried(name, s));
        }
    }
    let (kept, dropped): (Vec<_>, Vec<_>) = std::mem::take(&mut m.tracks)
        .into_iter()
        .partition(|t| !asked(t.track.id, t.track.kind.handler()));
    m.tracks = kept;
    m.skipped.extend(
        dropped
            .into_iter()
            .map(|t| Skipped::of(&t.track, SkipWhy::Requested)),
    );
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

fn prepare(inputs: &[Input], options: &Options, strict: bool) -> Result<Prepared> {
    let target = target_duration(options)?;
    check_mpd_name(&options.mpd_name)?;
    if inputs.is_empty() {
        return Err(Error::InvalidOption {
            name: "inputs",
            reason: "no input file given".into(),
        });
    }
    let mut media: Vec<Media> = inputs.par_iter().map(file::open).collect::<Result<_>>()?;
    let mut warnings = Vec::new();
    for (input, m) in inputs.iter().zip(&mut media) {
        if let Some(lang) = input.language() {
            for t in &mut m.tracks {
                t.track.language = lang.to_string();
            }
        }
        find_keys(input.name(), m, &options.decryption_keys)?;
        keep_tracks(input.name(), m, &options.skip, strict, &mut warnings)?;
        for t in &mut m.tracks {
            if t.track.codec.family != crate::codec::Family::Pcm {
                continue;
            }
            let (id, kind) = (
                t.track.id,
                crate::mp4::header::fourcc_str(&t.track.codec.fourcc),
            );
            if strict {
                t.transcoded = Some(crate::transcode::to_opus(input, t)?);
                warnings.push(format!(
                    "{}: track {id}: PCM audio ('{kind}') transcoded to Opus",
                    input.name()
                ));
            } else {
                warnings.push(format!(
                    "{}: track {id}: PCM audio ('{kind}'), transcoded to Opus when packaged",
                    input.name()
                ));
            }
        }
    }
    for (input, m) in inputs.iter().zip(&media) {
        for t in &m.tracks {
            let (name, id) = (input.name(), t.track.id);
            let first_sync = t
                .track
                .table
                .sync
                .as_ref()
                .is_none_or(|s| s.first() == Some(&1));
            if t.track.kind == Kind::Video && !first_sync {
                warnings.push(format!(
                    "{name}: track {id}: the first video sample is not a sync sample; players may not \
                     decode the start of the first segment"
                ));
            }
        }
    }

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

    let mut tracks = Vec::new();
    let (mut videos, mut audios) = (0, 0);
    for (i, m) in media.iter().enumerate() {
        for (j, t) in m.tracks.iter().enumerate() {
            let rep_id = match t.track.kind {
                Kind::Video => {
                    videos += 1;
                    layout::representation_id("video", videos)
                }
                Kind::Audio => {
                    audios += 1;
                    layout::representation_id("audio", audios)
                }
            };
            tracks.push(OutTrack {
                input: i,
                track: j,
                rep_id,
                timing: timing(t, m.movie_timescale, global_start),
                plan: TrackPlan {
                    segments: Vec::new(),
                    end: 0,
                },
            });
        }
    }
    let mut p = Prepared {
        media,
        tracks,
        warnings,
    };

    // Video first: each video track is cut at its own sync samples on the same grid.
    for k in 0..p.tracks.len() {
        let (kind, plan) = {
            let o = &p.tracks[k];
            let c = p.checked(o);
            let plan = (c.track.kind == Kind::Video)
                .then(|| plan_by_sync(&c.track.table, c.track.timescale, &o.timing, target));
            (c.track.kind, plan)
        };
        if let (Kind::Video, Some(plan)) = (kind, plan) {
            p.tracks[k].plan = plan;
        }
    }
    check_video_alignment(&p, inputs)?;

    // Everything else follows the first video track's boundaries.
    let reference = p
        .tracks
        .iter()
        .find(|o| p.checked(o).track.kind == Kind::Video);
    let has_video = reference.is_some();
    let cuts = reference.map_or_else(Vec::new, |o| o.plan.cut_times(p.checked(o).track.timescale));
    for k in 0..p.tracks.len() {
        let o = &p.tracks[k];
        let c = p.checked(o);
        if c.track.kind == Kind::Video {
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
    Ok(p)
}

/// Video tracks of one sample entry type share an AdaptationSet, so their segment
/// boundaries must match; refuse rather than write a false `segmentAlignment`.
fn check_video_alignment(p: &Prepared, inputs: &[Input]) -> Result<()> {
    let videos: Vec<&OutTrack> = p
        .tracks
        .iter()
        .filter(|o| p.checked(o).track.kind == Kind::Video)
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

/// The key, IV and clear lead of every track, or `None` each without encryption.
fn protections(
    p: &Prepared,
    inputs: &[Input],
    enc: Option<&Encryption>,
    warnings: &mut Vec<String>,
) -> Result<Vec<Option<TrackProtection>>> {
    let Some(enc) = enc else {
        return Ok(vec![None; p.tracks.len()]);
    };
    let invalid = |name: &'static str, reason: String| Error::InvalidOption { name, reason };
    if enc.keys.is_empty() {
        return Err(invalid("encryption_key", "no key given".into()));
    }
    if !enc.clear_lead.is_finite() || enc.clear_lead < 0.0 {
        return Err(invalid(
            "clear_lead",
            format!("{} is not a number of seconds >= 0", enc.clear_lead),
        ));
    }
    for k in &enc.keys {
        if let crypt::KeyScope::Representation(id) = &k.scope
            && !p.tracks.iter().any(|o| &o.rep_id == id)
        {
            let ids: Vec<&str> = p.tracks.iter().map(|o| o.rep_id.as_str()).collect();
            return Err(invalid(
                "encryption_key",
                format!("a key names {id:?}, which is not one of {}", ids.join(", ")),
            ));
        }
    }
    if let Some(ClearKey::LicenseUrl(url)) = &enc.clearkey
        && url.trim().is_empty()
    {
        return Err(invalid("clearkey", "the license URL is empty".into()));
    }
    let mut out = Vec::with_capacity(p.tracks.len());
    let mut iv_reuse: HashMap<([u8; 16], Vec<u8>), usize> = HashMap::new();
    for o in &p.tracks {
        let c = p.checked(o);
        let video = c.track.kind == Kind::Video;
        let codec = &c.track.codec;
        if !codec.family.encryptable() || codec.dolby_vision {
            return Err(Error::Unsupported {
                file: inputs[o.input].name().to_string(),
                what: format!(
                    "encrypting {} ({}): Common Encryption is written here for H.264, \
                     HEVC (without Dolby Vision), AAC, Opus, FLAC, AC-3 and E-AC-3 only",
                    crate::mp4::header::fourcc_str(&codec.fourcc),
                    o.rep_id
                ),
            });
        }
        let key = enc.key_for(&o.rep_id, video).ok_or_else(|| {
            invalid(
                "encryption_key",
                format!(
                    "no key applies to {} (give one without a prefix, or prefixed {}: or {}:)",
                    o.rep_id,
                    if video { "video" } else { "audio" },
                    o.rep_id
                ),
            )
        })?;
        let mut iv = [0u8; 16];
        match (&key.iv, enc.scheme) {
            (Some(given), Scheme::Cenc) if given.len() == 8 => {
                iv[..8].copy_from_slice(given);
                *iv_reuse.entry((key.kid, given.clone())).or_default() += 1;
            }
            (Some(_), Scheme::Cenc) => {
                return Err(invalid(
                    "encryption_key",
                    "cenc takes an 8-byte IV (16 hex digits)".into(),
                ));
            }
            (Some(given), Scheme::Cbcs) => iv[..given.len()].copy_from_slice(given),
            (None, scheme) => {
                let len = if scheme == Scheme::Cenc { 8 } else { 16 };
                getrandom::fill(&mut iv[..len])
                    .map_err(|e| Error::internal(format!("cannot draw random IVs: {e}")))?;
            }
        }
        let ts = f64::from(c.track.timescale);
        let start = o.plan.segments.first().map_or(0, |s| s.ept);
        let clear_segments = o
            .plan
            .segments
            .iter()
            .take_while(|s| (s.ept - start) as f64 / ts < enc.clear_lead)
            .count();
        let mut pssh = vec![Pssh::build(crypt::COMMON_SYSTEM_ID, &[key.kid], &[])];
        pssh.extend(enc.pssh.iter().cloned());
        out.push(Some(TrackProtection {
            scheme: enc.scheme,
            key: key.clone(),
            iv,
            clear_segments,
            pssh,
        }));
    }
    if iv_reuse.values().any(|&n| n > 1) {
        warnings.push(
            "several tracks are encrypted with the same key and the same given IV: their key streams \
             repeat; give each track its own key or IV, or let dashpack draw random IVs"
                .into(),
        );
    }
    Ok(out)
}

/// The ClearKey license URL the MPD names: the given one, or for inline keys a `data:`
/// URL with every key of the presentation (players may send all their license
/// requests to the first URL they find).
fn clearkey_laurl(enc: Option<&Encryption>, tracks: &[Option<TrackProtection>]) -> Option<String> {
    match enc?.clearkey.as_ref()? {
        ClearKey::LicenseUrl(url) => Some(url.clone()),
        ClearKey::Inline => {
            let mut keys: Vec<&crypt::EncryptionKey> = Vec::new();
            for t in tracks.iter().flatten() {
                if !keys.iter().any(|k| k.kid == t.key.kid) {
                    keys.push(&t.key);
                }
            }
            Some(Encryption::clearkey_data_url(&keys))
        }
    }
}

fn rep_protection<'a>(t: &'a TrackProtection, laurl: &Option<String>) -> RepProtection<'a> {
    RepProtection {
        scheme: t.scheme,
        kid: t.key.kid,
        pssh: &t.pssh,
        clearkey_laurl: laurl.clone(),
    }
}

fn rep_input<'a>(
    p: &'a Prepared,
    o: &'a OutTrack,
    built: &'a BuiltTrack,
    protection: Option<RepProtection<'a>>,
) -> RepInput<'a> {
    let c = p.checked(o);
    let t = &c.track;
    RepInput {
        id: &o.rep_id,
        kind: t.kind,
        fourcc: t.codec.fourcc,
        codecs: &t.codec.codecs,
        language: &t.language,
        width: u32::from(t.codec.width),
        height: u32::from(t.codec.height),
        frame_rate: frame_rate(c),
        sar: t.codec.sar,
        sample_rate: t.codec.sample_rate,
        channels: t.codec.channels,
        dolby_mask: t.codec.dolby_mask,
        channel_scheme: t
            .codec
            .channel_scheme
            .as_ref()
            .map(|(scheme, value)| (*scheme, value.as_str())),
        supplemental: t.codec.supplemental.as_ref(),
        slot: if t.kind == Kind::Audio {
            p.tracks
                .iter()
                .take_while(|x| !std::ptr::eq(*x, o))
                .filter(|x| {
                    let xt = &p.checked(x).track;
                    x.input == o.input && xt.kind == Kind::Audio && xt.language == t.language
                })
                .count()
        } else {
            0
        },
        timescale: t.timescale,
        pto: o.timing.pto,
        segments: &built.segments,
        sap: built.sap,
        tolerance: half_frame(c),
        protection,
        on_demand: built.index_range.map(|r| (built.init_bytes, r)),
    }
}

/// Package `inputs` into `sink`: init and media segments for every audio and video
/// track, then the MPD, last.
pub fn package(inputs: &[Input], sink: &dyn Sink, options: &Options) -> Result<Presentation> {
    let mut p = prepare(inputs, options, true)?;
    let mut warnings = std::mem::take(&mut p.warnings);
    let protections = protections(&p, inputs, options.encryption.as_ref(), &mut warnings)?;
    let ctl = Control::new(
        options,
        p.tracks.iter().map(|o| p.checked(o).stats.bytes).sum(),
    );
    ctl.check_cancel()?;
    // Each call gets its own threads, one per track: concurrent calls (threads of a
    // Python program, jobs of the worker) then never wait on each other's tracks.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(p.tracks.len().clamp(1, 16))
        .thread_name(|i| format!("dashpack-track-{i}"))
        .build()
        .map_err(|e| Error::internal(format!("cannot start packaging threads: {e}")))?;
    let built: Vec<BuiltTrack> = pool.install(|| {
        p.tracks
            .par_iter()
            .zip(&protections)
            .map(|(o, protection)| {
                let checked = p.checked(o);
                let job = TrackJob {
                    input: checked.transcoded.as_ref().unwrap_or(&inputs[o.input]),
                    track: checked,
                    timing: o.timing,
                    plan: &o.plan,
                    rep_id: &o.rep_id,
                    protection: protection.as_ref(),
                };
                build_track(&job, options.timeline, options.profile, sink, &ctl)
            })
            .collect::<Result<_>>()
    })?;
    ctl.check_cancel()?;

    let laurl = clearkey_laurl(options.encryption.as_ref(), &protections);
    let reps: Vec<RepInput<'_>> = p
        .tracks
        .iter()
        .zip(&built)
        .zip(&protections)
        .map(|((o, b), prot)| {
            let prot = prot.as_ref().map(|t| rep_protection(t, &laurl));
            rep_input(&p, o, b, prot)
        })
        .collect();
    // Subtitles: each file in a folder of its own, published as it is.
    let text_ids: Vec<String> = (1..=options.subtitles.len())
        .map(|i| layout::representation_id("text", i))
        .collect();
    let text_files: Vec<String> = text_ids
        .iter()
        .map(|id| layout::subtitle_path(id))
        .collect();
    let mut files = 0u64;
    let mut bytes = 0u64;
    let mut put = |path: &str, data: &[u8]| -> Result<()> {
        sink.put(path, data)
            .map_err(|e| Error::io(format!("cannot write {path}"), e))?;
        files += 1;
        bytes += data.len() as u64;
        Ok(())
    };
    for (sub, path) in options.subtitles.iter().zip(&text_files) {
        put(path, sub.text.as_bytes())?;
    }
    let texts: Vec<TextInput<'_>> = options
        .subtitles
        .iter()
        .zip(text_ids.iter().zip(&text_files))
        .map(|(sub, (id, file))| TextInput {
            id,
            language: &sub.language,
            file,
            bytes: sub.text.len() as u64,
        })
        .collect();
    let written = mpd::write(&reps, &texts, options.timeline)
        .map_err(|e| Error::internal(format!("cannot serialise the MPD: {e}")))?;
    if options.hls {
        let renditions: Vec<hls::TextRendition<'_>> = texts
            .iter()
            .map(|t| hls::TextRendition {
                id: t.id,
                file: layout::SUBTITLE_FILE,
                language: t.language,
            })
            .collect();
        for (path, text) in hls::write(&reps, &renditions, written.duration, options.timeline) {
            put(&path, text.as_bytes())?;
        }
    }
    // The MPD last: a reader that finds it finds everything it names.
    put(&options.mpd_name, written.xml.as_bytes())?;

    let representations = p
        .tracks
        .iter()
        .zip(&built)
        .zip(reps.iter().zip(&written.bandwidths))
        .map(|((o, b), (r, &bandwidth))| {
            let c = p.checked(o);
            let t = &c.track;
            let index_bytes = b.index_range.map_or(0, |(first, last)| last - first + 1);
            let rep_bytes =
                b.init_bytes + index_bytes + b.segments.iter().map(|s| s.bytes).sum::<u64>();
            files += if b.index_range.is_some() {
                1
            } else {
                1 + b.segments.len() as u64
            };
            bytes += rep_bytes;
            let video = t.kind == Kind::Video;
            Representation {
                id: o.rep_id.clone(),
                input: inputs[o.input].name().to_string(),
                track_id: t.id,
                content_type: if video {
                    ContentType::Video
                } else {
                    ContentType::Audio
                },
                codecs: t.codec.codecs.clone(),
                bandwidth,
                width: video.then_some(u32::from(t.codec.width)),
                height: video.then_some(u32::from(t.codec.height)),
                frame_rate: frame_rate_string(c),
                sample_rate: (!video).then_some(t.codec.sample_rate),
                channels: (!video).then_some(t.codec.channels),
                language: t.language.clone(),
                segments: b.segments.len() as u32,
                bytes: rep_bytes,
                max_segment_duration: r.max_segment_duration(),
            }
        })
        .collect();
    Ok(Presentation {
        mpd: options.mpd_name.clone(),
        duration: written.duration,
        min_buffer_time: written.min_buffer_time,
        representations,
        files,
        bytes,
        warnings,
    })
}

/// Package local files into the folder `out_dir`, which appears whole or not at all.
pub fn package_files<P: AsRef<Path>>(
    inputs: &[P],
    out_dir: impl AsRef<Path>,
    options: &Options,
) -> Result<Presentation> {
    let inputs: Vec<Input> = inputs.iter().map(Input::open).collect::<Result<_>>()?;
    package_inputs(&inputs, out_dir, options)
}

/// Package opened inputs (for instance with [`Input::with_language`]) into the folder
/// `out_dir`, which appears whole or not at all.
pub fn package_inputs(
    inputs: &[Input],
    out_dir: impl AsRef<Path>,
    options: &Options,
) -> Result<Presentation> {
    let sink = DirSink::create(out_dir.as_ref(), options.force)?;
    let presentation = package(inputs, &sink, options)?;
    sink.commit()?;
    Ok(presentation)
}

/// Describe the tracks of one input and what [`package`] would make of them.
pub fn inspect(input: &Input, options: &Options) -> Result<MediaInfo> {
    let p = prepare(std::slice::from_ref(input), options, false)?;
    let mut duration = 0.0f64;
    let tracks = p
        .tracks
        .iter()
        .map(|o| {
            let c = p.checked(o);
            let t = &c.track;
            let ts = f64::from(t.timescale);
            let start = o.plan.segments.first().map_or(0, |s| s.ept.max(0)) as f64 / ts;
            let end = o.plan.end as f64 / ts;
            duration = duration.max(end);
            let media_seconds = c.stats.end_dts as f64 / ts;
            let video = t.kind == Kind::Video;
            TrackInfo {
                track_id: t.id,
                content_type: if video {
                    ContentType::Video
                } else {
                    ContentType::Audio
                },
                sample_entry: crate::mp4::header::fourcc_str(&t.codec.fourcc),
                codecs: t.codec.codecs.clone(),
                timescale: t.timescale,
                duration: end - start,
                samples: t.table.count,
                sync_samples: c.stats.sync_count,
                keyframe_interval: (video && c.stats.sync_count > 0)
                    .then(|| media_seconds / f64::from(c.stats.sync_count)),
                bitrate: if media_seconds > 0.0 {
                    (c.stats.bytes as f64 * 8.0 / media_seconds).round() as u64
                } else {
                    0
                },
                width: video.then_some(u32::from(t.codec.width)),
                height: video.then_some(u32::from(t.codec.height)),
                frame_rate: frame_rate_string(c),
                sample_rate: (!video).then_some(t.codec.sample_rate),
                channels: (!video).then_some(t.codec.channels),
                language: t.language.clone(),
                start,
                planned_segments: o.plan.segments.len() as u32,
            }
        })
        .collect();
    Ok(MediaInfo {
        file: input.name().to_string(),
        size: input.source().len(),
        duration,
        tracks,
        warnings: p.warnings,
    })
}
