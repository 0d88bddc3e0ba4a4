//! Audio every browser plays, with a ladder: audio that is not AAC (MP3, AC-3, E-AC-3,
//! Opus, FLAC, ALAC, DTS, TrueHD, AMR) decoded with FFmpeg and encoded to AAC-LC (FFmpeg's
//! encoder), mono or stereo: more channels are mixed down to stereo.
//!
//! Planned before anything is decoded, like the ladder's video: the output has exactly
//! the source's duration at the output rate (the decoded audio is cut or padded with
//! silence to it), so its packet count is known up front: the encoder's priming (1024
//! samples) plus the audio, in packets of 1024. The priming is hidden by the edit, which
//! otherwise keeps the source's, converted to the output rate.

use std::collections::VecDeque;
use std::sync::Mutex;

use dashpack_av::{AacEncoder, AudioCodec, AudioDecoder};

use super::{box_err, first_entry};
use crate::Result;
use crate::carriage::CheckedTrack;
use crate::codec::{self, Family};
use crate::error::Error;
use crate::mp4::file::sample_stats;
use crate::mp4::header::{fourcc_str, whole_box};
use crate::mp4::moov::Track;
use crate::mp4::sample_table::{Cursor, SampleTable};
use crate::mp4::write::audio_entry::mp4a_stsd;
use crate::source::{Input, Made, MadeSamples, SampleMaker};

/// Rates AAC-LC is written at as they are; others become 48 kHz.
const RATES: [u32; 9] = [
    8_000, 11_025, 12_000, 16_000, 22_050, 24_000, 32_000, 44_100, 48_000,
];
/// Bit rate per channel at 32 kHz and above; lower rates get 2 bits per sample (FFmpeg's
/// encoder given more at 8 kHz writes frames over AAC's 6144 bits per channel).
const BITS_PER_CHANNEL: u32 = 64_000;

/// A track planned as AAC-LC; its packets are made while it is written.
#[derive(Debug)]
pub(crate) struct AacTrack {
    source: SampleTable,
    codec: AudioCodec,
    config: Vec<u8>,
    rate: u32,
    channels: u16,
    /// Samples (per channel) given to the encoder: the source's duration at `rate`.
    samples: u64,
    packets: u32,
    /// Opened while planning: its AudioSpecificConfig is the sample entry's.
    encoder: Mutex<Option<AacEncoder>>,
    file: String,
    track: u32,
    fourcc: String,
}

impl AacTrack {
    fn fail(&self, why: impl std::fmt::Display) -> Error {
        refuse(&self.file, self.track, &self.fourcc, why)
    }
}

fn refuse(file: &str, track: u32, fourcc: &str, why: impl std::fmt::Display) -> Error {
    Error::UncarriedTrack {
        file: file.to_string(),
        track,
        handler: "soun".into(),
        codec: fourcc.to_string(),
        reason: format!("cannot encode it to AAC: {why}"),
    }
}

/// Whether FFmpeg decodes this track's audio here.
pub(crate) fn decodable(t: &Track) -> bool {
    decoder_config(t).is_ok()
}

/// `source` as an AAC-LC track (same id, language and timing), to be made as it is
/// written.
pub(crate) fn to_aac(input: &Input, source: &CheckedTrack) -> Result<CheckedTrack> {
    let t = &source.track;
    let fourcc = fourcc_str(&t.codec.fourcc);
    let fail = |why: String| refuse(input.name(), t.id, &fourcc, why);
    if t.protection.is_some() {
        return Err(fail("the track is encrypted".into()));
    }
    let (codec, config) = decoder_config(t).map_err(fail)?;
    let (source_rate, source_channels) = probe(input, t, codec, &config)
        .map_err(|e| fail(format!("decoding: {e}")))?
        .ok_or_else(|| fail("the decoder gives no audio".into()))?;
    let rate = if RATES.contains(&source_rate) {
        source_rate
    } else {
        48_000
    };
    // Mono stays mono; stereo and more is stereo.
    let channels = source_channels.clamp(1, 2);
    let bit_rate = u32::from(channels) * BITS_PER_CHANNEL.min(rate * 2);
    let encoder = AacEncoder::new(rate, channels, u64::from(bit_rate))
        .map_err(|e| fail(format!("the AAC encoder failed: {e}")))?;
    let duration: u64 = t.table.cursor().map(|s| u64::from(s.duration)).sum();
    let to_rate = |v: i64| {
        (i128::from(v) * i128::from(rate) + i128::from(t.timescale / 2))
            .div_euclid(i128::from(t.timescale.max(1))) as i64
    };
    let samples = u64::try_from(to_rate(duration as i64)).unwrap_or(0);
    let priming = encoder.delay();
    let packets = u32::try_from((samples + u64::from(priming)).div_ceil(AacEncoder::FRAME as u64))
        .map_err(|_| fail("too long for one AAC track".into()))?;

    let mut track = t.clone();
    track.stsd = mp4a_stsd(rate, channels, encoder.config(), bit_rate);
    let stsd = whole_box(&track.stsd).ok_or_else(|| fail("no sample description".into()))?;
    let entry = first_entry(&stsd).map_err(fail)?;
    track.codec = codec::parse_sample_entry(&entry)
        .map_err(|e| fail(box_err(e)))?
        .ok_or_else(|| fail("the encoder's sample entry does not read back".into()))?;
    let priming = i64::from(priming);
    track.edit.media_time = to_rate(t.edit.media_time) + priming;
    track.edit.end = Some(to_rate(t.edit.end.unwrap_or(duration as i64)) + priming);
    for j in &mut track.edit.joins {
        j.media_time = to_rate(j.media_time) + priming;
        j.end = j.end.map(|e| to_rate(e) + priming);
        j.at = to_rate(j.at);
    }
    track.start_dts = u64::try_from(to_rate(t.start_dts as i64)).unwrap_or(0);
    track.timescale = rate;
    let nominal = bit_rate / 8 * AacEncoder::FRAME as u32 / rate;
    track.table = SampleTable::made(packets, AacEncoder::FRAME as u32, nominal.max(1));
    track.inband.clear();
    track.aux.clear();
    track.aux_at = None;
    track.usable_entries = 1;
    let stats = sample_stats(&track, u64::from(packets) * u64::from(nominal))
        .map_err(|e| e.in_file(input.name()))?;
    Ok(CheckedTrack {
        track,
        stats,
        made: Some(Box::new(AacTrack {
            source: t.table.clone(),
            codec,
            config,
            rate,
            channels,
            samples,
            packets,
            encoder: Mutex::new(Some(encoder)),
            file: input.name().to_string(),
            track: t.id,
            fourcc,
        })),
    })
}

