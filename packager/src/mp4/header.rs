//! Box headers and a bounds-checked reader over box bodies (ISO/IEC 14496-12 4.2).
//! Every size comes from the file and is treated as hostile: a child may not run past
//! its parent, nesting depth is limited, and reads past the end are errors.

use crate::error::{BoxError, Malformed};

pub(crate) type FourCC = [u8; 4];

pub(crate) use crate::limits::MAX_DEPTH;

pub(crate) fn fourcc_str(k: &FourCC) -> String {
    k.iter()
        .map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                b as char
            } else {
                '?'
            }
        })
        .collect()
}

/// One box found in memory: its kind, where it starts in the file, and its bytes.
#[derive(Debug, Clone)]
pub(crate) struct Bx<'a> {
    pub kind: FourCC,
    /// Absolute file offset of the first header byte.
    pub start: u64,
    /// The whole box, header included.
    pub raw: &'a [u8],
    pub header_len: usize,
    /// Path for messages, such as `moov/trak[1]/mdia`.
    pub path: String,
    pub depth: usize,
}

impl<'a> Bx<'a> {
    /// A reader over the body (after the header).
    pub fn body(&self) -> Reader<'a> {
        Reader {
            data: &self.raw[self.header_len..],
            pos: 0,
            base: self.start + self.header_len as u64,
            path: self.path.clone(),
        }
    }

    /// The child boxes, starting `skip` bytes into the body (sample entries and full
    /// boxes have fields before their children).
    pub fn children_after(&self, skip: usize) -> Children<'a> {
        let body = &self.raw[self.header_len..];
        let skip = skip.min(body.len());
        Children {
            data: &body[skip..],
            pos: 0,
            base: self.start + (self.header_len + skip) as u64,
            parent_path: self.path.clone(),
            depth: self.depth + 1,
            counts: Vec::new(),
        }
    }

    pub fn children(&self) -> Children<'a> {
        self.children_after(0)
    }

    pub fn err(&self, kind: Malformed) -> BoxError {
        BoxError::new(self.path.clone(), self.start, kind)
    }
}

/// Parse a box header at the start of `data`; returns (kind, total size, header length).
/// `avail` is how many bytes the enclosing space has from this point.
pub(crate) fn parse_header(data: &[u8], avail: u64) -> Result<(FourCC, u64, usize), Malformed> {
    if data.len() < 8 {
        return Err(Malformed::Truncated {
            needed: 8,
            available: data.len() as u64,
        });
    }
    let size32 = u32::from_be_bytes([data[0], data[1], data[2], data[3]]);
    let kind = [data[4], data[5], data[6], data[7]];
    let (size, header_len) = match size32 {
        0 => (avail, 8),
        1 => {
            if data.len() < 16 {
                return Err(Malformed::Truncated {
                    needed: 16,
                    available: data.len() as u64,
                });
            }
            let mut b = [0u8; 8];
            b.copy_from_slice(&data[8..16]);
            (u64::from_be_bytes(b), 16)
        }
        n => (u64::from(n), 8),
    };
    if size < header_len as u64 {
        return Err(Malformed::BadBoxSize { size });
    }
    Ok((kind, size, header_len))
}

/// Iterates the child boxes of one parent held in memory.
pub(crate) struct Children<'a> {
    data: &'a [u8],
    pos: usize,
    base: u64,
    parent_path: String,
    depth: usize,
    counts: Vec<(FourCC, usize)>,
}

impl<'a> Iterator for Children<'a> {
    type Item = Result<Bx<'a>, BoxError>;

