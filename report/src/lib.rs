//! A quality report of a written presentation, drawn from the files themselves: each
//! segment's size, duration, keyframe and presentation time is read from its boxes and
//! set against what the MPD declares (`@bandwidth`, the SegmentTimeline, the `sidx`).
//! Used by `dashpack report` and `dashpack preview`; the report never fails on a broken
//! presentation, it lists what is wrong with it.

mod fragment;
mod html;
mod manifest;

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Component, Path, PathBuf};

use serde::Serialize;

use dashpack::{Error, Malformed, Result, layout};
use fragment::{BoxProblem, InitFacts, SegmentFacts};
use manifest::{AdaptationSet, SegmentTemplate};

/// An MPD larger than this is not read (dashpack's are kilobytes).
const MAX_MPD_BYTES: u64 = 16 << 20;
/// Init segments and `sidx` boxes larger than this are not read.
const MAX_HEADER_BYTES: u64 = 16 << 20;
/// A media segment larger than this is reported, not read.
const MAX_SEGMENT_BYTES: u64 = 1 << 30;
/// Segments whose durations differ from their Representation's median by more than
/// this fraction (the last one excepted) are called uneven.
const UNEVEN: f64 = 0.5;

/// What a presentation is made of and what is wrong with it.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct Report {
    /// The folder the presentation's files are in.
    pub folder: PathBuf,
    /// The MPD's file name in that folder.
    pub mpd: String,
    /// `master.m3u8` when HLS playlists were written beside the MPD.
    pub hls: Option<String>,
    /// `@mediaPresentationDuration`, seconds.
    pub duration: f64,
    pub min_buffer_time: f64,
    /// `@maxSegmentDuration` when declared, else the longest segment.
    pub target_duration: f64,
    /// ContentProtection scheme URIs found, and whether ClearKey keys are inline.
    pub protection: Vec<String>,
    pub representations: Vec<RepresentationReport>,
    pub findings: Vec<Finding>,
}

#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct RepresentationReport {
    pub id: String,
    /// `video`, `audio` or `text`.
    pub content_type: String,
    pub codecs: String,
    pub language: Option<String>,
    /// What the MPD declares.
    pub bandwidth: u64,
    pub declared_width: Option<u32>,
    pub declared_height: Option<u32>,
    pub declared_frame_rate: Option<String>,
    /// What the files hold.
    pub width: Option<u32>,
    pub height: Option<u32>,
    /// Samples per second over the whole Representation (video).
    pub frame_rate: Option<f64>,
    /// Highest and mean segment bit rate, bits per second.
    pub peak_bitrate: f64,
    pub average_bitrate: f64,
    /// Whether the DASH buffer model (23009-1 5.3.5.2) holds for `@bandwidth` and
    /// `@minBufferTime`: from any segment start, delivering at `@bandwidth` never stalls.
    pub buffer_model_holds: bool,
    /// The first presented sample, seconds on the presentation timeline.
    pub first_presented: Option<f64>,
    /// Files: the init segment (or on-demand file) and the media segments.
    pub init: Option<String>,
    pub segments: Vec<SegmentReport>,
}

#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct SegmentReport {
    /// File path relative to the presentation folder.
    pub file: String,
    /// Byte range inside the file (on-demand subsegments), inclusive.
    pub range: Option<(u64, u64)>,
    /// Start on the presentation timeline and duration, seconds.
    pub start: f64,
    pub duration: f64,
    pub bytes: u64,
    /// Bits per second: `bytes * 8 / duration`.
    pub bitrate: f64,
    pub samples: u32,
    /// When its earliest sample is presented, read from its boxes (seconds).
    pub presented_from: Option<f64>,
    /// The first sample is a sync sample (a keyframe).
    pub keyframe: bool,
    /// Stream access point type (23009-1 4.5.2): from the `sidx` when there is one,
    /// else 1 (the keyframe is presented first), 2 (a later sample is presented
    /// earlier) or 0 (no keyframe first).
    pub sap_type: u8,
    /// Why the segment could not be read, when it could not.
    pub problem: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Severity {
    /// The presentation is broken or contradicts itself.
    Warning,
    /// Worth knowing, not wrong.
    Note,
}

