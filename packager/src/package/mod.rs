//! The whole flow: open every input, put all tracks on one timeline, plan the cuts,
//! build the tracks in parallel, then write the MPD last.

use std::path::Path;

use rayon::prelude::*;

mod captions;
mod hls_text;
mod prepare;
mod protection;

use prepare::*;
use protection::*;

use crate::codec::text::stpp_codecs;
use crate::described::{ImageInput, RepInput, RepProtection, TextInput};
use crate::hls;
use crate::layout;
use crate::layout::{ContentType, Timeline};
use crate::mp4::write::stpp;
use crate::mpd;
use crate::options::{Control, Options, RunControl};
use crate::presentation::{MediaInfo, Presentation, Representation, TrackInfo};
use crate::segment::build::{BuiltTrack, TrackJob, TrackProtection, build_track};
use crate::sink::{DirSink, Sink};
use crate::source::Input;
use crate::{Error, Result};

fn rep_input<'a>(
    p: &'a Prepared,
    o: &'a OutTrack,
    built: &'a BuiltTrack,
    protection: Option<RepProtection<'a>>,
    captions: &'a [(String, String)],
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
        slot: if t.kind == ContentType::Audio {
            p.tracks
                .iter()
                .take_while(|x| !std::ptr::eq(*x, o))
                .filter(|x| {
                    let xt = &p.checked(x).track;
                    x.input == o.input && xt.kind == ContentType::Audio && xt.language == t.language
                })
                .count()
        } else {
            0
        },
        timescale: t.timescale,
        pto: o.timing.pto,
        segments: &built.segments,
        until: t.edit.end.and_then(|end| {
            let period = o.timing.period_time(0, end - t.start_dts as i64);
            u64::try_from(period + o.timing.pto as i64).ok()
        }),
        sap: built.sap,
        tolerance: half_frame(c),
        protection,
        on_demand: built.index_range.map(|r| (built.init_bytes, r)),
        captions,
        role: t.role.as_deref(),
    }
}

