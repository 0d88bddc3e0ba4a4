//! Compact sample tables and a cursor that walks them in decode order.
//!
//! The tables stay as the file stores them (run-length `stts`/`ctts`/`stsc`, one size per
//! sample, one offset per chunk): a few bytes per sample, never a struct per sample.
//! ISO/IEC 14496-12 8.6.1 (stts, ctts), 8.6.2 (stss), 8.7.3 (stsz, stz2), 8.7.4 (stsc),
//! 8.7.5 (stco, co64).

use crate::error::{BoxError, Malformed};

/// One sample as the packager needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Sample {
    /// Zero-based index in decode order.
    pub index: u32,
    /// Absolute byte offset of the sample data in the input.
    pub offset: u64,
    pub size: u32,
    /// Decode time, in the track's timescale, from 0.
    pub dts: u64,
    pub duration: u32,
    /// Composition offset (CTS - DTS).
    pub cto: i64,
    pub sync: bool,
    /// The sample description index (`stsc`, or the fragment's `tfhd`), from 1.
    pub description: u32,
}

impl Sample {
    /// Refuses a sample whose bytes run past the end of the file; `path` is the table
    /// that places it.
    pub fn check_in_file(&self, path: impl Into<String>, file_len: u64) -> Result<(), BoxError> {
        let end = self.offset.checked_add(u64::from(self.size));
        if end.is_none_or(|e| e > file_len) {
            return Err(BoxError::new(
                path,
                self.offset,
                Malformed::SampleOutOfFile {
                    sample: self.index + 1,
                    data_offset: self.offset,
                    size: self.size,
                    file_len,
                },
            ));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StscEntry {
    pub first_chunk: u32,
    pub samples_per_chunk: u32,
    pub sample_description_index: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Sizes {
    Constant(u32),
    PerSample(Vec<u32>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SampleTable {
    pub count: u32,
    /// (sample count, delta)
    pub stts: Vec<(u32, u32)>,
    /// (sample count, offset); empty when the track has no `ctts`.
    pub ctts: Vec<(u32, i64)>,
    pub sizes: Sizes,
    pub stsc: Vec<StscEntry>,
    pub chunk_offsets: Vec<u64>,
    /// One-based sync sample numbers, ascending; `None` means every sample is sync.
    pub sync: Option<Vec<u32>>,
}

impl SampleTable {
    /// `count` samples of `duration` ticks in one chunk, for samples made as they are
    /// written (transcoded audio): their sizes are learnt then, `nominal` until.
    #[cfg_attr(not(any(feature = "opus", feature = "transcode")), allow(dead_code))]
    pub(crate) fn made(count: u32, duration: u32, nominal: u32) -> Self {
        SampleTable {
            count,
            stts: vec![(count, duration)],
            ctts: Vec::new(),
            sizes: Sizes::Constant(nominal),
            stsc: vec![StscEntry {
                first_chunk: 1,
                samples_per_chunk: count.max(1),
                sample_description_index: 1,
            }],
            chunk_offsets: vec![0],
            sync: None,
        }
    }

    /// The first sample `by` ticks longer, every later one as much later; false when the
    /// table is empty or the duration would not fit.
    pub(crate) fn lengthen_first(&mut self, by: u32) -> bool {
        let Some(&(n, delta)) = self.stts.first() else {
            return false;
        };
        let Some(longer) = delta.checked_add(by) else {
            return false;
        };
        if n == 0 || self.count == 0 {
            return false;
        }
        self.stts.splice(
            0..1,
            std::iter::once((1, longer)).chain((n > 1).then_some((n - 1, delta))),
        );
        true
    }

    pub fn cursor(&self) -> Cursor<'_> {
        Cursor {
            t: self,
            next: 0,
            dts: 0,
            stts_i: 0,
            stts_left: self.stts.first().map_or(0, |e| e.0),
            ctts_i: 0,
            ctts_left: self.ctts.first().map_or(0, |e| e.0),
            stsc_i: 0,
            chunk: 0,
            chunk_left: 0,
            pos: 0,
            sync_i: 0,
        }
    }

    /// Whether the first sample is a sync sample (every sample is, without `stss`).
    pub fn starts_on_sync(&self) -> bool {
        self.sync.as_ref().is_none_or(|s| s.first() == Some(&1))
    }

    pub fn has_composition_offsets(&self) -> bool {
        self.ctts.iter().any(|e| e.1 != 0)
    }
}

/// Walks a [`SampleTable`] in decode order. Assumes the table was checked by
/// `validate` in the track reader (counts agree); on a table that does not, it stops
/// early rather than panic.
#[derive(Debug, Clone)]
pub(crate) struct Cursor<'a> {
    t: &'a SampleTable,
    next: u32,
    dts: u64,
    stts_i: usize,
    stts_left: u32,
    ctts_i: usize,
    ctts_left: u32,
    stsc_i: usize,
    /// One-based chunk number of the current chunk (0 before the first).
    chunk: u32,
    chunk_left: u32,
    pos: u64,
    sync_i: usize,
}

impl Cursor<'_> {
    /// Move to the next chunk; false when the tables have no more.
    fn next_chunk(&mut self) -> bool {
        loop {
            self.chunk += 1;
            while self
                .t
                .stsc
                .get(self.stsc_i + 1)
                .is_some_and(|e| e.first_chunk <= self.chunk)
            {
                self.stsc_i += 1;
            }
            let Some(entry) = self.t.stsc.get(self.stsc_i) else {
                return false;
            };
            let Some(&offset) = self.t.chunk_offsets.get(self.chunk as usize - 1) else {
                return false;
            };
            if entry.first_chunk > self.chunk {
                // Chunks before the first stsc entry hold no samples.
                continue;
            }
            self.pos = offset;
            self.chunk_left = entry.samples_per_chunk;
            if self.chunk_left > 0 {
                return true;
            }
        }
    }
}

impl Iterator for Cursor<'_> {
    type Item = Sample;

    fn next(&mut self) -> Option<Sample> {
        if self.next >= self.t.count {
            return None;
        }
        let index = self.next;
        while self.stts_left == 0 {
            self.stts_i += 1;
            self.stts_left = self.t.stts.get(self.stts_i)?.0;
        }
        let duration = self.t.stts[self.stts_i].1;
        self.stts_left -= 1;
        let cto = if self.t.ctts.is_empty() {
            0
        } else {
            while self.ctts_left == 0 {
                self.ctts_i += 1;
                self.ctts_left = self.t.ctts.get(self.ctts_i)?.0;
            }
            self.ctts_left -= 1;
            self.t.ctts[self.ctts_i].1
        };
        if self.chunk_left == 0 && !self.next_chunk() {
            return None;
        }
        let size = match &self.t.sizes {
            Sizes::Constant(s) => *s,
            Sizes::PerSample(v) => *v.get(index as usize)?,
        };
        let sync = match &self.t.sync {
            None => true,
            Some(list) => {
                while list.get(self.sync_i).is_some_and(|&n| n < index + 1) {
                    self.sync_i += 1;
                }
                list.get(self.sync_i) == Some(&(index + 1))
            }
        };
        let sample = Sample {
            index,
            offset: self.pos,
            size,
            dts: self.dts,
            duration,
            cto,
            sync,
            description: self
                .t
                .stsc
                .get(self.stsc_i)
                .map_or(1, |e| e.sample_description_index),
        };
        self.pos = self.pos.saturating_add(u64::from(size));
        self.chunk_left -= 1;
        self.dts = self.dts.saturating_add(u64::from(duration));
        self.next += 1;
        Some(sample)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_chunks_runs_and_sync() {
        let t = SampleTable {
            count: 5,
            stts: vec![(3, 10), (2, 20)],
            ctts: vec![(1, 0), (1, 30), (3, -10)],
            sizes: Sizes::PerSample(vec![1, 2, 3, 4, 5]),
            stsc: vec![
                StscEntry {
                    first_chunk: 1,
                    samples_per_chunk: 2,
                    sample_description_index: 1,
                },
                StscEntry {
                    first_chunk: 3,
                    samples_per_chunk: 1,
                    sample_description_index: 1,
                },
            ],
            chunk_offsets: vec![100, 200, 300, 400],
            sync: Some(vec![1, 4]),
        };
        let s: Vec<_> = t.cursor().collect();
        assert_eq!(s.len(), 5);
        assert_eq!(
            s.iter().map(|x| x.offset).collect::<Vec<_>>(),
            [100, 101, 200, 203, 300]
        );
        assert_eq!(
            s.iter().map(|x| x.dts).collect::<Vec<_>>(),
            [0, 10, 20, 30, 50]
        );
        assert_eq!(
            s.iter().map(|x| x.cto).collect::<Vec<_>>(),
            [0, 30, -10, -10, -10]
        );
        assert_eq!(
            s.iter().map(|x| x.sync).collect::<Vec<_>>(),
            [true, false, false, true, false]
        );
    }

    #[test]
    fn stops_instead_of_panicking_on_short_tables() {
        let t = SampleTable {
            count: 10,
            stts: vec![(2, 1)],
            ctts: vec![],
            sizes: Sizes::Constant(1),
            stsc: vec![StscEntry {
                first_chunk: 1,
                samples_per_chunk: 1,
                sample_description_index: 1,
            }],
            chunk_offsets: vec![0, 1, 2],
            sync: None,
        };
        assert_eq!(t.cursor().count(), 2);
    }
}