#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct Finding {
    pub severity: Severity,
    pub representation: Option<String>,
    pub message: String,
}

impl Report {
    /// Warnings only (notes left out).
    pub fn warnings(&self) -> impl Iterator<Item = &Finding> {
        self.findings
            .iter()
            .filter(|f| f.severity == Severity::Warning)
    }
}

/// Reads the presentation at `path` (an output folder or its MPD) and every file it
/// names. Fails only when there is no MPD to read; everything else becomes a finding.
pub fn analyze(path: impl AsRef<Path>) -> Result<Report> {
    let path = path.as_ref();
    let mpd_path = if path.is_dir() {
        find_mpd(path)?
    } else {
        path.to_path_buf()
    };
    let folder = mpd_path.parent().map(Path::to_path_buf).unwrap_or_default();
    let name = mpd_path.display().to_string();
    // Over the limit is a limit (not an I/O failure a caller would retry).
    let len = std::fs::metadata(&mpd_path)
        .map_err(|e| io(&name, e))?
        .len();
    if len > MAX_MPD_BYTES {
        return Err(Error::Malformed {
            file: name,
            path: "MPD".into(),
            offset: 0,
            kind: Malformed::Limit {
                what: "the MPD's size",
                limit: MAX_MPD_BYTES,
            },
        });
    }
    let text = read_limited(&mpd_path, MAX_MPD_BYTES).map_err(|e| io(&name, e))?;
    let text = String::from_utf8(text).map_err(|_| Error::Unsupported {
        file: name.clone(),
        what: "the MPD is not UTF-8".into(),
    })?;
    let mpd = manifest::parse(&text).map_err(|e| Error::Unsupported {
        file: name.clone(),
        what: format!("not a readable MPD: {e}"),
    })?;
    let mut report = Report {
        mpd: mpd_path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        hls: folder
            .join(layout::MULTIVARIANT)
            .is_file()
            .then(|| layout::MULTIVARIANT.to_string()),
        folder,
        duration: mpd
            .duration
            .as_deref()
            .and_then(manifest::duration_seconds)
            .unwrap_or(0.0),
        min_buffer_time: mpd
            .min_buffer_time
            .as_deref()
            .and_then(manifest::duration_seconds)
            .unwrap_or(0.0),
        target_duration: 0.0,
        protection: Vec::new(),
        representations: Vec::new(),
        findings: Vec::new(),
    };
    let declared_target = mpd
        .max_segment_duration
        .as_deref()
        .and_then(manifest::duration_seconds);
    if mpd.periods.len() > 1 {
        report.note(
            None,
            format!("{} Periods: only the first is reported", mpd.periods.len()),
        );
    }
    let Some(period) = mpd.periods.first() else {
        report.warn(None, "the MPD has no Period".into());
        return Ok(report);
    };
    let period_s = period
        .duration
        .as_deref()
        .and_then(manifest::duration_seconds)
        .unwrap_or(report.duration);
    for set in &period.adaptation_sets {
        for cp in &set.content_protection {
            if let Some(uri) = &cp.scheme_id_uri
                && !report.protection.contains(uri)
            {
                report.protection.push(uri.clone());
            }
        }
        for rep in &set.representations {
            let r = analyze_representation(&mut report, set, rep, period_s);
            report.representations.push(r);
        }
    }
    let longest = report
        .representations
        .iter()
        .flat_map(|r| r.segments.iter().map(|s| s.duration))
        .fold(0.0, f64::max);
    report.target_duration = declared_target.unwrap_or(longest);
    check_durations(&mut report, declared_target);
    check_sync(&mut report);
    Ok(report)
}

