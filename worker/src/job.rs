//! One job: from the message body to an uploaded presentation. Decides nothing about
//! acks; it returns what happened and the service acts on it.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use uuid::Uuid;

use crate::config::Config;
use crate::metrics::Metrics;
use crate::storage::{Gcs, StorageError, Upload};

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
#[derive(Debug, Serialize, Deserialize)]
pub struct JobFailure {
    pub message: String,
    pub error: String,
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
pub async fn run(ctx: &Context, msg: &JobMessage, ids: Ids) -> Result<JobResult, JobError> {
    let started = Instant::now();
    let created_at = now_rfc3339();
    state(&ids, "STARTING", started);
    let work = WorkDir::create(&ctx.cfg.work_dir, ids.job_id)
        .map_err(|e| JobError::Transient(format!("work folder: {e}")))?;

    state(&ids, "DOWNLOADING", started);
    let stage = Instant::now();
    let input = work.path.join("input.mp4");
    let size = ctx
        .gcs
        .download(&ctx.cfg.input_bucket, &msg.file_path, &input)
        .await?;
    ctx.metrics.stage("download", stage.elapsed());
    tracing::info!(job_id = %ids.job_id, bytes = size, seconds = stage.elapsed().as_secs_f64(), "downloaded");

    state(&ids, "FRAGMENTING", started);
    let stage = Instant::now();
    let options = dashpack::Options {
        segment_duration: ctx.cfg.segment_duration,
        cancel: Some(Arc::new(AtomicBool::new(false))),
        ..dashpack::Options::default()
    };
    let name = format!("gs://{}/{}", ctx.cfg.input_bucket, msg.file_path);
    let opened = {
        let (input, options) = (input.clone(), options.clone());
        tokio::task::spawn_blocking(move || {
            let file =
                dashpack::FileSource::open(&input).map_err(|source| dashpack::Error::Io {
                    context: input.display().to_string(),
                    source,
                })?;
            let source = dashpack::Input::from_source(name, Arc::new(file));
            let info = dashpack::inspect(&source, &options)?;
            Ok::<_, dashpack::Error>((source, info))
        })
        .await
        .map_err(|e| JobError::Transient(format!("packager task: {e}")))?
    };
    let (source, info) = opened.map_err(packager_error)?;
    ctx.metrics.stage("inspect", stage.elapsed());
    tracing::info!(
        job_id = %ids.job_id,
        tracks = info.tracks.len(),
        duration_s = info.duration,
        "input checked"
    );

    state(&ids, "ENCODING", started);
    let stage = Instant::now();
    let prefix = ids.video_id.to_string();
    let (tx, rx) = mpsc::channel(ctx.cfg.uploads);
    let sink = UploadSink {
        tx: Mutex::new(Some(tx)),
        mpd_name: options.mpd_name.clone(),
        mpd: Mutex::new(None),
    };
    let sink = Arc::new(sink);
    let cancel = options.cancel.clone();
    let packaging = {
        let sink = sink.clone();
        tokio::task::spawn_blocking(move || {
            let result = dashpack::package(&[source], sink.as_ref(), &options);
            sink.close();
            result
        })
    };
    let uploads = upload_all(ctx, &prefix, rx);
    let (packaged, uploaded) = tokio::join!(packaging, async {
        let r = uploads.await;
        if r.is_err()
            && let Some(c) = &cancel
        {
            // Stop the packager early: its output has nowhere to go.
            c.store(true, Ordering::Relaxed);
        }
        r
    });
    let uploaded = uploaded?;
    let presentation = packaged
        .map_err(|e| JobError::Transient(format!("packager task: {e}")))?
        .map_err(packager_error)?;
    ctx.metrics.stage("package", stage.elapsed());

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
                content_type: "application/dash+xml",
                cache_control: "public, max-age=60",
            },
        )
        .await?;
    ctx.metrics.stage("upload", stage.elapsed());
    tracing::info!(
        job_id = %ids.job_id,
        files = uploaded + 1,
        bytes = presentation.bytes,
        representations = presentation.representations.len(),
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

fn packager_error(e: dashpack::Error) -> JobError {
    use dashpack::Error as E;
    match e {
        E::Io { .. } => JobError::Transient(e.to_string()),
        E::Cancelled => JobError::Interrupted,
        _ => JobError::Permanent(e.to_string()),
    }
}

/// Uploads what the packager hands over, `CONCURRENCY_UPLOAD` at a time. The first
/// failure stops the rest. Returns the number of files.
async fn upload_all(
    ctx: &Context,
    prefix: &str,
    mut rx: mpsc::Receiver<FinishedFile>,
) -> Result<usize, JobError> {
    let mut running: JoinSet<Result<(), StorageError>> = JoinSet::new();
    let mut count = 0;
    let mut open = true;
    while open || !running.is_empty() {
        tokio::select! {
            Some(done) = running.join_next(), if !running.is_empty() => {
                done.map_err(|e| JobError::Transient(format!("upload task: {e}")))??;
            }
            next = rx.recv(), if open && running.len() < ctx.cfg.uploads => match next {
                Some((path, data)) => {
                    count += 1;
                    let gcs = ctx.gcs.clone();
                    let bucket = ctx.cfg.output_bucket.clone();
                    let name = format!("{prefix}/{path}");
                    running.spawn(async move {
                        let content_type = content_type(&name);
                        gcs.upload(&bucket, Upload {
                            name: &name,
                            data: Bytes::from(data),
                            content_type,
                            cache_control: "public, max-age=31536000, immutable",
                        })
                        .await
                    });
                }
                None => open = false,
            },
        }
    }
    Ok(count)
}

/// Content type by the packager's folder names (`video-N/`, `audio-N/`).
pub fn content_type(path: &str) -> &'static str {
    let file = path.rsplit('/').next().unwrap_or(path);
    let folder = path.rsplit('/').nth(1).unwrap_or("");
    if file.ends_with(".mpd") {
        "application/dash+xml"
    } else if folder.starts_with("audio") {
        "audio/mp4"
    } else if folder.starts_with("video") {
        "video/mp4"
    } else if folder.starts_with("text") || file.ends_with(".vtt") {
        "text/vtt"
    } else {
        "application/octet-stream"
    }
}