    fn next(&mut self) -> Option<Self::Item> {
        let rest = &self.data[self.pos..];
        if rest.is_empty() {
            return None;
        }
        let offset = self.base + self.pos as u64;
        let here = |kind: Malformed| BoxError::new(self.parent_path.clone(), offset, kind);
        if self.depth > MAX_DEPTH {
            self.pos = self.data.len();
            return Some(Err(here(Malformed::TooDeep { limit: MAX_DEPTH })));
        }
        // Some writers pad the end of a container with a few zero bytes.
        if rest.len() < 8 && rest.iter().all(|&b| b == 0) {
            self.pos = self.data.len();
            return None;
        }
        let (kind, size, header_len) = match parse_header(rest, rest.len() as u64) {
            Ok(h) => h,
            Err(k) => {
                self.pos = self.data.len();
                return Some(Err(here(k)));
            }
        };
        let name = fourcc_str(&kind);
        let n = match self.counts.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, n)) => {
                *n += 1;
                *n
            }
            None => {
                self.counts.push((kind, 1));
                1
            }
        };
        let path = if self.parent_path.is_empty() {
            name
        } else if n > 1 {
            format!("{}/{name}[{n}]", self.parent_path)
        } else {
            format!("{}/{name}", self.parent_path)
        };
        if size > rest.len() as u64 {
            self.pos = self.data.len();
            return Some(Err(BoxError::new(
                path,
                offset,
                Malformed::PastParent {
                    size,
                    parent_end: self.base + self.data.len() as u64,
                },
            )));
        }
        let size = size as usize;
        let raw = &rest[..size];
        self.pos += size;
        Some(Ok(Bx {
            kind,
            start: offset,
            raw,
            header_len,
            path,
            depth: self.depth,
        }))
    }
}

/// Big-endian field reader over a box body with absolute offsets for errors.
#[derive(Debug, Clone)]
pub(crate) struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
    base: u64,
    path: String,
}

impl<'a> Reader<'a> {
    /// A reader over bytes that are not a box of the file (a descriptor inside another
    /// structure); offsets in its errors count from 0.
    pub fn detached(data: &'a [u8]) -> Self {
        Reader {
            data,
            pos: 0,
            base: 0,
            path: String::new(),
        }
    }

    /// A reader over bytes read from the file at `base` (outside any box read whole).
    pub fn at(data: &'a [u8], base: u64, path: String) -> Self {
        Reader {
            data,
            pos: 0,
            base,
            path,
        }
    }

    pub fn offset(&self) -> u64 {
        self.base + self.pos as u64
    }