fn find_mpd(dir: &Path) -> Result<PathBuf> {
    let preferred = dir.join(layout::DEFAULT_MPD);
    if preferred.is_file() {
        return Ok(preferred);
    }
    let entries = std::fs::read_dir(dir).map_err(|e| io(dir.display().to_string(), e))?;
    let mut mpds: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "mpd"))
        .collect();
    mpds.sort();
    mpds.into_iter().next().ok_or_else(|| {
        io(
            dir.display().to_string(),
            std::io::Error::new(std::io::ErrorKind::NotFound, "no .mpd file in this folder"),
        )
    })
}

fn read_limited(path: &Path, limit: u64) -> std::io::Result<Vec<u8>> {
    let file = File::open(path)?;
    let len = file.metadata()?.len();
    if len > limit {
        return Err(std::io::Error::other(format!(
            "{len} bytes, over the {limit}-byte limit"
        )));
    }
    let mut out = Vec::with_capacity(len as usize);
    file.take(limit).read_to_end(&mut out)?;
    Ok(out)
}

fn read_range(path: &Path, first: u64, last: u64, limit: u64) -> std::io::Result<Vec<u8>> {
    let n = last - first + 1;
    if n > limit {
        return Err(std::io::Error::other(format!(
            "{n} bytes, over the {limit}-byte limit"
        )));
    }
    let mut file = File::open(path)?;
    file.seek(SeekFrom::Start(first))?;
    let mut out = Vec::with_capacity(n as usize);
    file.take(n).read_to_end(&mut out)?;
    if (out.len() as u64) < n {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            format!(
                "bytes {first}-{last} asked, the file ends at byte {}",
                first + out.len() as u64
            ),
        ));
    }
    Ok(out)
}

/// A name from the MPD as a path inside the folder; URLs, absolute paths and `..` are
/// not followed.
fn local(folder: &Path, name: &str) -> Option<PathBuf> {
    if name.contains("://") {
        return None;
    }
    let rel = Path::new(name);
    rel.components()
        .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
        .then(|| folder.join(rel))
}

impl Report {
    fn warn(&mut self, rep: Option<&str>, message: String) {
        self.findings.push(Finding {
            severity: Severity::Warning,
            representation: rep.map(str::to_string),
            message,
        });
    }

    fn note(&mut self, rep: Option<&str>, message: String) {
        self.findings.push(Finding {
            severity: Severity::Note,
            representation: rep.map(str::to_string),
            message,
        });
    }
}

fn analyze_representation(
    report: &mut Report,
    set: &AdaptationSet,
    rep: &manifest::Representation,
    period_s: f64,
) -> RepresentationReport {
    let id = rep.id.clone().unwrap_or_default();
    let mime = rep
        .mime_type
        .as_deref()
        .or(set.mime_type.as_deref())
        .unwrap_or("");
    let content_type = set
        .content_type
        .clone()
        .unwrap_or_else(|| mime.split('/').next().unwrap_or("").to_string());
    let mut out = RepresentationReport {
        id: id.clone(),
        content_type,
        codecs: rep
            .codecs
            .clone()
            .or_else(|| set.codecs.clone())
            .unwrap_or_default(),
        language: set.lang.clone(),
        bandwidth: rep.bandwidth.unwrap_or(0),
        declared_width: rep.width,
        declared_height: rep.height,
        declared_frame_rate: rep.frame_rate.clone(),
        width: None,
        height: None,
        frame_rate: None,
        peak_bitrate: 0.0,
        average_bitrate: 0.0,
        buffer_model_holds: true,
        first_presented: None,
        init: None,
        segments: Vec::new(),
    };
    let template = rep
        .segment_template
        .as_ref()
        .or(set.segment_template.as_ref());
    let facts = if let Some(template) = template {
        from_template(report, &mut out, template, period_s)
    } else if let Some(base) = &rep.segment_base {
        from_segment_base(report, &mut out, rep.base_url.as_deref(), base)
    } else if let Some(url) = &rep.base_url {
        // A sidecar (WebVTT): one file, no segments.
        match local(&report.folder, url) {
            Some(p) if p.is_file() => {}
            Some(_) => report.warn(Some(&id), format!("{url} is missing")),
            None => report.note(Some(&id), format!("{url} is not a local file; not checked")),
        }
        out.init = Some(url.clone());
        return out;
    } else {
        report.warn(
            Some(&id),
            "no SegmentTemplate, SegmentBase or BaseURL".into(),
        );
        return out;
    };
    if let Some(init) = facts {
        summarise(report, &mut out, &init);
    }
    out
}

