//! An input that is still downloading: the packager's positional reads wait until the
//! bytes they ask for are on disk, so packaging overlaps the download. For a file with
//! its `moov` in front, segments are cut while the rest of `mdat` is still arriving.

use std::fs::File;
use std::io;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};

use dashpack::Source;

#[derive(Default)]
struct State {
    /// Bytes from the start of the file that are written and readable.
    written: u64,
    failed: Option<String>,
}

/// The reading side, handed to the packager.
pub struct Growing {
    file: File,
    len: u64,
    state: Mutex<State>,
    more: Condvar,
}

impl Growing {
    /// `path` must already exist (the writer created it); `len` is the final size.
    pub fn open(path: &Path, len: u64) -> io::Result<(Arc<Growing>, Feeder)> {
        let g = Arc::new(Growing {
            file: File::open(path)?,
            len,
            state: Mutex::new(State::default()),
            more: Condvar::new(),
        });
        Ok((g.clone(), Feeder(g)))
    }

    fn update(&self, f: impl FnOnce(&mut State)) {
        if let Ok(mut s) = self.state.lock() {
            f(&mut s);
        }
        self.more.notify_all();
    }
}

impl Source for Growing {
    fn len(&self) -> u64 {
        self.len
    }

    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        let end = offset.saturating_add(buf.len() as u64);
        if end > self.len {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let mut s = self
            .state
            .lock()
            .map_err(|_| io::Error::other("download state poisoned"))?;
        while s.written < end {
            if let Some(why) = &s.failed {
                return Err(io::Error::other(format!("input download failed: {why}")));
            }
            s = self
                .more
                .wait(s)
                .map_err(|_| io::Error::other("download state poisoned"))?;
        }
        drop(s);
        std::os::unix::fs::FileExt::read_exact_at(&self.file, buf, offset)
    }
}

/// The writing side: tells readers how far the file is written. Dropping it before
/// [`Feeder::done`] fails every waiting read, so a cancelled download never leaves a
/// packager thread waiting.
pub struct Feeder(Arc<Growing>);

impl Feeder {
    /// Bytes `0..n` are on disk.
    pub fn advance(&self, n: u64) {
        self.0.update(|s| s.written = s.written.max(n));
    }

    pub fn fail(&self, why: &str) {
        self.0.update(|s| {
            s.failed.get_or_insert_with(|| why.to_string());
        });
    }

    pub fn done(self) {
        let len = self.0.len;
        self.0.update(|s| s.written = len);
        std::mem::forget(self);
    }
}

impl Drop for Feeder {
    fn drop(&mut self) {
        self.fail("the download stopped");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::time::Duration;

    #[test]
    fn reads_wait_for_the_writer_and_fail_with_it() {
        let dir = std::env::temp_dir().join(format!("growing-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("f");
        let mut w = File::create(&path).unwrap();
        let (g, feeder) = Growing::open(&path, 8).unwrap();
        let reader = {
            let g = g.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 4];
                g.read_exact_at(&mut buf, 4).map(|()| buf)
            })
        };
        w.write_all(b"abcd").unwrap();
        feeder.advance(4);
        std::thread::sleep(Duration::from_millis(50));
        assert!(!reader.is_finished(), "bytes 4..8 are not there yet");
        w.write_all(b"efgh").unwrap();
        feeder.advance(8);
        assert_eq!(&reader.join().unwrap().unwrap(), b"efgh");

        let (g, feeder) = Growing::open(&path, 100).unwrap();
        let reader = std::thread::spawn(move || g.read_exact_at(&mut [0u8; 10], 50));
        drop(feeder);
        let e = reader.join().unwrap().unwrap_err();
        assert!(e.to_string().contains("the download stopped"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
