//! Audio that an edit list hides and an empty edit would play (see
//! `join::audible_hidden_audio`), made silent: those AAC-LC samples are written as silent
//! frames of the same duration. Players then play the silence the empty edit asks for,
//! and the track still starts with the others (an AdaptationSet that starts late makes
//! players skip the start of the rest). The other samples are read as they are.

use std::ops::Range;

use crate::Result;
use crate::codec::aac;
use crate::mp4::moov::Track;
use crate::source::{Input, Made, MadeSamples, SampleMaker};

/// The track's samples as (file offset, size), and which of them are silent.
#[derive(Debug)]
pub(crate) struct SilentLead {
    samples: Vec<(u64, u32)>,
    silent: Range<usize>,
    frame: Vec<u8>,
}

impl SilentLead {
    /// `None` unless the track is clear AAC-LC of a standard channel configuration.
    pub fn of(track: &Track, silent: Range<usize>) -> Option<SilentLead> {
        if silent.is_empty() || track.codec.codecs != "mp4a.40.2" || track.protection.is_some() {
            return None;
        }
        let frame = aac::silent_lc_frame(track.codec.channels)?;
        let samples = track.table.cursor().map(|s| (s.offset, s.size)).collect();
        Some(SilentLead {
            samples,
            silent,
            frame,
        })
    }
}

impl MadeSamples for SilentLead {
    fn start<'a>(&'a self, input: &'a Input) -> Result<Box<dyn SampleMaker + 'a>> {
        Ok(Box::new(SilentLeadMaker {
            lead: self,
            next: 0,
            input,
        }))
    }
}

struct SilentLeadMaker<'a> {
    lead: &'a SilentLead,
    next: usize,
    input: &'a Input,
}

impl SampleMaker for SilentLeadMaker<'_> {
    fn next(&mut self, n: usize, data: &mut Vec<u8>, made: &mut Vec<Made>) -> Result<()> {
        let end = (self.next + n).min(self.lead.samples.len());
        for i in self.next..end {
            let size = if self.lead.silent.contains(&i) {
                data.extend_from_slice(&self.lead.frame);
                self.lead.frame.len() as u32
            } else {
                let (offset, size) = self.lead.samples[i];
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
