//! A track carried as it is but for some samples, whose bytes are replaced by fixed ones
//! as the segments are written (`wvtt_gaps`: a `vtte` box for each gap; `silent_lead`:
//! a silent AAC frame for each hidden audio frame an empty edit would play), and the
//! walk over the samples as stored that such tracks share (`idr_start` too).

use std::ops::Range;

use crate::mp4::moov::Track;
use crate::source::{Input, Made, MadeSamples, SampleMaker};
use crate::{Error, Result};

/// Which samples are replaced.
#[derive(Debug)]
pub(crate) enum Which {
    /// The samples of size 0.
    Empty,
    /// These sample indices.
    Indices(Range<usize>),
}

/// A track's samples as stored, (file offset, size) in decode order: what a track whose
/// samples are carried with some bytes changed walks as its segments are written.
#[derive(Debug)]
pub(crate) struct Stored(Vec<(u64, u32)>);

impl Stored {
    pub fn of(track: &Track) -> Stored {
        Stored(track.table.cursor().map(|s| (s.offset, s.size)).collect())
    }

    /// The file offset of sample `index` (0 past the end), for messages.
    pub fn offset(&self, index: usize) -> u64 {
        self.0.get(index).map_or(0, |s| s.0)
    }

    /// Makes samples `*next..*next + n` (those there are) and moves `next` on: `f` appends
    /// sample `i`'s bytes to `data`, given its (offset, size).
    pub fn make(
        &self,
        next: &mut usize,
        n: usize,
        data: &mut Vec<u8>,
        made: &mut Vec<Made>,
        mut f: impl FnMut(usize, (u64, u32), &mut Vec<u8>) -> Result<()>,
    ) -> Result<()> {
        let end = (*next + n).min(self.0.len());
        for (i, &stored) in self.0.iter().enumerate().take(end).skip(*next) {
            let at = data.len();
            f(i, stored, data)?;
            let size = u32::try_from(data.len() - at)
                .map_err(|_| Error::internal(format!("made sample {} is over 4 GiB", i + 1)))?;
            made.push(Made { size, shown: None });
        }
        *next = end;
        Ok(())
    }
}

/// Appends a sample's bytes as stored.
pub(crate) fn read_stored(
    input: &Input,
    (offset, size): (u64, u32),
    data: &mut Vec<u8>,
) -> Result<()> {
    let at = data.len();
    data.resize(at + size as usize, 0);
    input.read_at(&mut data[at..], offset)
}

#[derive(Debug)]
pub(crate) struct Substituted {
    samples: Stored,
    which: Which,
    bytes: Vec<u8>,
}

impl Substituted {
    pub fn new(track: &Track, which: Which, bytes: Vec<u8>) -> Substituted {
        Substituted {
            samples: Stored::of(track),
            which,
            bytes,
        }
    }

    fn replaced(&self, index: usize, size: u32) -> bool {
        match &self.which {
            Which::Empty => size == 0,
            Which::Indices(r) => r.contains(&index),
        }
    }
}

impl MadeSamples for Substituted {
    fn start<'a>(&'a self, input: &'a Input) -> Result<Box<dyn SampleMaker + 'a>> {
        Ok(Box::new(SubstitutedMaker {
            track: self,
            next: 0,
            input,
        }))
    }
}

struct SubstitutedMaker<'a> {
    track: &'a Substituted,
    next: usize,
    input: &'a Input,
}

impl SampleMaker for SubstitutedMaker<'_> {
    fn next(&mut self, n: usize, data: &mut Vec<u8>, made: &mut Vec<Made>) -> Result<()> {
        let (t, input) = (self.track, self.input);
        t.samples
            .make(&mut self.next, n, data, made, |i, stored, data| {
                if t.replaced(i, stored.1) {
                    data.extend_from_slice(&t.bytes);
                    Ok(())
                } else {
                    read_stored(input, stored, data)
                }
            })
    }
}