/// Package `inputs` into `sink`: init and media segments for every audio and video
/// track, subtitles, then the manifests, the MPD last. `run` reports progress and can
/// stop the call ([`RunControl::default`] for neither).
///
/// ```
/// use dashpack::{Input, MemorySink, Options, RunControl};
///
/// let input = Input::open("../fixtures/h264_aac.mp4")?;
/// let sink = MemorySink::new();
/// let presentation = dashpack::package(&[input], &sink, &Options::default(), &RunControl::default())?;
/// assert!(sink.into_files().contains_key(&presentation.mpd));
/// # Ok::<(), dashpack::Error>(())
/// ```
pub fn package(
    inputs: &[Input],
    sink: &dyn Sink,
    options: &Options,
    run: &RunControl,
) -> Result<Presentation> {
    let mut p = prepare(inputs, options, Some(run))?;
    let mut warnings = std::mem::take(&mut p.warnings);
    let protections = protections(&p, inputs, options.encryption.as_ref(), &mut warnings)?;
    let ctl = Control::new(run, p.tracks.iter().map(|o| p.checked(o).stats.bytes).sum());
    ctl.check_cancel()?;
    let built = build_tracks(&p, inputs, &protections, options, sink, &ctl)?;
    ctl.check_cancel()?;

    let laurl = clearkey_laurl(options.encryption.as_ref(), &protections);
    let named = caption_channels(&p, &built, options, &mut warnings);
    let reps: Vec<RepInput<'_>> = p
        .tracks
        .iter()
        .zip(&built)
        .zip(protections.iter().zip(&named))
        .map(|((o, b), (prot, named))| {
            let prot = prot.as_ref().map(|t| rep_protection(t, &laurl));
            rep_input(&p, o, b, prot, named)
        })
        .collect();
    // Subtitles: the inputs' timed-text tracks (converted to WebVTT), then the sidecar
    // files, each in a folder of its own, published as it is.
    let subtitles: Vec<&crate::Subtitles> = p
        .media
        .iter()
        .flat_map(|m| &m.subtitles)
        .chain(&options.subtitles)
        .collect();
    let mut out = Written::new(sink);
    let tiles = write_thumbnails(&p, &mut out)?;
    let images = image_inputs(&p, &tiles);
    let carried_texts = reps.iter().filter(|r| r.kind == ContentType::Text).count();
    // HLS reads WebVTT against the media times where the presentation starts.
    let hls_start = options.hls.then(|| p.media_start_90k());
    let (text_ids, text_files, text_bytes) =
        write_subtitles(&mut out, &subtitles, carried_texts, hls_start)?;
    let texts: Vec<TextInput<'_>> = subtitles
        .iter()
        .zip(text_ids.iter().zip(&text_files))
        .zip(text_bytes)
        .map(|((sub, (id, file)), bytes)| TextInput {
            id,
            language: sub.language(),
            file,
            bytes,
            ttml: sub.is_ttml(),
            role: sub.role(),
        })
        .collect();
    let carried = carried_text_in_hls(&p, inputs, &reps, options, &mut out)?;
    let manifest = write_manifests(
        &mut out,
        &reps,
        &texts,
        (carried, &subtitles),
        &images,
        options,
    )?;
    let mut representations: Vec<Representation> = p
        .tracks
        .iter()
        .zip(&built)
        .zip(reps.iter().zip(&manifest.bandwidths))
        .map(|((o, b), (r, &bandwidth))| {
            let rep = media_representation(&p, inputs, o, b, r, bandwidth);
            out.files += if b.index_range.is_some() {
                1
            } else {
                1 + b.segments.len() as u64
            };
            out.bytes += rep.bytes;
            rep
        })
        .collect();
    for (t, sub) in texts.iter().zip(&subtitles) {
        representations.push(text_representation(t, sub, manifest.duration));
    }
    for (image, t) in images.iter().zip(&tiles) {
        representations.push(image_representation(image, t, manifest.duration));
    }
    Ok(Presentation {
        mpd: options.mpd_name.clone(),
        duration: manifest.duration,
        min_buffer_time: manifest.min_buffer_time,
        representations,
        files: out.files,
        bytes: out.bytes,
        warnings,
    })
}

/// Each track's closed-caption channels with their languages; a channel the options
/// name that no video carries is a warning.
fn caption_channels(
    p: &Prepared,
    built: &[BuiltTrack],
    options: &Options,
    warnings: &mut Vec<String>,
) -> Vec<Vec<(String, String)>> {
    let all = built.iter().fold(
        Default::default(),
        |a: crate::codec::captions::Captions, b| a.union(b.captions),
    );
    captions::unfound(options, all, warnings);
    p.tracks
        .iter()
        .zip(built)
        .map(|(o, b)| captions::named(b.captions, options, &p.checked(o).track.language))
        .collect()
}

/// Every track's segments, in parallel.
fn build_tracks(
    p: &Prepared,
    inputs: &[Input],
    protections: &[Option<TrackProtection>],
    options: &Options,
    sink: &dyn Sink,
    ctl: &Control,
) -> Result<Vec<BuiltTrack>> {
    // Each call gets its own threads, one per track: concurrent calls (threads of a
    // Python program, jobs of the worker) then never wait on each other's tracks. The
    // rungs of a ladder share one decoder and wait on it, so each needs a thread of its
    // own whatever the count.
    let threads = if options.ladder.is_some() {
        p.tracks.len().max(1)
    } else {
        p.tracks.len().clamp(1, 16)
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("dashpack-track-{i}"))
        .build()
        .map_err(|e| Error::internal(format!("cannot start packaging threads: {e}")))?;
    pool.install(|| {
        p.tracks
            .par_iter()
            .zip(protections)
            .map(|(o, protection)| {
                let checked = p.checked(o);
                let job = TrackJob {
                    input: &inputs[o.input],
                    track: checked,
                    timing: o.timing,
                    plan: &o.plan,
                    rep_id: &o.rep_id,
                    protection: protection.as_ref(),
                    captions: &o.captions,
                };
                build_track(&job, options.timeline, options.profile, sink, ctl)
            })
            .collect::<Result<_>>()
    })
}

