//! The source video decoded once, on a thread of its own, each picture handed to every
//! rung through a channel a few pictures deep: memory is a few pictures per rung, and
//! the slowest encoder sets the pace. Closed captions in a sample's SEI go with its
//! picture, so every rung carries them on (the decoder drops SEI).

use std::collections::BTreeMap;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};

use dashpack_av::{Decoder, Picture, VideoCodec};

use super::thumbnails::{ThumbnailMaker, ThumbnailPlan};
use crate::codec::Family;
use crate::codec::captions;
use crate::mp4::moov::Track;
use crate::mp4::sample_table::{Sample, SampleTable};
use crate::source::Input;

/// Pictures queued per rung ahead of its encoder.
const DEPTH: usize = 4;

/// What a rung receives: pictures in presentation order, then the end of the channel;
/// or why decoding stopped.
pub(super) enum Msg {
    Picture(Arc<Decoded>),
    Failed(String),
}

/// A picture and the `cc_data` constructs of the sample it came from (with those of
/// any sample before it the decoder gave no picture for), in their order.
pub(super) struct Decoded {
    pub picture: Picture,
    pub captions: Vec<[u8; 3]>,
}

/// One decode of a source track, shared by its rungs. The decoder thread owns what it
/// reads: the rungs' channels close as soon as this (with the plan) is dropped.
pub(super) struct SharedDecode {
    job: Mutex<Option<DecodeJob>>,
    receivers: Vec<Mutex<Option<Receiver<Msg>>>>,
}

struct DecodeJob {
    input: Input,
    table: SampleTable,
    codec: VideoCodec,
    config: Vec<u8>,
    timescale: u32,
    /// Per sample description (from 1), parameter sets to put before a sample whose
    /// description changes (several H.264 or HEVC entries); empty otherwise.
    inband: Vec<Vec<u8>>,
    /// The source's framing when its SEI may carry captions (H.264, HEVC).
    captions: Option<(Family, u8)>,
    senders: Vec<SyncSender<Msg>>,
    thumbnails: Option<ThumbnailPlan>,
}

impl std::fmt::Debug for SharedDecode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedDecode")
            .field("rungs", &self.receivers.len())
            .finish()
    }
}

/// A picture's width, height and pixel aspect ratio (when the bitstream gives one).
pub(super) type Shown = (u32, u32, Option<(u32, u32)>);

/// The first picture's size and pixel aspect ratio as the bitstream gives them (the
/// sample entry may not: H.263 and MPEG-4 Part 2 carry the pixel aspect in the
/// picture headers only), from a decode of the first samples.
pub(super) fn first_picture(
    input: &Input,
    table: &SampleTable,
    (codec, config): (VideoCodec, &[u8]),
    timescale: u32,
    inband: &[Vec<u8>],
) -> Result<Option<Shown>, String> {
    let mut dec = Decoder::new(codec, config, timescale).map_err(|e| e.to_string())?;
    let (mut data, mut description) = (Vec::new(), 0);
    // A picture comes out within the decoder's delay; give up after a few seconds'
    // worth of samples.
    for s in table.cursor().take(300) {
        send(input, inband, &mut dec, &s, (&mut data, &mut description))?;
        if let Some(p) = dec.receive().map_err(|e| e.to_string())? {
            return Ok(Some((p.width(), p.height(), p.pixel_aspect())));
        }
    }
    dec.finish().map_err(|e| e.to_string())?;
    let last = dec.receive().map_err(|e| e.to_string())?;
    Ok(last.map(|p| (p.width(), p.height(), p.pixel_aspect())))
}

impl SharedDecode {
    pub fn new(
        input: &Input,
        t: &Track,
        (codec, config): (VideoCodec, Vec<u8>),
        rungs: usize,
        thumbnails: ThumbnailPlan,
    ) -> Self {
        let (senders, receivers): (Vec<_>, Vec<_>) = (0..rungs)
            .map(|_| {
                let (tx, rx) = sync_channel(DEPTH);
                (tx, Mutex::new(Some(rx)))
            })
            .unzip();
        let family = t.codec.family;
        let job = DecodeJob {
            input: input.clone(),
            table: t.table.clone(),
            codec,
            config,
            timescale: t.timescale,
            inband: t.inband.clone(),
            captions: matches!(family, Family::Avc | Family::Hevc)
                .then_some((family, t.codec.nal_length_size)),
            senders,
            thumbnails: Some(thumbnails),
        };
        SharedDecode {
            job: Mutex::new(Some(job)),
            receivers,
        }
    }

