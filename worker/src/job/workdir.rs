//! Jobs' private folders under the work folder, and the sweep that removes the ones
//! dead processes left behind.
//!
//! How a folder is known to be dead: beside each `dashpack-job-NAME/` lies
//! `dashpack-job-NAME.lock`, created and locked (`flock`, exclusive) before the folder
//! and held by the job's process until the folder is gone. The kernel releases the lock
//! when that process ends in any way, SIGKILL included, so a lock file that can be
//! locked names a folder nobody works in; one that cannot be locked is a live job's, in
//! this process or another. Nothing outside the `dashpack-job-` prefix is touched.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use uuid::Uuid;

pub const PREFIX: &str = "dashpack-job-";
const LOCK_SUFFIX: &str = ".lock";
/// A folder with no lock file beside it (written by a version without locks) is only
/// removed once it has not changed for this long.
const UNLOCKED_GRACE: Duration = Duration::from_secs(600);

/// The folders this process's jobs hold, for removal on a forced exit.
#[derive(Default, Clone)]
pub struct LiveDirs(Arc<Mutex<HashSet<PathBuf>>>);

impl LiveDirs {
    fn set(&self) -> std::sync::MutexGuard<'_, HashSet<PathBuf>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Removes every folder a job of this process still holds (the process is about
    /// to exit; the jobs' messages return to the queue).
    pub fn remove_all(&self) -> usize {
        let dirs: Vec<PathBuf> = self.set().drain().collect();
        for d in &dirs {
            let _ = std::fs::remove_dir_all(d);
            let _ = std::fs::remove_file(lock_path(d));
        }
        dirs.len()
    }
}

fn lock_path(dir: &Path) -> PathBuf {
    let mut name = dir.file_name().unwrap_or_default().to_os_string();
    name.push(LOCK_SUFFIX);
    dir.with_file_name(name)
}

/// A job's folder, locked while it lives and removed on drop whatever happened.
pub struct WorkDir {
    pub path: PathBuf,
    lock: Option<File>,
    live: LiveDirs,
}

impl WorkDir {
    pub fn create(root: &Path, job_id: Uuid, live: &LiveDirs) -> io::Result<WorkDir> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        std::fs::create_dir_all(root)?;
        loop {
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let path = root.join(format!("{PREFIX}{job_id}-{}-{n}", std::process::id()));
            let lock = OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(lock_path(&path))?;
            if lock.try_lock().is_err() {
                continue; // a sweeper holds this name (a reused pid): take the next
            }
            if path.exists() {
                std::fs::remove_dir_all(&path)?;
            }
            let dir = WorkDir {
                path: path.clone(),
                lock: Some(lock),
                live: live.clone(),
            };
            std::fs::create_dir(&path)?;
            live.set().insert(path);
            return Ok(dir);
        }
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        self.live.set().remove(&self.path);
        if let Err(e) = std::fs::remove_dir_all(&self.path)
            && e.kind() != io::ErrorKind::NotFound
        {
            // Left locked-free for the next sweep (at start, or after a failed job).
            tracing::warn!(path = %self.path.display(), error = %e, "could not remove work folder");
            return;
        }
        let _ = std::fs::remove_file(lock_path(&self.path));
        drop(self.lock.take());
    }
}

/// Removes the job folders under `root` that no live process holds. Returns how many.
pub fn sweep(root: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(root) else {
        return 0;
    };
    let mut removed = 0;
    let mut locks = HashSet::new();
    let mut dirs = Vec::new();
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.starts_with(PREFIX) {
            continue;
        }
        if let Some(stem) = name.strip_suffix(LOCK_SUFFIX) {
            locks.insert(stem.to_string());
        } else if e.file_type().is_ok_and(|t| t.is_dir()) {
            dirs.push((name, e.path()));
        }
    }
    for stem in &locks {
        let dir = root.join(stem);
        let Ok(f) = OpenOptions::new().write(true).open(lock_path(&dir)) else {
            continue;
        };
        if f.try_lock().is_err() {
            continue; // a live job's
        }
        if std::fs::remove_dir_all(&dir).is_ok() || !dir.exists() {
            let _ = std::fs::remove_file(lock_path(&dir));
            removed += 1;
        }
    }
    for (name, path) in dirs {
        if locks.contains(&name) {
            continue;
        }
        let old = std::fs::metadata(&path)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| SystemTime::now().duration_since(t).ok())
            .is_some_and(|age| age >= UNLOCKED_GRACE);
        if old && std::fs::remove_dir_all(&path).is_ok() {
            removed += 1;
        }
    }
    if removed > 0 {
        tracing::info!(root = %root.display(), removed, "removed work folders of ended jobs");
    }
    removed
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn root(name: &str) -> PathBuf {
        let d =
            std::env::temp_dir().join(format!("dashpack-workdir-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn live_folders_survive_a_sweep_and_dead_ones_do_not() {
        let root = root("sweep");
        let live = LiveDirs::default();
        let held = WorkDir::create(&root, Uuid::nil(), &live).unwrap();
        std::fs::write(held.path.join("input.mp4"), b"x").unwrap();

        // A dead process's folder: its lock file exists but nobody holds it.
        let dead = root.join(format!("{PREFIX}dead-1-0"));
        std::fs::create_dir(&dead).unwrap();
        std::fs::write(dead.join("input.mp4"), b"x").unwrap();
        std::fs::write(lock_path(&dead), b"").unwrap();
        // Not ours: never touched.
        std::fs::create_dir(root.join("other-folder")).unwrap();
        std::fs::write(root.join("other.lock"), b"").unwrap();
        // A lock-less folder of an older version, changed just now: kept for now.
        std::fs::create_dir(root.join(format!("{PREFIX}legacy"))).unwrap();

        assert_eq!(sweep(&root), 1);
        assert!(!dead.exists() && !lock_path(&dead).exists());
        assert!(
            held.path.join("input.mp4").exists(),
            "a live job's folder stays"
        );
        assert!(root.join("other-folder").exists() && root.join("other.lock").exists());
        assert!(root.join(format!("{PREFIX}legacy")).exists());

        // The forced-exit path removes what this process holds.
        assert_eq!(live.remove_all(), 1);
        assert!(!held.path.exists());
        drop(held);
        let path = WorkDir::create(&root, Uuid::nil(), &live)
            .unwrap()
            .path
            .clone();
        assert!(
            !path.exists() && !lock_path(&path).exists(),
            "dropped: removed"
        );
        std::fs::remove_dir_all(&root).unwrap();
    }
}
