//! Where finished files go. The packager hands over each file once, whole, and the MPD
//! last; a sink decides how they become visible (a folder swapped in atomically, memory,
//! or an upload in the worker).

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::{Error, Result};

/// Receives finished output files. Called from several threads at once.
pub trait Sink: Send + Sync {
    /// Store one finished file under a relative, `/`-separated path.
    fn put(&self, path: &str, data: &[u8]) -> io::Result<()>;

    /// Start a file written in parts (the on-demand profile's one file per
    /// Representation). The default collects the parts in memory and calls
    /// [`Sink::put`] on [`SinkFile::finish`]; [`DirSink`] writes them straight to disk.
    fn create(&self, path: &str) -> io::Result<Box<dyn SinkFile + '_>> {
        Ok(Box::new(Buffered {
            sink: self,
            path: path.to_string(),
            data: Vec::new(),
        }))
    }
}

/// A file being written in parts: appended to, patched in place, then finished. A
/// file never finished is not part of the output.
pub trait SinkFile: Send {
    /// Append `data`.
    fn write(&mut self, data: &[u8]) -> io::Result<()>;
    /// Overwrite bytes already written, at `offset` from the start of the file.
    fn patch(&mut self, offset: u64, data: &[u8]) -> io::Result<()>;
    /// The file is complete: it becomes part of the output.
    fn finish(self: Box<Self>) -> io::Result<()>;
}

struct Buffered<'a, S: Sink + ?Sized> {
    sink: &'a S,
    path: String,
    data: Vec<u8>,
}

impl<S: Sink + ?Sized> SinkFile for Buffered<'_, S> {
    fn write(&mut self, data: &[u8]) -> io::Result<()> {
        self.data.extend_from_slice(data);
        Ok(())
    }

    fn patch(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
        let at = usize::try_from(offset).map_err(io::Error::other)?;
        let end = at + data.len();
        let slot = self.data.get_mut(at..end).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "patch past the end of the file",
            )
        })?;
        slot.copy_from_slice(data);
        Ok(())
    }

    fn finish(self: Box<Self>) -> io::Result<()> {
        self.sink.put(&self.path, &self.data)
    }
}

/// A file in the staging folder: the staging folder is only swapped in whole, so an
/// unfinished file is never visible.
struct DiskFile {
    file: io::BufWriter<fs::File>,
}

impl SinkFile for DiskFile {
    fn write(&mut self, data: &[u8]) -> io::Result<()> {
        io::Write::write_all(&mut self.file, data)
    }

    fn patch(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
        use std::io::{Seek, SeekFrom, Write};
        let end = self.file.stream_position()?;
        self.file.seek(SeekFrom::Start(offset))?;
        self.file.write_all(data)?;
        self.file.seek(SeekFrom::Start(end))?;
        Ok(())
    }

    fn finish(self: Box<Self>) -> io::Result<()> {
        let file = self.file.into_inner().map_err(|e| e.into_error())?;
        file.sync_data()
    }
}

/// Writes into a hidden staging folder beside the target and swaps it in on
/// [`DirSink::commit`], so a failed run never leaves an MPD beside missing or partial
/// segments, and `force` leaves no stale file of an earlier run behind.
#[derive(Debug)]
pub struct DirSink {
    target: PathBuf,
    staging: PathBuf,
    committed: bool,
}

impl DirSink {
    /// Prepare to write `dir`. An existing non-empty `dir` is refused unless `force`.
    pub fn create(dir: &Path, force: bool) -> Result<Self> {
        let target = dir.to_path_buf();
        check_target(&target, force)?;
        let name = target
            .file_name()
            .ok_or_else(|| Error::InvalidOption {
                name: "output",
                reason: format!("{} has no folder name", target.display()),
            })?
            .to_string_lossy()
            .into_owned();
        let parent = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        fs::create_dir_all(&parent)
            .map_err(|e| Error::io(format!("cannot create {}", parent.display()), e))?;
        let staging = parent.join(format!(".{name}.partial-{}", std::process::id()));
        if staging.exists() {
            fs::remove_dir_all(&staging)
                .map_err(|e| Error::io(format!("cannot remove {}", staging.display()), e))?;
        }
        fs::create_dir(&staging)
            .map_err(|e| Error::io(format!("cannot create {}", staging.display()), e))?;
        Ok(DirSink {
            target,
            staging,
            committed: false,
        })
    }