/// The init facts and segments of a SegmentTemplate Representation.
fn from_template(
    report: &mut Report,
    out: &mut RepresentationReport,
    template: &SegmentTemplate,
    period_s: f64,
) -> Option<InitFacts> {
    let id = out.id.clone();
    let planned = match manifest::planned_segments(template, period_s) {
        Ok(p) => p,
        Err(e) => {
            report.warn(Some(&id), format!("SegmentTemplate: {e}"));
            return None;
        }
    };
    let timescale = f64::from(template.timescale.unwrap_or(1).max(1));
    let pto = template.presentation_time_offset.unwrap_or(0);
    let expand = |t: &str, n: u64, time: u64| manifest::expand(t, &id, out.bandwidth, n, time);
    let init_name = match template.initialization.as_deref().map(|t| expand(t, 0, 0)) {
        Some(Ok(n)) => n,
        Some(Err(e)) => {
            report.warn(Some(&id), format!("@initialization: {e}"));
            return None;
        }
        None => {
            report.warn(Some(&id), "SegmentTemplate has no @initialization".into());
            return None;
        }
    };
    out.init = Some(init_name.clone());
    let init = read_init_file(report, &id, &init_name, None)?;
    let Some(media) = template.media.as_deref() else {
        report.warn(Some(&id), "SegmentTemplate has no @media".into());
        return Some(init);
    };
    for p in planned {
        let file = match expand(media, p.number, p.time) {
            Ok(f) => f,
            Err(e) => {
                report.warn(Some(&id), format!("@media: {e}"));
                return Some(init);
            }
        };
        let mut seg = SegmentReport {
            file: file.clone(),
            range: None,
            start: (p.time as f64 - pto as f64) / timescale,
            duration: p.duration as f64 / timescale,
            bytes: 0,
            bitrate: 0.0,
            samples: 0,
            presented_from: None,
            keyframe: false,
            sap_type: 0,
            problem: None,
        };
        let Some(path) = local(&report.folder, &file) else {
            seg.problem = Some("not a local file".into());
            out.segments.push(seg);
            continue;
        };
        match read_limited(&path, MAX_SEGMENT_BYTES) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                seg.problem = Some("missing".into())
            }
            Err(e) => seg.problem = Some(e.to_string()),
            Ok(data) => {
                seg.bytes = data.len() as u64;
                fill(
                    &mut seg,
                    fragment::read_segment(&data, 0, &init),
                    &init,
                    None,
                    timescale,
                    pto,
                );
            }
        }
        out.segments.push(seg);
    }
    Some(init)
}

fn read_init_file(
    report: &mut Report,
    id: &str,
    name: &str,
    range: Option<(u64, u64)>,
) -> Option<InitFacts> {
    let Some(path) = local(&report.folder, name) else {
        report.note(Some(id), format!("{name} is not a local file; not checked"));
        return None;
    };
    let data = match range {
        Some((a, b)) => read_range(&path, a, b, MAX_HEADER_BYTES),
        None => read_limited(&path, MAX_HEADER_BYTES),
    };
    let data = match data {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            report.warn(Some(id), format!("init segment {name} is missing"));
            return None;
        }
        Err(e) => {
            report.warn(Some(id), format!("init segment {name}: {e}"));
            return None;
        }
    };
    match fragment::read_init(&data) {
        Ok(f) => Some(f),
        Err(e) => {
            report.warn(
                Some(id),
                format!(
                    "init segment {name}: {} at byte {}: {}",
                    e.path, e.offset, e.what
                ),
            );
            None
        }
    }
}