/// The rate and channels the source decodes to, from its first samples.
fn probe(
    input: &Input,
    t: &Track,
    codec: AudioCodec,
    config: &[u8],
) -> std::result::Result<Option<(u32, u16)>, String> {
    let mut packets = Vec::new();
    for s in t.table.cursor().take(32) {
        let mut data = vec![0u8; s.size as usize];
        input
            .source()
            .read_exact_at(&mut data, s.offset)
            .map_err(|e| format!("reading sample {} at byte {}: {e}", s.index + 1, s.offset))?;
        packets.push(data);
    }
    AudioDecoder::probe(codec, config, packets.iter().map(Vec::as_slice)).map_err(|e| e.to_string())
}

/// FFmpeg's decoder for the track and its configuration: Opus's `OpusHead` (from
/// `dOps`), FLAC's metadata blocks after `fLaC` (from `dfLa`), the whole `alac` box.
fn decoder_config(t: &Track) -> std::result::Result<(AudioCodec, Vec<u8>), String> {
    let stsd = whole_box(&t.stsd).ok_or("no sample description")?;
    let entry = first_entry(&stsd)?;
    let child = |kind: &[u8; 4]| -> std::result::Result<Vec<u8>, String> {
        let at = codec::sound_description(&entry)
            .map_err(box_err)?
            .children_at;
        let b = codec::find_child(&entry, at, kind)
            .map_err(box_err)?
            .ok_or_else(|| format!("no {} box", fourcc_str(kind)))?;
        Ok(b.raw.to_vec())
    };
    let body = |raw: Vec<u8>, skip: usize| raw.get(skip..).unwrap_or_default().to_vec();
    Ok(match (t.codec.family, &t.codec.fourcc) {
        (Family::Aac, _) if !t.codec.codecs.starts_with("mp4a.40") => (AudioCodec::Mp3, vec![]),
        (Family::Ac3, _) => (AudioCodec::Ac3, vec![]),
        (Family::Eac3, _) => (AudioCodec::Eac3, vec![]),
        (Family::Dts, _) => (AudioCodec::Dts, vec![]),
        (Family::TrueHd, _) => (AudioCodec::TrueHd, vec![]),
        (Family::Legacy, b"samr") => (AudioCodec::AmrNb, vec![]),
        (Family::Legacy, b"sawb") => (AudioCodec::AmrWb, vec![]),
        (Family::Alac, _) => (AudioCodec::Alac, child(b"alac")?),
        (Family::Flac, _) => {
            let mut head = b"fLaC".to_vec();
            head.extend(body(child(b"dfLa")?, 12));
            (AudioCodec::Flac, head)
        }
        (Family::Opus, _) => (AudioCodec::Opus, opus_head(&body(child(b"dOps")?, 8))?),
        _ => return Err("no decoder for this codec here".into()),
    })
}