    /// Rung `rung`'s pictures; the first rung to ask starts the decoder. `None` when
    /// asked twice.
    pub fn pictures(&self, rung: usize) -> Option<Receiver<Msg>> {
        let job = self.job.lock().ok()?.take();
        if let Some(job) = job {
            std::thread::Builder::new()
                .name("dashpack-decode".into())
                .spawn(move || job.run())
                .ok()?;
        }
        self.receivers.get(rung)?.lock().ok()?.take()
    }
}

impl DecodeJob {
    /// Decodes every sample in order and hands each picture to every rung still
    /// listening (and to the thumbnails); stops early when no rung is.
    fn run(mut self) {
        let mut senders = std::mem::take(&mut self.senders);
        let mut thumbnails = self.thumbnails.take().map(ThumbnailMaker::new);
        let whole = self.decode_all(&mut senders, &mut thumbnails);
        let result = match thumbnails {
            Some(t) => t.finish(whole),
            None => whole.map(|_| ()),
        };
        if let Err(why) = result {
            for tx in &senders {
                let _ = tx.send(Msg::Failed(why.clone()));
            }
        }
    }

    /// True when every sample was decoded (no rung stopped listening).
    fn decode_all(
        &self,
        senders: &mut Vec<SyncSender<Msg>>,
        thumbnails: &mut Option<ThumbnailMaker>,
    ) -> Result<bool, String> {
        let mut dec =
            Decoder::new(self.codec, &self.config, self.timescale).map_err(|e| e.to_string())?;
        let (mut data, mut description) = (Vec::new(), 0);
        // Captions by their sample's presentation time, until its picture comes out.
        let mut captions: BTreeMap<i64, Vec<[u8; 3]>> = BTreeMap::new();
        for s in self.table.cursor() {
            let start = send(
                &self.input,
                &self.inband,
                &mut dec,
                &s,
                (&mut data, &mut description),
            )?;
            if let Some((family, length_size)) = self.captions {
                let mut found = Vec::new();
                captions::cc_data(family, length_size, &data[start..], &mut found);
                if !found.is_empty() {
                    captions.insert(s.dts as i64 + s.cto, found);
                }
            }
            if !hand_out(&mut dec, senders, thumbnails, &mut captions)? {
                return Ok(false);
            }
        }
        dec.finish().map_err(|e| e.to_string())?;
        hand_out(&mut dec, senders, thumbnails, &mut captions)
    }
}

/// Sends sample `s` (after its parameter sets when they change: `inband`, per sample
/// description) to the decoder; `data` and the last description are the caller's.
/// Returns where the sample's own bytes start in `data`.
fn send(
    input: &Input,
    inband: &[Vec<u8>],
    dec: &mut Decoder,
    s: &Sample,
    (data, description): (&mut Vec<u8>, &mut u32),
) -> Result<usize, String> {
    data.clear();
    if let Some(prefix) = inband.get((s.description as usize).saturating_sub(1))
        && (s.sync || s.description != *description)
    {
        data.extend_from_slice(prefix);
    }
    *description = s.description;
    let start = data.len();
    data.resize(start + s.size as usize, 0);
    input
        .source()
        .read_exact_at(&mut data[start..], s.offset)
        .map_err(|e| format!("reading sample {} at byte {}: {e}", s.index + 1, s.offset))?;
    dec.send(data, s.dts as i64 + s.cto, s.dts as i64)
        .map_err(|e| format!("sample {} (byte {}): {e}", s.index + 1, s.offset))?;
    Ok(start)
}

/// Every picture the decoder has ready, with the captions of its sample and of earlier
/// ones left without a picture, to every rung and the thumbnails; false when no rung
/// listens.
fn hand_out(
    dec: &mut Decoder,
    senders: &mut Vec<SyncSender<Msg>>,
    thumbnails: &mut Option<ThumbnailMaker>,
    captions: &mut BTreeMap<i64, Vec<[u8; 3]>>,
) -> Result<bool, String> {
    while let Some(picture) = dec.receive().map_err(|e| e.to_string())? {
        if let Some(t) = thumbnails {
            t.offer(&picture)?;
        }
        let mut mine = Vec::new();
        if let Some(pts) = picture.pts() {
            while let Some(entry) = captions.first_entry().filter(|e| *e.key() <= pts) {
                mine.extend(entry.remove());
            }
        }
        let p = Arc::new(Decoded {
            picture,
            captions: mine,
        });
        // A full channel waits for its rung; a closed one (the rung stopped) is
        // dropped.
        senders.retain(|tx| tx.send(Msg::Picture(Arc::clone(&p))).is_ok());
        if senders.is_empty() {
            return Ok(false);
        }
    }
    Ok(true)
}