    /// The folder the files will appear in.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Make everything written visible at the target path at once.
    pub fn commit(mut self) -> Result<()> {
        let ctx = |what: &str, p: &Path| format!("cannot {what} {}", p.display());
        if self.target.exists() {
            let old = self.staging.with_extension("old");
            fs::rename(&self.target, &old)
                .map_err(|e| Error::io(ctx("move aside", &self.target), e))?;
            if let Err(e) = fs::rename(&self.staging, &self.target) {
                // Put the previous contents back rather than lose them.
                let _ = fs::rename(&old, &self.target);
                return Err(Error::io(ctx("rename into place", &self.staging), e));
            }
            fs::remove_dir_all(&old).map_err(|e| Error::io(ctx("remove", &old), e))?;
        } else {
            fs::rename(&self.staging, &self.target)
                .map_err(|e| Error::io(ctx("rename into place", &self.staging), e))?;
        }
        self.committed = true;
        Ok(())
    }
}

fn check_target(target: &Path, force: bool) -> Result<()> {
    match fs::read_dir(target) {
        Ok(mut entries) => {
            if entries.next().is_some() && !force {
                return Err(Error::OutputExists {
                    path: target.to_path_buf(),
                });
            }
            Ok(())
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(
            format!("cannot use output folder {}", target.display()),
            e,
        )),
    }
}

impl Drop for DirSink {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_dir_all(&self.staging);
        }
    }
}

impl DirSink {
    fn staged(&self, path: &str) -> io::Result<PathBuf> {
        let full = self.staging.join(safe_relative(path)?);
        if let Some(parent) = full.parent() {
            fs::create_dir_all(parent)?;
        }
        Ok(full)
    }
}

impl Sink for DirSink {
    fn put(&self, path: &str, data: &[u8]) -> io::Result<()> {
        fs::write(self.staged(path)?, data)
    }

    fn create(&self, path: &str) -> io::Result<Box<dyn SinkFile + '_>> {
        let file = fs::File::create(self.staged(path)?)?;
        Ok(Box::new(DiskFile {
            file: io::BufWriter::with_capacity(1 << 20, file),
        }))
    }
}

/// Keeps every file in memory, for tests and for callers that upload themselves.
#[derive(Debug, Default)]
pub struct MemorySink {
    files: Mutex<BTreeMap<String, Vec<u8>>>,
}

impl MemorySink {
    /// An empty sink.
    pub fn new() -> Self {
        Self::default()
    }

    /// The files written so far, by relative path.
    pub fn into_files(self) -> BTreeMap<String, Vec<u8>> {
        self.files.into_inner().unwrap_or_else(|p| p.into_inner())
    }
}

impl Sink for MemorySink {
    fn put(&self, path: &str, data: &[u8]) -> io::Result<()> {
        safe_relative(path)?;
        let mut files = self.files.lock().unwrap_or_else(|p| p.into_inner());
        files.insert(path.to_string(), data.to_vec());
        Ok(())
    }
}

/// Output names come from our own templates, but a sink must never write outside its
/// folder whatever it is given.
fn safe_relative(path: &str) -> io::Result<&Path> {
    let ok = !path.is_empty()
        && !path.starts_with('/')
        && path
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != ".." && !part.contains('\\'));
    if ok {
        Ok(Path::new(path))
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("unsafe output path {path:?}"),
        ))
    }
}
