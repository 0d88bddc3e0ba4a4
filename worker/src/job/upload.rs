//! The job's output side: a packager sink that hands finished files to concurrent
//! uploads, holding the MPD back until every segment it names is stored.

use std::io;
use std::path::PathBuf;
use std::sync::Mutex;

use bytes::Bytes;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::{Context, JobError};
use crate::storage::{StorageError, Upload};

/// Uploads what the packager hands over, `CONCURRENCY_UPLOAD` at a time. The first
/// failure stops the rest. Returns the number of files.
pub async fn upload_all(
    ctx: &Context,
    prefix: &str,
    mpd_name: &str,
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
                    // The packager's own layout says what each of its files is; the MPD
                    // is held back and uploaded by the job itself.
                    let content_type = dashpack::layout::file_kind(&path, mpd_name)
                        .map_or("application/octet-stream", dashpack::layout::FileKind::content_type);
                    let name = format!("{prefix}/{path}");
                    running.spawn(async move {
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

/// A path relative to the output folder, and the file's bytes.
pub type FinishedFile = (String, Vec<u8>);

/// Hands segments to the uploader as they are finished; keeps the MPD back, so it is
/// uploaded only after every segment it names.
pub struct UploadSink {
    tx: Mutex<Option<mpsc::Sender<FinishedFile>>>,
    mpd_name: String,
    mpd: Mutex<Option<Vec<u8>>>,
    /// A folder that also receives every file, for the report drawn from them.
    copy_to: Option<PathBuf>,
}

impl UploadSink {
    pub fn new(tx: mpsc::Sender<FinishedFile>, mpd_name: &str, copy_to: Option<PathBuf>) -> Self {
        UploadSink {
            tx: Mutex::new(Some(tx)),
            mpd_name: mpd_name.to_string(),
            mpd: Mutex::new(None),
            copy_to,
        }
    }

    /// Ends the stream, so the uploader knows nothing more is coming.
    pub fn close(&self) {
        if let Ok(mut tx) = self.tx.lock() {
            tx.take();
        }
    }

    pub fn take_mpd(&self) -> Option<Vec<u8>> {
        self.mpd.lock().ok()?.take()
    }
}

impl dashpack::Sink for UploadSink {
    fn put(&self, path: &str, data: &[u8]) -> io::Result<()> {
        if let Some(dir) = &self.copy_to {
            // The packager names files inside its output folder only.
            let file = dir.join(path);
            if let Some(parent) = file.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(file, data)?;
        }
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
