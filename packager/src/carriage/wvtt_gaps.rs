//! Carried WebVTT (`wvtt`) from movie fragments with time between them: each gap is an
//! empty sample in the table (time with no cue, not a longer cue before it), and is
//! written as the `vtte` box ISO/IEC 14496-30 gives such a sample. Text tracks are
//! small, so the sample list is kept whole.

use crate::Result;
use crate::codec::Family;
use crate::mp4::moov::Track;
use crate::source::{Input, Made, MadeSamples, SampleMaker};

/// An empty WebVTT sample: a `vtte` box.
const VTTE: [u8; 8] = [0, 0, 0, 8, b'v', b't', b't', b'e'];

/// A `wvtt` track's samples as (file offset, size); size 0 for a gap.
#[derive(Debug)]
pub(crate) struct WvttGaps {
    samples: Vec<(u64, u32)>,
}

impl WvttGaps {
    /// The samples of a `wvtt` track with gaps; `None` for any other track.
    pub fn of(track: &Track) -> Option<WvttGaps> {
        if track.codec.family != Family::Wvtt {
            return None;
        }
        let samples: Vec<(u64, u32)> = track.table.cursor().map(|s| (s.offset, s.size)).collect();
        samples
            .iter()
            .any(|s| s.1 == 0)
            .then_some(WvttGaps { samples })
    }
}

impl MadeSamples for WvttGaps {
    fn start<'a>(&'a self, input: &'a Input) -> Result<Box<dyn SampleMaker + 'a>> {
        Ok(Box::new(WvttGapMaker {
            samples: self.samples.iter(),
            input,
        }))
    }
}

struct WvttGapMaker<'a> {
    samples: std::slice::Iter<'a, (u64, u32)>,
    input: &'a Input,
}

impl SampleMaker for WvttGapMaker<'_> {
    fn next(&mut self, n: usize, data: &mut Vec<u8>, made: &mut Vec<Made>) -> Result<()> {
        for &(offset, size) in self.samples.by_ref().take(n) {
            let bytes = if size == 0 {
                data.extend_from_slice(&VTTE);
                VTTE.len() as u32
            } else {
                let at = data.len();
                data.resize(at + size as usize, 0);
                self.input.read_at(&mut data[at..], offset)?;
                size
            };
            made.push(Made {
                size: bytes,
                shown: None,
            });
        }
        Ok(())
    }
}
