//! One job: from the message body to an uploaded presentation. Decides nothing about
//! acks; it returns what happened and the service acts on it.

mod growing;
mod upload;
pub mod workdir;

use std::collections::HashMap;
use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::config::Config;
use crate::metrics::Metrics;
use crate::storage::{Gcs, StorageError, Upload};
use growing::Growing;
use upload::{UploadSink, upload_all};
use workdir::{LiveDirs, WorkDir};

/// The job message, as the old service took it.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct JobMessage {
    pub resource_id: String,
    pub file_path: String,
}

/// Fixed namespace for the ids derived from messages.
const NAMESPACE: Uuid = Uuid::from_u128(0x6d1f_3b0e_5c2a_4e8f_9a41_d2c7_0b5e_8f13);

/// The output folder and the job id, the same for every delivery of one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ids {
    pub video_id: Uuid,
    pub job_id: Uuid,
}

impl JobMessage {
    /// Parses and validates a body. The error is the text of the failure message.
    pub fn parse(body: &[u8]) -> Result<JobMessage, String> {
        let msg: JobMessage =
            serde_json::from_slice(body).map_err(|e| format!("invalid job message: {e}"))?;
        check_id(&msg.resource_id).map_err(|e| format!("invalid resource_id: {e}"))?;
        check_object_path(&msg.file_path).map_err(|e| format!("invalid file_path: {e}"))?;
        Ok(msg)
    }

    pub fn ids(&self) -> Ids {
        let key = format!("{}\n{}", self.resource_id, self.file_path);
        Ids {
            video_id: Uuid::new_v5(&NAMESPACE, format!("video\n{key}").as_bytes()),
            job_id: Uuid::new_v5(&NAMESPACE, format!("job\n{key}").as_bytes()),
        }
    }
}

fn check_id(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err("empty".into());
    }
    if s.len() > 256 {
        return Err(format!("{} bytes, at most 256", s.len()));
    }
    if s.chars().any(char::is_control) {
        return Err("contains control characters".into());
    }
    Ok(())
}

/// An object name that is a plain relative path: no absolute path, no `.` or `..`
/// component, no empty component, no backslash, no control characters.
pub fn check_object_path(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err("empty".into());
    }
    if s.len() > 1024 {
        return Err(format!("{} bytes, at most 1024", s.len()));
    }
    if s.chars().any(char::is_control) {
        return Err(format!("{s:?} contains control characters"));
    }
    if s.starts_with('/') || s.contains('\\') {
        return Err(format!("{s:?} is not a relative path"));
    }
    if s.split('/').any(|c| c.is_empty() || c == "." || c == "..") {
        return Err(format!("{s:?} has an empty, `.` or `..` component"));
    }
    Ok(())
}

/// How a job ended, before the service acks.
#[derive(Debug)]
pub enum JobError {
    /// The message or its input is bad; retrying cannot help.
    Permanent(String),
    /// Infrastructure trouble that had its retries; the message may be tried again.
    Transient(String),
    /// The worker is stopping; the message goes back to the queue.
    Interrupted,
}

impl From<StorageError> for JobError {
    fn from(e: StorageError) -> Self {
        if e.is_transient() {
            JobError::Transient(e.to_string())
        } else {
            JobError::Permanent(e.to_string())
        }
    }
}

/// The success message, field for field as the old service wrote it.
#[derive(Debug, Serialize, Deserialize)]
pub struct JobResult {
    pub job_id: String,
    pub output_bucket_path: String,
    pub status: String,
    pub video: Video,
    #[serde(rename = "Error")]
    pub error: String,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Video {
    pub encoded_video_folder: String,
    pub resource_id: String,
    pub file_path: String,
}

/// The failure message: the original body as a string, and the error text.
///
/// Both are bounded, so a report always fits under the broker's `max_message_size`
/// whatever the body was (a body of NUL bytes grows sixfold as JSON escapes). A
/// shortened body says so in `message_truncated` and `message_bytes`; normal messages
/// serialise exactly as the old service's did.
#[derive(Debug, Serialize, Deserialize)]
pub struct JobFailure {
    pub message: String,
    pub error: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub message_truncated: bool,
    /// The original body's size in bytes, when it was shortened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_bytes: Option<usize>,
}

pub use crate::limits::{REPORT_BODY_LIMIT, REPORT_ERROR_LIMIT};

impl JobFailure {
    pub fn new(body: &[u8], error: &str) -> JobFailure {
        let text = String::from_utf8_lossy(body);
        let (message, cut) = json_prefix(&text, REPORT_BODY_LIMIT);
        let (error, _) = json_prefix(error, REPORT_ERROR_LIMIT);
        JobFailure {
            message: message.to_string(),
            error: error.to_string(),
            message_truncated: cut,
            message_bytes: cut.then_some(body.len()),
        }
    }