/// The segment's facts from its boxes; `sidx` gives its SAP type when there is one.
fn fill(
    seg: &mut SegmentReport,
    facts: std::result::Result<SegmentFacts, BoxProblem>,
    init: &InitFacts,
    sidx_sap: Option<u8>,
    mpd_timescale: f64,
    pto: u64,
) {
    let facts = match facts {
        Ok(f) => f,
        Err(e) => {
            let path = if e.path.is_empty() {
                String::new()
            } else {
                format!("{} ", e.path)
            };
            seg.problem = Some(format!("{path}at byte {}: {}", e.offset, e.what));
            return;
        }
    };
    let ts = f64::from(init.timescale.max(1));
    seg.samples = facts.samples;
    seg.keyframe = facts.starts_with_sync;
    seg.sap_type = sidx_sap.unwrap_or(match (facts.starts_with_sync, facts.first_is_earliest) {
        (false, _) => 0,
        (true, true) => 1,
        (true, false) => 2,
    });
    // The MPD's start and duration are in presentation time; the samples' decode
    // durations may differ from it by the composition offsets at the boundaries, so
    // the samples are checked against the start, which must be the earliest
    // presentation time (23009-1 5.3.9.6), to within a millisecond.
    if let Some(e) = facts.earliest_presentation {
        let start = e as f64 / ts - pto as f64 / mpd_timescale;
        seg.presented_from = Some(start);
        if (start - seg.start).abs() > 0.001 {
            seg.problem = Some(format!(
                "its first sample is presented at {start:.3} s, the MPD says the segment starts at {:.3} s",
                seg.start
            ));
        }
    }
    if facts.sample_bytes > facts.mdat_bytes {
        seg.problem = Some(format!(
            "its trun describes {} bytes of samples, its mdat holds {}",
            facts.sample_bytes, facts.mdat_bytes
        ));
    }
}

