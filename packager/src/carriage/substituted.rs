//! A track carried as it is but for some samples, whose bytes are replaced by fixed ones
//! as the segments are written (`wvtt_gaps`: a `vtte` box for each gap; `silent_lead`:
//! a silent AAC frame for each hidden audio frame an empty edit would play). The
//! sample list is kept whole: (file offset, size) per sample.

use std::ops::Range;

use crate::Result;
use crate::mp4::moov::Track;
use crate::source::{Input, Made, MadeSamples, SampleMaker};

/// Which samples are replaced.
#[derive(Debug)]
pub(crate) enum Which {
    /// The samples of size 0.
    Empty,
    /// These sample indices.
    Indices(Range<usize>),
}

#[derive(Debug)]
pub(crate) struct Substituted {
    samples: Vec<(u64, u32)>,
    which: Which,
    bytes: Vec<u8>,
}

impl Substituted {
    pub fn new(track: &Track, which: Which, bytes: Vec<u8>) -> Substituted {
        let samples = track.table.cursor().map(|s| (s.offset, s.size)).collect();
        Substituted {
            samples,
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
        let t = self.track;
        let end = (self.next + n).min(t.samples.len());
        for (i, &(offset, size)) in t.samples.iter().enumerate().take(end).skip(self.next) {
            let size = if t.replaced(i, size) {
                data.extend_from_slice(&t.bytes);
                t.bytes.len() as u32
            } else {
                let at = data.len();
                data.resize(at + size as usize, 0);
                self.input.read_at(&mut data[at..], offset)?;
                size
            };
            made.push(Made { size, shown: None });
        }
        self.next = end;
        Ok(())
    }
}