    /// The report as JSON; it cannot fail for these plain fields.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// The longest prefix of `s` whose JSON string escape takes at most `limit` bytes, and
/// whether anything was cut.
fn json_prefix(s: &str, limit: usize) -> (&str, bool) {
    let mut used = 0;
    for (i, c) in s.char_indices() {
        let escaped = match c {
            '"' | '\\' | '\n' | '\r' | '\t' | '\u{8}' | '\u{c}' => 2,
            c if (c as u32) < 0x20 => 6,
            c => c.len_utf8(),
        };
        if used + escaped > limit {
            return (&s[..i], true);
        }
        used += escaped;
    }
    (s, false)
}

pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Shared by every job of one worker process.
pub struct Context {
    pub cfg: Config,
    pub gcs: Gcs,
    pub metrics: Metrics,
    /// One lock per job id in flight: a message redelivered while its first delivery
    /// is still running here (after a lost connection) waits for it instead of
    /// working on the same folder at the same time.
    pub running: std::sync::Mutex<HashMap<Uuid, Arc<tokio::sync::Mutex<()>>>>,
    /// The work folders of this process's jobs in flight.
    pub live_dirs: LiveDirs,
}

impl Context {
    pub fn new(cfg: Config, gcs: Gcs, metrics: Metrics) -> Self {
        Context {
            cfg,
            gcs,
            metrics,
            running: Default::default(),
            live_dirs: LiveDirs::default(),
        }
    }