/// The on-demand file of a SegmentBase Representation, split by its `sidx`.
fn from_segment_base(
    report: &mut Report,
    out: &mut RepresentationReport,
    base_url: Option<&str>,
    base: &manifest::SegmentBase,
) -> Option<InitFacts> {
    let id = out.id.clone();
    let Some(name) = base_url else {
        report.warn(Some(&id), "SegmentBase without a BaseURL".into());
        return None;
    };
    out.init = Some(name.to_string());
    let init_range = base
        .initialization
        .as_ref()
        .and_then(|i| i.range.as_deref())
        .and_then(manifest::byte_range);
    let init = read_init_file(report, &id, name, init_range)?;
    let Some(index) = base.index_range.as_deref().and_then(manifest::byte_range) else {
        report.warn(Some(&id), "SegmentBase has no readable @indexRange".into());
        return Some(init);
    };
    let path = local(&report.folder, name)?;
    let sidx = match read_range(&path, index.0, index.1, MAX_HEADER_BYTES)
        .map_err(|e| e.to_string())
        .and_then(|d| {
            fragment::read_sidx(&d, index.0)
                .map_err(|e| format!("{} at byte {}: {}", e.path, e.offset, e.what))
        }) {
        Ok(Some(s)) => s,
        Ok(None) => {
            report.warn(
                Some(&id),
                format!("{name}: no sidx in @indexRange {}-{}", index.0, index.1),
            );
            return Some(init);
        }
        Err(e) => {
            report.warn(Some(&id), format!("{name}: sidx: {e}"));
            return Some(init);
        }
    };
    let file_len = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    let pto = base.presentation_time_offset.unwrap_or(0);
    let mpd_timescale = f64::from(base.timescale.unwrap_or(sidx.timescale).max(1));
    let mut offset = sidx.first_byte;
    let mut time = sidx.earliest_presentation_time;
    for r in &sidx.references {
        let last = offset + u64::from(r.size).max(1) - 1;
        let mut seg = SegmentReport {
            file: name.to_string(),
            range: Some((offset, last)),
            start: (time as f64 - pto as f64) / f64::from(sidx.timescale),
            duration: f64::from(r.duration) / f64::from(sidx.timescale),
            bytes: u64::from(r.size),
            bitrate: 0.0,
            samples: 0,
            presented_from: None,
            keyframe: false,
            sap_type: 0,
            problem: None,
        };
        if last >= file_len {
            seg.problem = Some(format!(
                "the sidx says bytes {offset}-{last}, the file has {file_len}"
            ));
        } else {
            match read_range(&path, offset, last, MAX_SEGMENT_BYTES) {
                Ok(data) => {
                    let sap = r.starts_with_sap.then_some(r.sap_type);
                    fill(
                        &mut seg,
                        fragment::read_segment(&data, offset, &init),
                        &init,
                        sap,
                        mpd_timescale,
                        pto,
                    );
                    seg.problem = seg.problem.take().map(|p| {
                        format!("the sidx's size {} does not match the boxes: {p}", r.size)
                    });
                }
                Err(e) => seg.problem = Some(e.to_string()),
            }
        }
        out.segments.push(seg);
        offset = last + 1;
        time += u64::from(r.duration);
    }
    if offset < file_len {
        report.warn(
            Some(&id),
            format!(
                "{name}: {} bytes after the last subsegment the sidx lists",
                file_len - offset
            ),
        );
    }
    Some(init)
}

/// Rates, frame rate, first presented sample and the per-Representation warnings.
fn summarise(report: &mut Report, out: &mut RepresentationReport, init: &InitFacts) {
    let id = out.id.clone();
    out.width = init.width;
    out.height = init.height;
    let (mut bytes, mut seconds, mut samples) = (0u64, 0.0, 0u64);
    for s in &mut out.segments {
        if s.problem.as_deref() == Some("missing") || s.duration <= 0.0 {
            continue;
        }
        s.bitrate = s.bytes as f64 * 8.0 / s.duration;
        out.peak_bitrate = out.peak_bitrate.max(s.bitrate);
        bytes += s.bytes;
        seconds += s.duration;
        samples += u64::from(s.samples);
    }
    if seconds > 0.0 {
        out.average_bitrate = bytes as f64 * 8.0 / seconds;
        if init.handler == "vide" {
            out.frame_rate = Some(samples as f64 / seconds);
        }
    }
    // Samples before the period start (cut by `@presentationTimeOffset`) are not shown.
    out.first_presented = out
        .segments
        .iter()
        .find_map(|s| s.presented_from)
        .map(|t| t.max(0.0));
    let problems: Vec<String> = out
        .segments
        .iter()
        .filter_map(|s| s.problem.as_ref().map(|p| format!("{}: {p}", s.file)))
        .collect();
    for p in problems.iter().take(20) {
        report.warn(Some(&id), p.clone());
    }
    if problems.len() > 20 {
        report.warn(
            Some(&id),
            format!("and {} more segments with problems", problems.len() - 20),
        );
    }
    if let (Some(dw), Some(w), Some(dh), Some(h)) = (
        out.declared_width,
        out.width,
        out.declared_height,
        out.height,
    ) && (dw, dh) != (w, h)
    {
        report.warn(
            Some(&id),
            format!("the MPD says {dw}x{dh}, the init segment {w}x{h}"),
        );
    }
    if out.bandwidth > 0 {
        let over = out
            .segments
            .iter()
            .filter(|s| s.bitrate > out.bandwidth as f64)
            .count();
        out.buffer_model_holds =
            buffer_model_holds(&out.segments, out.bandwidth as f64, report.min_buffer_time);
        if !out.buffer_model_holds {
            report.warn(
                Some(&id),
                format!(
                    "@bandwidth {} is too low: delivered at that rate with @minBufferTime {} s, playback would stall (peak segment {:.0} bit/s)",
                    out.bandwidth, report.min_buffer_time, out.peak_bitrate
                ),
            );
        } else if over > 0 {
            report.note(
                Some(&id),
                format!(
                    "{over} segment(s) over @bandwidth {} (peak {:.0} bit/s); the buffer model holds with @minBufferTime {} s",
                    out.bandwidth, out.peak_bitrate, report.min_buffer_time
                ),
            );
        }
    }
}