    pub fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    pub fn err(&self, kind: Malformed) -> BoxError {
        BoxError::new(self.path.clone(), self.offset(), kind)
    }

    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], BoxError> {
        if self.remaining() < n {
            return Err(self.err(Malformed::Truncated {
                needed: n as u64,
                available: self.remaining() as u64,
            }));
        }
        let s = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    pub fn skip(&mut self, n: usize) -> Result<(), BoxError> {
        self.bytes(n).map(|_| ())
    }

    pub fn u8(&mut self) -> Result<u8, BoxError> {
        Ok(self.bytes(1)?[0])
    }

    pub fn u16(&mut self) -> Result<u16, BoxError> {
        let b = self.bytes(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    pub fn u32(&mut self) -> Result<u32, BoxError> {
        let b = self.bytes(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub fn i32(&mut self) -> Result<i32, BoxError> {
        Ok(self.u32()? as i32)
    }

    pub fn u64(&mut self) -> Result<u64, BoxError> {
        let b = self.bytes(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_be_bytes(a))
    }

    /// Full-box version and flags.
    pub fn version_flags(&mut self) -> Result<(u8, u32), BoxError> {
        let v = self.u32()?;
        Ok(((v >> 24) as u8, v & 0x00ff_ffff))
    }

    /// The start of `mvhd`, `tkhd` and `mdhd`: version and flags, then the creation
    /// and modification times (32 or 64 bits by version). Returns the version.
    pub fn skip_header_times(&mut self) -> Result<u8, BoxError> {
        let (version, _) = self.version_flags()?;
        self.skip(if version == 1 { 16 } else { 8 })?;
        Ok(version)
    }

    /// A timescale field, which must not be 0.
    pub fn timescale(&mut self, field: &'static str) -> Result<u32, BoxError> {
        let at = self.offset();
        match self.u32()? {
            0 => Err(BoxError::new(
                self.path.clone(),
                at,
                Malformed::InvalidField { field, value: 0 },
            )),
            ts => Ok(ts),
        }
    }

    /// A table of `count` entries of `entry_size` bytes must fit in what is left; this
    /// check comes before any allocation sized by `count`.
    pub fn check_table(
        &self,
        count: u64,
        entry_size: u64,
        what: &'static str,
    ) -> Result<(), BoxError> {
        let needed = count.saturating_mul(entry_size);
        if needed > self.remaining() as u64 {
            return Err(BoxError::new(
                format!("{} ({what})", self.path),
                self.offset(),
                Malformed::Truncated {
                    needed,
                    available: self.remaining() as u64,
                },
            ));
        }
        Ok(())
    }
}

/// A whole box (size, type, body) held in memory, as the root of a tree: a box dashpack
/// built itself, or one in the unit tests of the configuration-box parsers. `None` when
/// `raw` is shorter than a header.
#[cfg(any(test, feature = "transcode"))]
pub(crate) fn whole_box(raw: &[u8]) -> Option<Bx<'_>> {
    let kind: FourCC = raw.get(4..8)?.try_into().ok()?;
    Some(Bx {
        kind,
        start: 0,
        raw,
        header_len: 8,
        path: String::from_utf8_lossy(&kind).into_owned(),
        depth: 0,
    })
}

#[cfg(test)]
pub(crate) fn test_box(raw: &[u8]) -> Bx<'_> {
    whole_box(raw).expect("a box header")
}

/// Size and type in front of a body.
#[cfg(test)]
pub(crate) fn boxed(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
    let mut out = ((body.len() + 8) as u32).to_be_bytes().to_vec();
    out.extend_from_slice(kind);
    out.extend_from_slice(body);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bx(data: &[u8]) -> Bx<'_> {
        Bx {
            kind: *b"root",
            start: 100,
            raw: data,
            header_len: 8,
            path: "root".into(),
            depth: 0,
        }
    }

    #[test]
    fn child_past_parent_is_an_error_with_offset() {
        let mut data = vec![0, 0, 0, 24, b'r', b'o', b'o', b't'];
        data.extend_from_slice(&[0, 0, 0, 40, b'f', b'r', b'e', b'e']);
        data.extend_from_slice(&[0; 8]);
        let err = bx(&data).children().next().unwrap().unwrap_err();
        assert_eq!(err.offset, 108);
        assert_eq!(err.path, "root/free");
        assert_eq!(
            err.kind,
            Malformed::PastParent {
                size: 40,
                parent_end: 124
            }
        );
    }

    #[test]
    fn size_smaller_than_header_is_rejected() {
        let mut data = vec![0, 0, 0, 16, b'r', b'o', b'o', b't'];
        data.extend_from_slice(&[0, 0, 0, 4, b'f', b'r', b'e', b'e']);
        let err = bx(&data).children().next().unwrap().unwrap_err();
        assert_eq!(err.kind, Malformed::BadBoxSize { size: 4 });
    }

    #[test]
    fn large_size_and_siblings() {
        let mut data = vec![0, 0, 0, 0, b'r', b'o', b'o', b't'];
        data.extend_from_slice(&[
            0, 0, 0, 1, b'a', b'b', b'c', b'd', 0, 0, 0, 0, 0, 0, 0, 17, 7,
        ]);
        data.extend_from_slice(&[0, 0, 0, 8, b'a', b'b', b'c', b'd']);
        let b = bx(&data);
        let kids: Vec<_> = b.children().map(|c| c.unwrap()).collect();
        assert_eq!(kids.len(), 2);
        assert_eq!(kids[0].header_len, 16);
        assert_eq!(kids[0].body().u8().unwrap(), 7);
        assert_eq!(kids[1].path, "root/abcd[2]");
    }

    #[test]
    fn reader_reports_truncation() {
        let data = [0u8, 0, 0, 10, b'r', b'o', b'o', b't', 1, 2];
        let mut r = bx(&data).body();
        assert_eq!(r.u16().unwrap(), 0x0102);
        let e = r.u32().unwrap_err();
        assert_eq!(e.offset, 110);
        assert_eq!(
            e.kind,
            Malformed::Truncated {
                needed: 4,
                available: 0
            }
        );
    }
}
