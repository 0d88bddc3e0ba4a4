//! Positional reads: the packager asks for N bytes at offset X and never holds a whole
//! input in memory. Files are read with `pread`, so tracks can be read in parallel
//! through one handle.

use std::fs::File;
use std::io;
use std::path::Path;
use std::sync::Arc;

/// Random-access input: a file, a byte buffer, or (in the worker) an object in a bucket.
pub trait Source: Send + Sync {
    /// Total length in bytes.
    fn len(&self) -> u64;
    /// Fill `buf` with the bytes starting at `offset`; fails if they are not all there.
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()>;
    /// True when the source holds no bytes.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A local file read with positional reads.
#[derive(Debug)]
pub struct FileSource {
    file: File,
    len: u64,
}

impl FileSource {
    /// Opens a file for positional reads.
    pub fn open(path: &Path) -> io::Result<Self> {
        let file = File::open(path)?;
        let meta = file.metadata()?;
        if meta.is_dir() {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "is a folder"));
        }
        Ok(FileSource {
            file,
            len: meta.len(),
        })
    }
}

impl Source for FileSource {
    fn len(&self) -> u64 {
        self.len
    }

    #[cfg(unix)]
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        std::os::unix::fs::FileExt::read_exact_at(&self.file, buf, offset)
    }

    #[cfg(windows)]
    fn read_exact_at(&self, mut buf: &mut [u8], mut offset: u64) -> io::Result<()> {
        use std::os::windows::fs::FileExt;
        while !buf.is_empty() {
            match self.file.seek_read(buf, offset) {
                Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(n) => {
                    buf = &mut buf[n..];
                    offset += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

/// Bytes already in memory.
#[derive(Debug, Clone)]
pub struct BytesSource(Arc<[u8]>);

impl BytesSource {
    /// Bytes held in memory, shared without copying.
    pub fn new(bytes: impl Into<Arc<[u8]>>) -> Self {
        BytesSource(bytes.into())
    }
}

impl Source for BytesSource {
    fn len(&self) -> u64 {
        self.0.len() as u64
    }

    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        let start =
            usize::try_from(offset).map_err(|_| io::Error::from(io::ErrorKind::UnexpectedEof))?;
        let src = start
            .checked_add(buf.len())
            .and_then(|end| self.0.get(start..end))
            .ok_or_else(|| io::Error::from(io::ErrorKind::UnexpectedEof))?;
        buf.copy_from_slice(src);
        Ok(())
    }
}

/// One input of a presentation: a name for messages and where its bytes come from.
#[derive(Clone)]
pub struct Input {
    name: String,
    source: Arc<dyn Source>,
    language: Option<String>,
}

impl Input {
    /// Open a local file.
    pub fn open(path: impl AsRef<Path>) -> crate::Result<Self> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let source = FileSource::open(path)
            .map_err(|e| crate::Error::io(format!("{name}: cannot open"), e))?;
        Ok(Input {
            name,
            source: Arc::new(source),
            language: None,
        })
    }

    /// Any positional-read source, under the given name.
    pub fn from_source(name: impl Into<String>, source: Arc<dyn Source>) -> Self {
        Input {
            name: name.into(),
            source,
            language: None,
        }
    }

    /// An in-memory file.
    pub fn from_bytes(name: impl Into<String>, bytes: impl Into<Arc<[u8]>>) -> Self {
        Self::from_source(name, Arc::new(BytesSource::new(bytes)))
    }

    /// The name errors and warnings give the input (its path, for a file).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Give every track of this input the language `tag` (BCP-47 or ISO 639-2, written
    /// in its shortest form), whatever the file says.
    pub fn with_language(mut self, tag: &str) -> Self {
        self.language = Some(crate::lang::shortest(tag));
        self
    }

    /// The language given with [`Input::with_language`], if any.
    pub fn language(&self) -> Option<&str> {
        self.language.as_deref()
    }

    pub(crate) fn source(&self) -> &dyn Source {
        self.source.as_ref()
    }

    /// Fills `buf` from byte `offset`; the error names the file and the byte.
    pub(crate) fn read_at(&self, buf: &mut [u8], offset: u64) -> crate::Result<()> {
        self.source
            .read_exact_at(buf, offset)
            .map_err(|e| crate::Error::io(format!("{}: read at byte {offset}", self.name), e))
    }
}

impl std::fmt::Debug for Input {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Input")
            .field("name", &self.name)
            .field("len", &self.source.len())
            .finish()
    }
}

/// A track whose samples are made while it is written (PCM audio encoded to Opus, video
/// encoded to a ladder rung), so
/// they never sit in memory whole: the segment writer asks for each segment's samples
/// in turn and learns their sizes from them.
pub(crate) trait MadeSamples: Send + Sync + std::fmt::Debug {
    /// Starts making the samples from the beginning, reading from `input`.
    fn start<'a>(&'a self, input: &'a Input) -> crate::Result<Box<dyn SampleMaker + 'a>>;

    /// The same frames as the table, at its times, only their bytes changed: cut as
    /// read video is, not at every keyframe as encoded video.
    fn same_frames(&self) -> bool {
        false
    }
}

/// One pass over a [`MadeSamples`] track.
pub(crate) trait SampleMaker {
    /// Appends the next `n` samples to `data` and what is learnt of each to `made`.
    fn next(&mut self, n: usize, data: &mut Vec<u8>, made: &mut Vec<Made>) -> crate::Result<()>;
}

/// What is learnt of a sample as it is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Made {
    pub size: u32,
    /// Encoded video: when the sample is shown (the track's media time, so it fixes
    /// the composition offset) and whether it is a keyframe; `None` keeps the plan's.
    pub shown: Option<(i64, bool)>,
}