    pub async fn lock_job(&self, id: Uuid) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = {
            let mut map = self.running.lock().unwrap_or_else(|e| e.into_inner());
            // Drop the locks nobody holds any more.
            map.retain(|_, l| Arc::strong_count(l) > 1);
            map.entry(id).or_default().clone()
        };
        lock.lock_owned().await
    }
}

/// `report.html` of the presentation written to `dir`, uploaded after the MPD. A
/// presentation the report finds broken was already refused by the packager; the report
/// itself failing (a full disk) fails the job like any other upload.
async fn upload_report(ctx: &Context, prefix: &str, dir: PathBuf) -> Result<(), JobError> {
    let html = tokio::task::spawn_blocking(move || {
        dashpack_report::analyze(&dir).map(|r| r.to_html(None))
    })
    .await
    .map_err(|e| JobError::Transient(format!("report task: {e}")))?
    .map_err(|e| JobError::Transient(format!("report: {e}")))?;
    ctx.gcs
        .upload(
            &ctx.cfg.output_bucket,
            Upload {
                name: &format!("{prefix}/report.html"),
                data: Bytes::from(html),
                content_type: "text/html; charset=utf-8",
                cache_control: "public, max-age=60",
            },
        )
        .await?;
    Ok(())
}

/// Logs a state change with the job id and the seconds since the job started.
pub fn state(ids: &Ids, status: &str, started: Instant) {
    tracing::info!(
        job_id = %ids.job_id,
        video_id = %ids.video_id,
        status,
        elapsed_s = started.elapsed().as_secs_f64(),
        "job state"
    );
}

/// Runs one job to an uploaded presentation and returns the success message.
///
/// The stages overlap: the packager reads the input while it downloads (reads wait
/// for their bytes), and segments are uploaded as the packager finishes them.
pub async fn run(ctx: &Context, msg: &JobMessage, ids: Ids) -> Result<JobResult, JobError> {
    let started = Instant::now();
    let created_at = now_rfc3339();
    state(&ids, "STARTING", started);
    // Folders of a worker killed beside this one (same work folder, another process)
    // go now, not at this process's next start.
    let swept = workdir::sweep(&ctx.cfg.work_dir);
    if swept > 0 {
        tracing::info!(removed_work_folders = swept, "dead jobs' folders removed");
    }
    let work = WorkDir::create(&ctx.cfg.work_dir, ids.job_id, &ctx.live_dirs)
        .map_err(|e| JobError::Transient(format!("work folder: {e}")))?;

    state(&ids, "DOWNLOADING", started);
    let bucket = &ctx.cfg.input_bucket;
    let meta = ctx.gcs.metadata(bucket, &msg.file_path).await?;
    let path = work.path.join("input.mp4");
    let local = |e: io::Error| JobError::Transient(format!("{}: {e}", path.display()));
    std::fs::File::create(&path).map_err(local)?;
    let (input, feeder) = Growing::open(&path, meta.size).map_err(local)?;
    let download = async {
        let stage = Instant::now();
        let feeder = feeder;
        let result = ctx
            .gcs
            .download(bucket, &msg.file_path, &path, meta.size, |n| {
                feeder.advance(n)
            })
            .await;
        match &result {
            Ok(_) => {
                feeder.done();
                ctx.metrics.stage("download", stage.elapsed());
                tracing::info!(
                    job_id = %ids.job_id,
                    bytes = meta.size,
                    seconds = stage.elapsed().as_secs_f64(),
                    "downloaded"
                );
            }
            Err(e) => feeder.fail(&e.to_string()),
        }
        result
    };

    let name = format!("gs://{bucket}/{}", msg.file_path);
    let source = dashpack::Input::from_source(name, input);
    let cancel = Arc::new(AtomicBool::new(false));
    // The packager reads and checks the input, then writes segments: the first
    // segment finished marks the change from FRAGMENTING to ENCODING.
    let first_segment: Arc<OnceLock<Instant>> = Arc::default();
    let subtitles = sidecar_subtitles(ctx, bucket, &msg.file_path, &work.path).await?;
    let mut options = dashpack::Options::default()
        .with_segment_duration(ctx.cfg.segment_duration)
        .with_subtitles(subtitles);
    if let Some(ladder) = &ctx.cfg.ladder {
        options = options.with_ladder(ladder.clone());
    }
    let progress = Arc::new(ctx.metrics.job_progress());
    let run = dashpack::RunControl::default()
        .with_cancel(cancel.clone())
        .with_progress({
            let first_segment = first_segment.clone();
            let progress = progress.clone();
            move |p| {
                progress.update(p.bytes_done, p.bytes_total);
                if first_segment.set(Instant::now()).is_ok() {
                    state(&ids, "ENCODING", started);
                }
            }
        });
    let prefix = ids.video_id.to_string();
    let (tx, rx) = mpsc::channel(ctx.cfg.uploads);
    // The report is drawn from the written files: with it on, they are also kept in the
    // job's folder until the job ends.
    let report_dir = ctx.cfg.report.then(|| work.path.join("output"));
    let mpd_name = options.mpd_name.clone();
    let sink = Arc::new(UploadSink::new(tx, &mpd_name, report_dir.clone()));
    let packaging = {
        let sink = sink.clone();
        tokio::task::spawn_blocking(move || {
            state(&ids, "FRAGMENTING", started);
            let stage = Instant::now();
            let result = dashpack::package(&[source], sink.as_ref(), &options, &run);
            sink.close();
            (result, stage)
        })
    };
    let uploads = async {
        let r = upload_all(ctx, &prefix, &mpd_name, rx).await;
        if r.is_err() {
            // Stop the packager early: its output has nowhere to go.
            cancel.store(true, Ordering::Relaxed);
        }
        r
    };
    let (downloaded, packaged, uploaded) = tokio::join!(download, packaging, uploads);
    // The first cause wins: a failed download explains a failed read, a failed upload
    // a cancelled packager.
    downloaded?;
    let uploaded = uploaded?;
    let (presentation, stage) =
        packaged.map_err(|e| JobError::Transient(format!("packager task: {e}")))?;
    let presentation = presentation.map_err(packager_error)?;
    if let Some(first) = first_segment.get() {
        ctx.metrics
            .stage("inspect", first.saturating_duration_since(stage));
    }
    ctx.metrics.stage("package", stage.elapsed());
    tracing::info!(
        job_id = %ids.job_id,
        representations = presentation.representations.len(),
        duration_s = presentation.duration,
        "packaged"
    );

    state(&ids, "UPLOADING", started);
    let stage = Instant::now();
    let mpd = sink
        .take_mpd()
        .ok_or_else(|| JobError::Permanent("the packager wrote no MPD".into()))?;
    let mpd_path = format!("{prefix}/{}", presentation.mpd);
    ctx.gcs
        .upload(
            &ctx.cfg.output_bucket,
            Upload {
                name: &mpd_path,
                data: Bytes::from(mpd),
                content_type: dashpack::layout::FileKind::Mpd.content_type(),
                cache_control: "public, max-age=60",
            },
        )
        .await?;
    let mut files = uploaded + 1;
    if let Some(dir) = report_dir {
        upload_report(ctx, &prefix, dir).await?;
        files += 1;
    }
    ctx.metrics.stage("upload", stage.elapsed());
    tracing::info!(
        job_id = %ids.job_id,
        files,
        bytes = presentation.bytes,
        representations = presentation.representations.len(),
        seconds = started.elapsed().as_secs_f64(),
        "uploaded"
    );
    drop(work);
    Ok(JobResult {
        job_id: ids.job_id.to_string(),
        output_bucket_path: ctx.cfg.output_bucket.clone(),
        status: "COMPLETED".into(),
        video: Video {
            encoded_video_folder: prefix,
            resource_id: msg.resource_id.clone(),
            file_path: msg.file_path.clone(),
        },
        error: String::new(),
        created_at,
        updated_at: now_rfc3339(),
    })
}

/// Sidecar subtitles beside the video: for `dir/name.mp4`, the objects
/// `dir/name.LANG.vtt` (WebVTT), `dir/name.LANG.srt` (SubRip, converted) and
/// `dir/name.LANG.ttml` (TTML), LANG a language tag such as `en` or `pt-BR`; in name
/// order. One that is not what its extension says fails the job rather than being left
/// out.
async fn sidecar_subtitles(
    ctx: &Context,
    bucket: &str,
    video: &str,
    dir: &std::path::Path,
) -> Result<Vec<dashpack::Subtitles>, JobError> {
    let file = video.rsplit('/').next().unwrap_or(video);
    let stem = match file.rfind('.') {
        Some(dot) if dot > 0 => &video[..video.len() - (file.len() - dot)],
        _ => video,
    };
    let prefix = format!("{stem}.");
    let listed = match ctx.gcs.list(bucket, &prefix).await {
        Ok(l) => l,
        // A key that may read objects but not list them (the old service never
        // listed): no sidecars, said once per job, rather than every job failing.
        Err(StorageError::Rejected { status: 403, .. }) => {
            tracing::warn!(
                prefix = %format!("gs://{bucket}/{prefix}"),
                "cannot list the input bucket (403): sidecar subtitles are not looked for"
            );
            return Ok(Vec::new());
        }
        Err(e) => return Err(e.into()),
    };
    let mut subs = Vec::new();
    for (i, o) in listed.into_iter().enumerate() {
        let rest = &o.name[prefix.len()..];
        let Some((lang, ext)) = rest.rsplit_once('.') else {
            continue;
        };
        let tag = !lang.is_empty()
            && lang.len() <= 35
            && lang
                .split('-')
                .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric()));
        if !tag || !matches!(ext, "vtt" | "srt" | "ttml") {
            continue;
        }
        let name = format!("gs://{bucket}/{}", o.name);
        if o.size > SIDECAR_LIMIT {
            return Err(JobError::Permanent(format!(
                "{name}: {} bytes, more than the {SIDECAR_LIMIT} a sidecar subtitle file may have",
                o.size
            )));
        }
        let path = dir.join(format!("sidecar-{i}.{ext}"));
        ctx.gcs
            .download(bucket, &o.name, &path, o.size, |_| {})
            .await?;
        let bytes = std::fs::read(&path)
            .map_err(|e| JobError::Transient(format!("{}: {e}", path.display())))?;
        subs.push(dashpack::Subtitles::from_bytes(name, lang, bytes).map_err(packager_error)?);
    }
    Ok(subs)
}