/// For the fuzz target: every reader of untrusted bytes the report has. Not a stable API.
#[doc(hidden)]
pub fn fuzz_parsers(data: &[u8]) -> usize {
    let mut n = 0;
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(mpd) = manifest::parse(text)
    {
        for set in mpd.periods.iter().flat_map(|p| &p.adaptation_sets) {
            for rep in &set.representations {
                let Some(t) = rep
                    .segment_template
                    .as_ref()
                    .or(set.segment_template.as_ref())
                else {
                    continue;
                };
                for p in manifest::planned_segments(t, 3600.0)
                    .unwrap_or_default()
                    .iter()
                    .take(100)
                {
                    let media = t.media.as_deref().unwrap_or("");
                    n += manifest::expand(media, "r", 1, p.number, p.time).map_or(0, |s| s.len());
                }
            }
        }
    }
    let init = fragment::read_init(data).unwrap_or_default();
    n += fragment::read_segment(data, 0, &init).map_or(0, |f| f.samples as usize);
    n += fragment::read_sidx(data, 0)
        .ok()
        .flatten()
        .map_or(0, |s| s.references.len());
    n
}

/// 23009-1 5.3.5.2 over the segments as the files have them: starting at any segment
/// with `min_buffer` seconds buffered, delivering at `bandwidth` never stalls. With C
/// the bits before a segment and t its start, for every j:
/// max_j (C_{j+1} - rate t_j) - min_{i<=j} (C_i - rate t_i) <= rate * min_buffer.
/// A millionth of a second's worth of bits is forgiven for the rounding of durations
/// read back from the MPD. (The packager's writer keeps a model of its own; this one
/// checks what it wrote.)
fn buffer_model_holds(segments: &[SegmentReport], bandwidth: f64, min_buffer: f64) -> bool {
    let slack = 1e-6 * bandwidth;
    let (mut start, mut bits, mut lowest) = (0.0f64, 0.0f64, f64::INFINITY);
    for s in segments {
        lowest = lowest.min(bits - bandwidth * start);
        bits += s.bytes as f64 * 8.0;
        if bits - bandwidth * start - lowest > bandwidth * min_buffer + slack {
            return false;
        }
        start += s.duration;
    }
    true
}

fn io(context: impl Into<String>, source: std::io::Error) -> Error {
    Error::Io {
        context: context.into(),
        source,
    }
}