/// The sink, counting the files and bytes written through it.
struct Written<'s> {
    sink: &'s dyn Sink,
    files: u64,
    bytes: u64,
}

impl<'s> Written<'s> {
    fn new(sink: &'s dyn Sink) -> Self {
        Written {
            sink,
            files: 0,
            bytes: 0,
        }
    }

    fn put(&mut self, path: &str, data: &[u8]) -> Result<()> {
        self.sink
            .put(path, data)
            .map_err(|e| Error::io(format!("cannot write {path}"), e))?;
        self.files += 1;
        self.bytes += data.len() as u64;
        Ok(())
    }
}

/// Thumbnail tiles as written.
struct WrittenTiles {
    /// Which of the ladders' thumbnail sets.
    set: usize,
    id: String,
    media: String,
    count: usize,
    bytes: u64,
    largest: u64,
}

/// Every ladder's thumbnail tiles (`image-N/tile-K.jpg`), once its rungs are written.
fn write_thumbnails(p: &Prepared, out: &mut Written<'_>) -> Result<Vec<WrittenTiles>> {
    let mut written = Vec::new();
    for (k, set) in p.thumbnails.iter().enumerate() {
        let tiles = set.take_tiles().map_err(|why| Error::UncarriedTrack {
            file: set.file.clone(),
            track: set.track,
            handler: "vide".into(),
            codec: "jpeg".into(),
            reason: format!("cannot make the thumbnails: {why}"),
        })?;
        if tiles.len() != set.tile_count() {
            return Err(Error::internal(format!(
                "{} thumbnail tiles made of {}",
                tiles.len(),
                set.tile_count()
            )));
        }
        if tiles.is_empty() {
            continue;
        }
        let id = layout::representation_id(ContentType::Image, written.len() + 1);
        for (k, tile) in tiles.iter().enumerate() {
            out.put(&layout::tile_path(&id, k + 1), tile)?;
        }
        written.push(WrittenTiles {
            set: k,
            media: layout::tile_template(&id),
            id,
            count: tiles.len(),
            bytes: tiles.iter().map(|t| t.len() as u64).sum(),
            largest: tiles.iter().map(|t| t.len() as u64).max().unwrap_or(0),
        });
    }
    Ok(written)
}

/// The subtitle files, each in a folder of its own (numbered after the `carried` text
/// tracks carried as fMP4): their ids, paths and sizes. With HLS, WebVTT gets the
/// `X-TIMESTAMP-MAP` of `hls_start`.
fn write_subtitles(
    out: &mut Written<'_>,
    subtitles: &[&crate::Subtitles],
    carried: usize,
    hls_start: Option<u64>,
) -> Result<(Vec<String>, Vec<String>, Vec<u64>)> {
    let ids: Vec<String> = (1..=subtitles.len())
        .map(|i| layout::representation_id(ContentType::Text, carried + i))
        .collect();
    let files: Vec<String> = ids
        .iter()
        .zip(subtitles)
        .map(|(id, sub)| layout::subtitle_path(id, sub.is_ttml()))
        .collect();
    let mut sizes = Vec::with_capacity(files.len());
    for (sub, path) in subtitles.iter().zip(&files) {
        let text = match hls_start {
            Some(start) if !sub.is_ttml() => hls::timestamp_mapped(sub.text(), start).into(),
            _ => std::borrow::Cow::Borrowed(sub.text()),
        };
        out.put(path, text.as_bytes())?;
        sizes.push(text.len() as u64);
    }
    Ok((ids, files, sizes))
}

fn image_inputs<'a>(p: &'a Prepared, tiles: &'a [WrittenTiles]) -> Vec<ImageInput<'a>> {
    tiles
        .iter()
        .map(|t| ImageInput {
            id: &t.id,
            media: &t.media,
            set: &p.thumbnails[t.set],
            largest: t.largest,
        })
        .collect()
}