/// Sidecar subtitles are read whole: a bound well above any real subtitle file.
const SIDECAR_LIMIT: u64 = 16 << 20;

fn packager_error(e: dashpack::Error) -> JobError {
    outcome(e.kind(), e.to_string())
}

/// The one table from error kinds to what becomes of the job: only the operating
/// system's failures may pass when tried again; a bug or a limit never does.
fn outcome(kind: dashpack::ErrorKind, message: String) -> JobError {
    use dashpack::ErrorKind as K;
    match kind {
        K::Io => JobError::Transient(message),
        K::Cancelled => JobError::Interrupted,
        _ => JobError::Permanent(message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every kind's documented outcome (docs/worker.md).
    #[test]
    fn error_kinds_map_to_documented_outcomes() {
        use dashpack::ErrorKind as K;
        for &kind in K::all() {
            let got = outcome(kind, "x".into());
            let want = match kind {
                K::Io => "transient",
                K::Cancelled => "interrupted",
                _ => "permanent",
            };
            let is = match got {
                JobError::Transient(_) => "transient",
                JobError::Interrupted => "interrupted",
                JobError::Permanent(_) => "permanent",
            };
            assert_eq!(is, want, "{kind:?}");
        }
    }

    /// A packager bug (the MPD serialiser failing, say) is not retried until the
    /// delivery limit: it fails the job at once.
    #[test]
    fn an_internal_error_is_permanent() {
        let e = "cannot serialise the MPD";
        let internal = dashpack::Error::Internal { what: e.into() };
        assert_eq!(internal.kind(), dashpack::ErrorKind::Internal);
        assert!(matches!(packager_error(internal), JobError::Permanent(m) if m.contains(e)));
    }

    #[test]
    fn ids_are_stable_and_distinct() {
        let a = JobMessage::parse(br#"{"resource_id":"r1","file_path":"a/b.mp4"}"#).unwrap();
        let b = JobMessage::parse(br#"{"file_path":"a/b.mp4","resource_id":"r1"}"#).unwrap();
        assert_eq!(a.ids(), b.ids());
        assert_ne!(a.ids().video_id, a.ids().job_id);
        let c = JobMessage::parse(br#"{"resource_id":"r2","file_path":"a/b.mp4"}"#).unwrap();
        assert_ne!(a.ids(), c.ids());
        assert_eq!(a.ids().video_id.get_version_num(), 5);
    }

    #[test]
    fn bad_messages_say_why() {
        for (body, want) in [
            (&b"not json"[..], "invalid job message"),
            (br#"{"resource_id":"r"}"#, "missing field `file_path`"),
            (
                br#"{"resource_id":"","file_path":"a.mp4"}"#,
                "invalid resource_id: empty",
            ),
            (
                br#"{"resource_id":"r","file_path":"../etc/passwd"}"#,
                "invalid file_path",
            ),
            (
                br#"{"resource_id":"r","file_path":"/abs.mp4"}"#,
                "not a relative path",
            ),
            (br#"{"resource_id":"r","file_path":"a//b.mp4"}"#, "empty"),
            (
                br#"{"resource_id":"r","file_path":"a/./b.mp4"}"#,
                "component",
            ),
            (
                br#"{"resource_id":"r","file_path":"a\\b.mp4"}"#,
                "not a relative path",
            ),
            (br#"{"resource_id":"r","file_path":"a\nb.mp4"}"#, "control"),
            (
                br#"{"resource_id":"r\u0000","file_path":"a.mp4"}"#,
                "control",
            ),
        ] {
            let e = JobMessage::parse(body).unwrap_err();
            assert!(e.contains(want), "{e} should contain {want}");
        }
    }

    #[test]
    fn failure_reports_are_bounded_and_say_so() {
        // A normal body is carried whole, with the old service's two fields only.
        let body = br#"{"resource_id":"r","file_path":"a.mp4"}"#;
        let v = serde_json::to_value(JobFailure::new(body, "bad")).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"message": std::str::from_utf8(body).unwrap(), "error": "bad"})
        );

        // 25 MiB of NUL bytes: each becomes `\u0000` in JSON; the report stays small.
        let nul = vec![0u8; 25 << 20];
        let f = JobFailure::new(&nul, &"e".repeat(1 << 20));
        let json = f.to_json();
        assert!(
            json.len() < REPORT_BODY_LIMIT + REPORT_ERROR_LIMIT + 200,
            "{}",
            json.len()
        );
        let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(v["message_truncated"], true);
        assert_eq!(v["message_bytes"], 25 << 20);
        assert_eq!(v["message"].as_str().unwrap().len(), REPORT_BODY_LIMIT / 6);

        // Cut on a character boundary, never inside a multi-byte character.
        let wide = "\u{1F600}".repeat(5000);
        let f = JobFailure::new(wide.as_bytes(), "x");
        assert!(f.message_truncated);
        assert_eq!(f.message.len(), REPORT_BODY_LIMIT);
        assert!(f.message.chars().all(|c| c == '\u{1F600}'));
        // Exactly at the limit is not cut.
        let exact = "a".repeat(REPORT_BODY_LIMIT);
        assert!(!JobFailure::new(exact.as_bytes(), "x").message_truncated);
    }

    #[test]
    fn result_json_keeps_the_old_field_names() {
        let r = JobResult {
            job_id: "j".into(),
            output_bucket_path: "b".into(),
            status: "COMPLETED".into(),
            video: Video {
                encoded_video_folder: "v".into(),
                resource_id: "r".into(),
                file_path: "f".into(),
            },
            error: String::new(),
            created_at: now_rfc3339(),
            updated_at: now_rfc3339(),
        };
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["Error"], "");
        assert_eq!(v["video"]["encoded_video_folder"], "v");
        assert!(v["created_at"].as_str().unwrap().ends_with('Z'));
    }
}