/// `OpusHead` (RFC 7845 5.1) from a `dOps` body (Opus in ISOBMFF 4.3.2): the same
/// fields, little-endian, but a pre-skip of 0: FFmpeg's decoder drops the pre-skip it
/// is given, and here the edit list (converted with the rest) hides it, so decoded
/// sample `i` stays media time `i`.
fn opus_head(dops: &[u8]) -> std::result::Result<Vec<u8>, String> {
    if dops.len() < 11 {
        return Err("dOps is too short".into());
    }
    let mut h = b"OpusHead".to_vec();
    h.push(1);
    h.push(dops[1]); // channels
    h.extend([0, 0]); // pre-skip
    h.extend([dops[7], dops[6], dops[5], dops[4]]); // input rate
    h.extend([dops[9], dops[8]]); // output gain
    h.extend_from_slice(&dops[10..]); // mapping family and its table
    Ok(h)
}

impl MadeSamples for AacTrack {
    fn start<'a>(&'a self, input: &'a Input) -> Result<Box<dyn SampleMaker + 'a>> {
        let decoder = AudioDecoder::new(self.codec, &self.config, self.rate, self.channels)
            .map_err(|e| self.fail(e))?;
        let encoder = self
            .encoder
            .lock()
            .ok()
            .and_then(|mut e| e.take())
            .ok_or_else(|| Error::internal("an AAC track was started twice"))?;
        Ok(Box::new(AacMaker {
            track: self,
            input,
            samples: self.source.cursor(),
            decoder,
            encoder,
            pcm: Vec::new(),
            read: Vec::new(),
            fed: 0,
            ready: VecDeque::new(),
            finished: false,
            made: 0,
        }))
    }
}

/// One pass over the source: decode, cut or pad to the planned length, encode.
struct AacMaker<'a> {
    track: &'a AacTrack,
    input: &'a Input,
    samples: Cursor<'a>,
    decoder: AudioDecoder,
    encoder: AacEncoder,
    /// Decoded audio not yet encoded, interleaved.
    pcm: Vec<f32>,
    read: Vec<u8>,
    /// Samples (per channel) given to the encoder.
    fed: u64,
    /// Packets encoded, not yet written.
    ready: VecDeque<Vec<u8>>,
    finished: bool,
    made: u32,
}

impl AacMaker<'_> {
    /// Decodes the next source sample (or, after the last, what the decoder holds, then
    /// silence up to the planned length) and encodes every whole frame.
    fn feed(&mut self) -> Result<()> {
        let t = self.track;
        let n = usize::from(t.channels);
        match self.samples.next() {
            Some(s) => {
                self.read.resize(s.size as usize, 0);
                self.input
                    .source()
                    .read_exact_at(&mut self.read, s.offset)
                    .map_err(|e| {
                        let what = format!(
                            "{}: read sample {} at byte {}",
                            t.file,
                            s.index + 1,
                            s.offset
                        );
                        Error::io(what, e)
                    })?;
                let fail = |e| t.fail(format!("sample {} (byte {}): {e}", s.index + 1, s.offset));
                self.decoder.send(&self.read).map_err(fail)?;
                self.decoder.receive(&mut self.pcm).map_err(fail)?;
            }
            None => {
                self.decoder.finish().map_err(|e| t.fail(e))?;
                self.decoder.receive(&mut self.pcm).map_err(|e| t.fail(e))?;
                let left = (t.samples - self.fed) as usize * n;
                self.pcm.resize(left, 0.0);
            }
        }
        let mut at = 0;
        while self.fed < t.samples {
            // Whole frames; the last may be short.
            let want = (t.samples - self.fed).min(AacEncoder::FRAME as u64) as usize;
            if (self.pcm.len() - at) / n < want {
                break;
            }
            self.encoder
                .send(&self.pcm[at..at + want * n])
                .map_err(|e| t.fail(e))?;
            self.collect()?;
            at += want * n;
            self.fed += want as u64;
        }
        self.pcm.drain(..at);
        if self.fed == t.samples && !self.finished {
            self.encoder.finish().map_err(|e| t.fail(e))?;
            self.collect()?;
            self.finished = true;
        }
        Ok(())
    }

    /// Every packet the encoder has ready (it takes no more frames until they are out).
    fn collect(&mut self) -> Result<()> {
        while let Some(p) = self.encoder.receive().map_err(|e| self.track.fail(e))? {
            self.ready.push_back(p);
        }
        Ok(())
    }
}

impl SampleMaker for AacMaker<'_> {
    fn next(&mut self, n: usize, data: &mut Vec<u8>, made: &mut Vec<Made>) -> Result<()> {
        let t = self.track;
        let mut got = 0;
        while got < n {
            if let Some(packet) = self.ready.pop_front() {
                data.extend_from_slice(&packet);
                made.push(Made {
                    size: u32::try_from(packet.len()).unwrap_or(u32::MAX),
                    shown: None,
                });
                got += 1;
                self.made += 1;
            } else if self.finished {
                return Err(Error::internal(format!(
                    "{}: track {}: the AAC encoder made {} packets where {} were planned",
                    t.file, t.track, self.made, t.packets
                )));
            } else {
                self.feed()?;
            }
        }
        Ok(())
    }
}