/// With HLS, the subtitle renditions of the text carried as fMP4, and the WebVTT files
/// they need written.
fn carried_text_in_hls<'a>(
    p: &Prepared,
    inputs: &[Input],
    reps: &[RepInput<'a>],
    options: &Options,
    out: &mut Written<'_>,
) -> Result<Vec<hls::TextRendition<'a>>> {
    if !options.hls {
        return Ok(Vec::new());
    }
    let (files, renditions) = hls_text::renditions(p, inputs, reps, p.media_start_90k())?;
    for (path, text) in files {
        out.put(&path, text.as_bytes())?;
    }
    Ok(renditions)
}

/// The HLS playlists when asked, then the MPD, last: a reader that finds it finds
/// everything it names.
fn write_manifests(
    out: &mut Written<'_>,
    reps: &[RepInput<'_>],
    texts: &[TextInput<'_>],
    (carried, subtitles): (Vec<hls::TextRendition<'_>>, &[&crate::Subtitles]),
    images: &[ImageInput<'_>],
    options: &Options,
) -> Result<mpd::Written> {
    let written = mpd::write(reps, texts, images, options.timeline)
        .map_err(|e| Error::internal(format!("cannot serialise the MPD: {e}")))?;
    if options.hls {
        // The text tracks carried as fMP4 first, as in the MPD.
        let mut renditions = carried;
        let ttml = ttml_for_hls(out, texts, subtitles, written.duration, options.timeline)?;
        renditions.extend(texts.iter().zip(&ttml).map(|(t, ttml)| match ttml {
            Some((file, codecs)) => hls::TextRendition {
                id: t.id,
                file: Some(file),
                language: t.language,
                role: t.role,
                fmp4_codecs: Some(codecs),
            },
            None => hls::TextRendition {
                id: t.id,
                file: Some(layout::SUBTITLE_FILE),
                language: t.language,
                role: t.role,
                fmp4_codecs: None,
            },
        }));
        for (path, text) in hls::write(reps, &renditions, written.duration, options.timeline) {
            out.put(&path, text.as_bytes())?;
        }
    }
    out.put(&options.mpd_name, written.xml.as_bytes())?;
    Ok(written)
}

/// HLS has no TTML file form: each TTML file is also written as IMSC1 in fMP4 beside
/// it (an init segment and one segment of the whole document, lasting `duration` s).
/// Returns, per text, the segment's file name and its `codecs` for TTML, else `None`.
fn ttml_for_hls(
    out: &mut Written<'_>,
    texts: &[TextInput<'_>],
    subtitles: &[&crate::Subtitles],
    duration: f64,
    timeline: Timeline,
) -> Result<Vec<Option<(String, String)>>> {
    let mut written = Vec::with_capacity(texts.len());
    for (t, sub) in texts.iter().zip(subtitles) {
        if !sub.is_ttml() {
            written.push(None);
            continue;
        }
        let init = stpp::init_segment(&sub.ttml_namespaces(), sub.language());
        out.put(&layout::init_path(t.id), &init)?;
        let ms = (duration * f64::from(stpp::TIMESCALE)).ceil() as u32;
        let segment = stpp::media_segment(sub.text().as_bytes(), ms);
        out.put(&layout::media_path(t.id, timeline, 1, 0), &segment)?;
        let codecs = stpp_codecs(&sub.ttml_root().to_ascii_lowercase());
        written.push(Some((layout::segment_file_name(timeline, 1, 0), codecs)));
    }
    Ok(written)
}

/// What the caller is told of one audio or video Representation.
fn media_representation(
    p: &Prepared,
    inputs: &[Input],
    o: &OutTrack,
    b: &BuiltTrack,
    r: &RepInput<'_>,
    bandwidth: u64,
) -> Representation {
    let c = p.checked(o);
    let t = &c.track;
    let index_bytes = b.index_range.map_or(0, |(first, last)| last - first + 1);
    let rep_bytes = b.init_bytes + index_bytes + b.segments.iter().map(|s| s.bytes).sum::<u64>();
    let video = t.kind == ContentType::Video;
    Representation {
        id: o.rep_id.clone(),
        input: inputs[o.input].name().to_string(),
        track_id: t.id,
        content_type: t.kind,
        codecs: t.codec.codecs.clone(),
        bandwidth,
        width: video.then_some(u32::from(t.codec.width)),
        height: video.then_some(u32::from(t.codec.height)),
        frame_rate: frame_rate_string(c),
        sample_rate: (t.kind == ContentType::Audio).then_some(t.codec.sample_rate),
        channels: (t.kind == ContentType::Audio).then_some(t.codec.channels),
        language: t.language.clone(),
        segments: b.segments.len() as u32,
        bytes: rep_bytes,
        max_segment_duration: r.max_segment_duration(),
        captions: r.captions.iter().map(|(c, l)| format!("{c}={l}")).collect(),
    }
}

/// What the caller is told of one subtitle Representation.
fn text_representation(t: &TextInput<'_>, sub: &crate::Subtitles, duration: f64) -> Representation {
    Representation {
        id: t.id.to_string(),
        input: sub.name().to_string(),
        track_id: 0,
        content_type: ContentType::Text,
        codecs: String::new(),
        bandwidth: mpd::text_bandwidth(t.bytes, duration),
        width: None,
        height: None,
        frame_rate: None,
        sample_rate: None,
        channels: None,
        language: t.language.to_string(),
        segments: 0,
        bytes: t.bytes,
        max_segment_duration: 0.0,
        captions: Vec::new(),
    }
}

/// What the caller is told of one thumbnail Representation.
fn image_representation(image: &ImageInput<'_>, t: &WrittenTiles, duration: f64) -> Representation {
    let set = image.set;
    Representation {
        id: t.id.clone(),
        input: set.file.clone(),
        track_id: set.track,
        content_type: ContentType::Image,
        codecs: String::new(),
        bandwidth: mpd::image_bandwidth(image),
        width: Some(set.width * set.columns),
        height: Some(set.height * set.rows),
        frame_rate: None,
        sample_rate: None,
        channels: None,
        language: "und".into(),
        segments: t.count as u32,
        bytes: t.bytes,
        max_segment_duration: {
            let (num, den) = set.tile_duration();
            (num as f64 / den as f64).min(duration)
        },
        captions: Vec::new(),
    }
}

/// Package local files into the folder `out_dir`, which appears whole or not at all
/// (`Options::force` replaces an existing one). For inputs opened with settings of
/// their own, or with progress and cancellation, give [`package`] a [`DirSink`] and
/// commit it.
///
/// ```no_run
/// let presentation = dashpack::package_files(&["input.mp4"], "out", &dashpack::Options::default())?;
/// println!("{}: {} Representations", presentation.mpd, presentation.representations.len());
/// # Ok::<(), dashpack::Error>(())
/// ```
pub fn package_files<P: AsRef<Path>>(
    inputs: &[P],
    out_dir: impl AsRef<Path>,
    options: &Options,
) -> Result<Presentation> {
    let inputs: Vec<Input> = inputs.iter().map(Input::open).collect::<Result<_>>()?;
    let sink = DirSink::create(out_dir.as_ref(), options.force)?;
    let presentation = package(&inputs, &sink, options, &RunControl::default())?;
    sink.commit()?;
    Ok(presentation)
}

/// Describe the tracks of one input and what [`package`] would make of them, reading
/// only its boxes.
///
/// ```
/// let input = dashpack::Input::open("../fixtures/h264_aac.mp4")?;
/// let info = dashpack::inspect(&input, &dashpack::Options::default())?;
/// assert_eq!(info.tracks.len(), 2);
/// # Ok::<(), dashpack::Error>(())
/// ```
pub fn inspect(input: &Input, options: &Options) -> Result<MediaInfo> {
    let p = prepare(std::slice::from_ref(input), options, None)?;
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
            let video = t.kind == ContentType::Video;
            TrackInfo {
                track_id: t.id,
                content_type: t.kind,
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
                sample_rate: (t.kind == ContentType::Audio).then_some(t.codec.sample_rate),
                channels: (t.kind == ContentType::Audio).then_some(t.codec.channels),
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