/// A path relative to the output folder, and the file's bytes.
type FinishedFile = (String, Vec<u8>);

/// Hands segments to the uploader as they are finished; keeps the MPD back, so it is
/// uploaded only after every segment it names.
struct UploadSink {
    tx: Mutex<Option<mpsc::Sender<FinishedFile>>>,
    mpd_name: String,
    mpd: Mutex<Option<Vec<u8>>>,
}

impl UploadSink {
    /// Ends the stream, so the uploader knows nothing more is coming.
    fn close(&self) {
        if let Ok(mut tx) = self.tx.lock() {
            tx.take();
        }
    }

    fn take_mpd(&self) -> Option<Vec<u8>> {
        self.mpd.lock().ok()?.take()
    }
}

impl dashpack::Sink for UploadSink {
    fn put(&self, path: &str, data: &[u8]) -> io::Result<()> {
        if path == self.mpd_name {
            *self.mpd.lock().map_err(|_| io::Error::other("poisoned"))? = Some(data.to_vec());
            return Ok(());
        }
        let tx = self
            .tx
            .lock()
            .map_err(|_| io::Error::other("poisoned"))?
            .clone()
            .ok_or_else(|| io::Error::other("upload already closed"))?;
        // Blocks this packager thread while the uploads are full: memory stays bounded.
        tx.blocking_send((path.to_string(), data.to_vec()))
            .map_err(|_| io::Error::other("uploads stopped"))
    }
}

/// A job's private folder under the work folder, removed on drop whatever happened.
struct WorkDir {
    path: PathBuf,
}

impl WorkDir {
    fn create(root: &Path, job_id: Uuid) -> io::Result<Self> {
        let path = root.join(format!("dashpack-job-{job_id}"));
        // A crashed earlier try may have left it behind.
        if path.exists() {
            std::fs::remove_dir_all(&path)?;
        }
        std::fs::create_dir_all(&path)?;
        Ok(WorkDir { path })
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir_all(&self.path) {
            tracing::warn!(path = %self.path.display(), error = %e, "could not remove work folder");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn content_types_follow_folders() {
        assert_eq!(content_type("v/stream.mpd"), "application/dash+xml");
        assert_eq!(content_type("v/video-1/init.mp4"), "video/mp4");
        assert_eq!(content_type("v/audio-2/seg-3.m4s"), "audio/mp4");
        assert_eq!(content_type("v/other.bin"), "application/octet-stream");
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