/// Durations: uneven segments, and segments longer than `@maxSegmentDuration`.
fn check_durations(report: &mut Report, declared: Option<f64>) {
    let mut found = Vec::new();
    for r in &report.representations {
        let mut d: Vec<f64> = r
            .segments
            .iter()
            .map(|s| s.duration)
            .filter(|d| *d > 0.0)
            .collect();
        if d.len() < 3 {
            continue;
        }
        d.sort_by(f64::total_cmp);
        let median = d[d.len() / 2];
        let last = r.segments.len() - 1;
        let uneven: Vec<usize> = r
            .segments
            .iter()
            .enumerate()
            .filter(|(i, s)| {
                *i != last && s.duration > 0.0 && (s.duration - median).abs() > UNEVEN * median
            })
            .map(|(i, _)| i)
            .collect();
        if !uneven.is_empty() {
            found.push((
                r.id.clone(),
                Severity::Warning,
                format!(
                    "uneven segment durations: {} of {} differ from the median {:.3} s by more than {:.0}% (first: {})",
                    uneven.len(),
                    r.segments.len(),
                    median,
                    UNEVEN * 100.0,
                    r.segments[uneven[0]].file
                ),
            ));
        }
        if let Some(max) = declared
            && let Some(s) = r.segments.iter().find(|s| s.duration > max + 0.001)
        {
            found.push((
                r.id.clone(),
                Severity::Warning,
                format!(
                    "{} lasts {:.3} s, over @maxSegmentDuration {max} s",
                    s.file, s.duration
                ),
            ));
        }
    }
    for (id, severity, message) in found {
        report.findings.push(Finding {
            severity,
            representation: Some(id),
            message,
        });
    }
}

/// Keyframes at segment starts and the audio/video offset of the first samples.
fn check_sync(report: &mut Report) {
    let mut found = Vec::new();
    for r in &report.representations {
        let missing = r
            .segments
            .iter()
            .filter(|s| s.problem.is_none() && s.samples > 0 && !s.keyframe)
            .count();
        if missing > 0 {
            found.push(Finding {
                severity: Severity::Warning,
                representation: Some(r.id.clone()),
                message: format!("{missing} segment(s) do not start with a keyframe: players cannot switch or seek there"),
            });
        }
    }
    let first = |kind: &str| {
        report
            .representations
            .iter()
            .filter(|r| r.content_type == kind)
            .filter_map(|r| r.first_presented)
            .reduce(f64::min)
    };
    if let (Some(v), Some(a)) = (first("video"), first("audio")) {
        let offset = (a - v) * 1000.0;
        found.push(Finding {
            // The packager keeps the input's timing: an offset is the input's, not a fault.
            severity: Severity::Note,
            representation: None,
            message: format!(
                "first video sample presented at {v:.3} s, first audio sample at {a:.3} s (audio {} video by {:.1} ms)",
                if offset >= 0.0 { "after" } else { "before" },
                offset.abs()
            ),
        });
    }
    report.findings.extend(found);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(bytes: u64, duration: f64) -> SegmentReport {
        SegmentReport {
            file: String::new(),
            range: None,
            start: 0.0,
            duration,
            bytes,
            bitrate: 0.0,
            samples: 1,
            presented_from: None,
            keyframe: true,
            sap_type: 1,
            problem: None,
        }
    }

    #[test]
    fn buffer_model() {
        // 1 s segments of 1000 bits at 1000 bit/s: each arrives as it is due when one
        // second is buffered first.
        let even = vec![seg(125, 1.0); 5];
        assert!(buffer_model_holds(&even, 1000.0, 1.0));
        assert!(!buffer_model_holds(&even, 999.0, 1.0));
        assert!(!buffer_model_holds(&even, 1000.0, 0.5));
        // One segment of twice the rate needs two seconds of buffer when started there.
        let mut peak = even.clone();
        peak[3] = seg(250, 1.0);
        assert!(!buffer_model_holds(&peak, 1000.0, 1.5));
        assert!(buffer_model_holds(&peak, 1000.0, 2.0));
        // Brute force over every start agrees.
        for bw in [900.0, 1000.0, 1200.0, 1500.0] {
            for buf in [0.0, 0.5, 1.0, 2.0] {
                let brute = (0..peak.len()).all(|i| {
                    let (mut bits, mut due) = (0.0, buf);
                    peak[i..].iter().all(|s| {
                        bits += s.bytes as f64 * 8.0;
                        let ok = bits / bw <= due + 1e-6;
                        due += s.duration;
                        ok
                    })
                });
                assert_eq!(
                    buffer_model_holds(&peak, bw, buf),
                    brute,
                    "bw {bw} buffer {buf}"
                );
            }
        }
    }
}
