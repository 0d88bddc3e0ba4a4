//! One rung of the ladder, encoded as its segments are written: the shared decoder's
//! pictures, scaled (and turned upright), into libx264, a segment's samples at a time.
//! The source's closed captions go into the SEI of the sample made from their picture.

use std::collections::BTreeMap;
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Mutex};

use dashpack_av::{H264Encoder, H264Settings, Scaler, Turn};

use super::decode::{Decoded, Msg, SharedDecode};
use crate::codec::{Family, annexb, captions};
use crate::source::{Input, Made, MadeSamples, SampleMaker};
use crate::{Error, Result};

/// Pictures the decoder may fail to give (leading pictures of an open GOP, a broken
/// sample) that are filled by repeating a neighbour, before the rung fails instead.
fn fill_limit(frames: usize) -> usize {
    8 + frames / 100
}

/// The source's frames as planned: shared by the rungs of one track.
#[derive(Debug)]
pub(super) struct Frames {
    /// Presentation times, ascending, in the source's media ticks.
    pub shown: Vec<i64>,
    /// Which presentation positions are IDR frames (segment starts).
    pub idr: Vec<bool>,
    /// Subtracted from a source time to give the rung's media time.
    pub base: i64,
    pub turn: Turn,
    /// For messages: the input, the track, its sample entry type.
    pub file: String,
    pub track: u32,
    pub fourcc: String,
}

impl Frames {
    pub fn fail(&self, why: impl std::fmt::Display) -> Error {
        Error::UncarriedTrack {
            file: self.file.clone(),
            track: self.track,
            handler: "vide".into(),
            codec: self.fourcc.clone(),
            reason: format!("cannot encode the ladder: {why}"),
        }
    }
}

/// One rung's samples, made while the rung is written.
#[derive(Debug)]
pub(super) struct RungSamples {
    pub decode: Arc<SharedDecode>,
    pub frames: Arc<Frames>,
    pub rung: usize,
    pub settings: H264Settings,
    /// The encoder opened while planning: its SPS and PPS are the init segment's.
    pub encoder: Mutex<Option<H264Encoder>>,
}

impl MadeSamples for RungSamples {
    fn start<'a>(&'a self, _input: &'a Input) -> Result<Box<dyn SampleMaker + 'a>> {
        let pictures = self
            .decode
            .pictures(self.rung)
            .ok_or_else(|| Error::internal("a ladder rung was started twice"))?;
        let encoder = self
            .encoder
            .lock()
            .ok()
            .and_then(|mut e| e.take())
            .ok_or_else(|| Error::internal("a ladder rung was started twice"))?;
        Ok(Box::new(RungMaker {
            frames: &self.frames,
            pictures,
            scaler: Scaler::new(self.settings.width, self.settings.height, self.frames.turn),
            encoder,
            next: 0,
            captions: BTreeMap::new(),
            held: None,
            last: None,
            fills: 0,
            finished: false,
        }))
    }
}

struct RungMaker<'a> {
    frames: &'a Frames,
    pictures: Receiver<Msg>,
    scaler: Scaler,
    encoder: H264Encoder,
    /// The next presentation position to encode.
    next: usize,
    /// Captions of pictures sent to the encoder, by the rung's presentation time, until
    /// their sample comes out.
    captions: BTreeMap<i64, Vec<[u8; 3]>>,
    /// A picture received ahead of its position (the decoder skipped some).
    held: Option<Arc<Decoded>>,
    last: Option<Arc<Decoded>>,
    fills: usize,
    finished: bool,
}

impl SampleMaker for RungMaker<'_> {
    fn next(&mut self, n: usize, data: &mut Vec<u8>, made: &mut Vec<Made>) -> Result<()> {
        let mut got = 0;
        while got < n {
            let f = self.frames;
            if let Some(sample) = self.encoder.receive().map_err(|e| f.fail(e))? {
                let start = data.len();
                annexb::to_length_prefixed(&sample.data, data);
                if let Some(triples) = self.captions.remove(&sample.pts) {
                    with_captions(data, start, &triples);
                }
                let size = data.len() - start;
                made.push(Made {
                    size: u32::try_from(size).map_err(|_| f.fail("a sample over 4 GiB"))?,
                    shown: Some((sample.pts, sample.key)),
                });
                got += 1;
            } else if self.finished {
                return Err(f.fail(format!(
                    "the encoder ended {} samples short of {}",
                    n - got,
                    f.shown.len()
                )));
            } else if self.next < f.shown.len() {
                self.feed()?;
            } else {
                self.encoder.finish().map_err(|e| f.fail(e))?;
                self.finished = true;
            }
        }
        Ok(())
    }
}

impl RungMaker<'_> {
    /// Encodes the picture at the next position: the decoder's, or a neighbour's when
    /// the decoder gave none for it.
    fn feed(&mut self) -> Result<()> {
        let f = self.frames;
        let want = f.shown[self.next];
        let picture = match self.held.take() {
            Some(p) => Some(p),
            None => match self.pictures.recv() {
                Ok(Msg::Picture(p)) => Some(p),
                Ok(Msg::Failed(why)) => return Err(f.fail(format!("decoding: {why}"))),
                Err(_) => None, // the decoder has given everything
            },
        };
        let use_now = match picture {
            Some(p) if p.picture.pts() == Some(want) => {
                // A repeated picture (a fill) does not repeat its captions.
                if !p.captions.is_empty() {
                    self.captions.insert(want - f.base, p.captions.clone());
                }
                p
            }
            Some(p) if p.picture.pts().is_some_and(|t| t < want) => {
                return Err(f.fail(format!(
                    "the decoder gave a picture at {} where the source shows none",
                    p.picture.pts().unwrap_or_default()
                )));
            }
            other => {
                // Missing: repeat the picture before, or the one after at the start.
                self.fills += 1;
                if self.fills > fill_limit(f.shown.len()) {
                    return Err(f.fail(format!(
                        "the decoder gave no picture for {} of {} frames",
                        self.fills,
                        f.shown.len()
                    )));
                }
                let fill = self.last.clone().or_else(|| other.clone());
                self.held = other;
                fill.ok_or_else(|| f.fail("the decoder gave no picture"))?
            }
        };
        let frame = self.scaler.scale(&use_now.picture).map_err(|e| f.fail(e))?;
        self.encoder
            .send(frame, want - f.base, f.idr[self.next])
            .map_err(|e| f.fail(e))?;
        self.last = Some(use_now);
        self.next += 1;
        Ok(())
    }
}

/// The length-prefixed H.264 sample at `data[start..]` with `triples` in an SEI NAL unit
/// before its first slice.
fn with_captions(data: &mut Vec<u8>, start: usize, triples: &[[u8; 3]]) {
    let mut sei = Vec::new();
    captions::sei_nal_units(Family::Avc, 4, triples, &mut sei);
    let sample = data.split_off(start);
    captions::insert_before_picture(Family::Avc, 4, &sample, &sei, data);
}
