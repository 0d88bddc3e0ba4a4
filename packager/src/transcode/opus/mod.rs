//! Audio that DASH players cannot take, made into audio they can: uncompressed PCM
//! (the audio of most camera and screen-recorder files) is encoded in-process to Opus
//! with libopus, sample-accurate against the input's timeline.
//!
//! Why Opus: it is the one well-kept, freely licensed encoder library of a codec every
//! current browser decodes in MP4 (Chromium, Firefox, Safari 17+); libopus is the
//! reference implementation (Xiph, BSD), built from source and linked statically, so
//! the packager gains no runtime dependency. AAC would need FDK-AAC, whose licence is
//! not free.
//!
//! Rates Opus does not take (44.1, 96 kHz, ...) are resampled to 48 kHz first
//! (`resample`: windowed sinc, linear phase, so no sample moves in time).
//!
//! Timing: Opus in ISOBMFF (Opus-in-ISOBMFF 4.3) runs at 48 kHz, 20 ms per sample. The
//! encoder's delay is written as `dOps` PreSkip and taken out by moving the track's
//! edit (its media time) by the same amount, so the first decoded sample presented is
//! the first input sample, at the time the input's edit list gives it.

pub(crate) mod channels;
pub(crate) mod resample;

use dashpack_opus::Encoder;

use crate::Result;
use crate::carriage::CheckedTrack;
use crate::codec::pcm::PcmFormat;
use crate::codec::{CodecInfo, Family};
use crate::error::Error;
use crate::mp4::file::sample_stats;
use crate::mp4::moov::Track;
use crate::mp4::sample_table::{Cursor, SampleTable};
use crate::source::{Input, Made, MadeSamples, SampleMaker};

/// Opus's one timescale in ISOBMFF, and its sample: 20 ms.
const OPUS_RATE: u32 = 48_000;
const FRAME_48K: u32 = 960;
/// Bit rate per channel: transparent for speech and music at 20 ms frames.
const BITS_PER_CHANNEL: i32 = 96_000;
/// Most PCM bytes read in one go.
const READ_BLOCK: usize = 1 << 20;

/// Why a PCM track cannot be transcoded here, for [`Error::UncarriedTrack`].
fn refuse(file: &str, track: u32, fourcc: &[u8; 4], reason: String) -> Error {
    Error::UncarriedTrack {
        file: file.to_string(),
        track,
        handler: "soun".into(),
        codec: crate::mp4::header::fourcc_str(fourcc),
        reason,
    }
}

/// A PCM track planned as Opus. Its packets are made while the track is written, a
/// segment at a time ([`MadeSamples`]): memory holds one segment's audio, not the track.
#[derive(Debug)]
pub(crate) struct OpusTrack {
    /// The PCM samples, in decode order.
    pcm: SampleTable,
    format: PcmFormat,
    /// Output channel `i` is input channel `order[i]` (3 to 8 channels).
    order: Option<Vec<usize>>,
    /// How many packets the input makes, known before encoding.
    packets: u32,
    track: u32,
    fourcc: [u8; 4],
}

/// Plans a PCM track as Opus: the track is rewritten in place (codec, sample entry,
/// tables, timescale, edit), with each packet's size learnt as it is encoded. Nothing is
/// read: a PCM track the encoder cannot take is refused here, before anything is written.
pub(crate) fn to_opus(input: &Input, c: &mut CheckedTrack) -> Result<OpusTrack> {
    let (name, id, fourcc) = (input.name(), c.track.id, c.track.codec.fourcc);
    let Some(format) = c.track.codec.pcm else {
        return Err(refuse(name, id, &fourcc, "not PCM".into()));
    };
    let order = surround_order(format).map_err(|why| refuse(name, id, &fourcc, why))?;
    let opus_err = |e: dashpack_opus::Error| {
        refuse(name, id, &fourcc, format!("the Opus encoder failed: {e}"))
    };
    let (mut encoder, encoder_rate, _) = encoder_for(format).map_err(opus_err)?;
    let lookahead = u32::try_from(encoder.lookahead().map_err(opus_err)?).unwrap_or(0);
    let pre_skip = lookahead * (OPUS_RATE / encoder_rate);

    let bpf = format.bytes_per_frame();
    let mut frames_in = 0u64;
    for s in c.track.table.cursor() {
        let size = s.size as usize;
        if !size.is_multiple_of(bpf) {
            let why = format!(
                "PCM sample {} of {size} bytes is not whole frames of {bpf} bytes",
                s.index + 1
            );
            return Err(refuse(name, id, &fourcc, why));
        }
        frames_in += (size / bpf) as u64;
    }
    // Frames the encoder is given: the input at its rate (the resampler makes
    // ceil(frames * 48000 / rate)), then `lookahead` of silence so the last input
    // samples come out too (the edit's end hides it); the last packet is zero-filled.
    let at_encoder_rate = if encoder_rate == format.rate {
        frames_in
    } else {
        (frames_in * u64::from(OPUS_RATE)).div_ceil(u64::from(format.rate))
    };
    let frame = u64::from(encoder_rate / 50);
    let packets = u32::try_from((at_encoder_rate + u64::from(lookahead)).div_ceil(frame))
        .map_err(|_| refuse(name, id, &fourcc, "too long for one Opus track".into()))?;

    let pcm = rewrite_track(&mut c.track, format, pre_skip, frames_in, packets);
    // Sizes are not known before encoding: the statistics count the nominal bit rate.
    let nominal = nominal_packet_bytes(format.channels);
    c.stats = sample_stats(&c.track, u64::from(packets) * u64::from(nominal))
        .map_err(|e| e.in_file(name))?;
    Ok(OpusTrack {
        pcm,
        format,
        order,
        packets,
        track: id,
        fourcc,
    })
}

/// A 20 ms packet at the nominal bit rate.
fn nominal_packet_bytes(channels: u16) -> u32 {
    (BITS_PER_CHANNEL as u32 * u32::from(channels)) / 50 / 8
}

impl MadeSamples for OpusTrack {
    fn start<'a>(&'a self, input: &'a Input) -> Result<Box<dyn SampleMaker + 'a>> {
        let (mut encoder, encoder_rate, resampler) =
            encoder_for(self.format).map_err(|e| self.encoder_failed(input, e))?;
        let lookahead = encoder
            .lookahead()
            .map_err(|e| self.encoder_failed(input, e))?;
        let channels = usize::from(self.format.channels);
        Ok(Box::new(OpusMaker {
            track: self,
            input,
            samples: self.pcm.cursor().peekable(),
            encoder,
            resampler,
            frame_values: (encoder_rate / 50) as usize * channels,
            padding: usize::try_from(lookahead).unwrap_or(0) * channels,
            pcm: Vec::new(),
            at: 0,
            frame: Vec::new(),
            block: Vec::new(),
            decoded: Vec::new(),
            // At most 1275 bytes per stream (RFC 6716 3.2.1), at most 8 streams.
            packet: vec![0u8; 1275 * 8],
            ended: false,
            made: 0,
        }))
    }
}

impl OpusTrack {
    fn encoder_failed(&self, input: &Input, e: dashpack_opus::Error) -> Error {
        let why = format!("the Opus encoder failed: {e}");
        refuse(input.name(), self.track, &self.fourcc, why)
    }
}

/// One pass of the encoder over a PCM track.
struct OpusMaker<'a> {
    track: &'a OpusTrack,
    input: &'a Input,
    samples: std::iter::Peekable<Cursor<'a>>,
    encoder: Encoder,
    resampler: Option<resample::Resampler>,
    /// Interleaved values in one 20 ms frame at the encoder's rate.
    frame_values: usize,
    /// The silence after the input: the encoder's lookahead.
    padding: usize,
    /// Audio at the encoder's rate not yet encoded, from `at`.
    pcm: Vec<f32>,
    at: usize,
    frame: Vec<f32>,
    block: Vec<u8>,
    decoded: Vec<f32>,
    packet: Vec<u8>,
    /// Every input sample read and the padding added.
    ended: bool,
    made: u32,
}

impl OpusMaker<'_> {
    /// Reads the next run of neighbouring PCM samples (at most [`READ_BLOCK`] bytes)
    /// into `pcm`, at the encoder's rate; after the last, the padding.
    fn fill(&mut self) -> Result<()> {
        self.pcm.drain(..self.at);
        self.at = 0;
        let mut run: Option<(u64, usize)> = None;
        while let Some(s) = self.samples.peek() {
            let size = s.size as usize;
            match run {
                None => run = Some((s.offset, size)),
                Some((offset, len))
                    if offset + len as u64 == s.offset && len + size <= READ_BLOCK =>
                {
                    run = Some((offset, len + size));
                }
                Some(_) => break,
            }
            self.samples.next();
        }
        self.decoded.clear();
        if let Some((offset, len)) = run {
            self.block.resize(len, 0);
            self.input
                .source()
                .read_exact_at(&mut self.block, offset)
                .map_err(|e| {
                    let name = self.input.name();
                    Error::io(format!("{name}: read PCM at byte {offset}"), e)
                })?;
            self.track.format.decode(&self.block, &mut self.decoded);
            if let Some(order) = &self.track.order {
                reorder(&mut self.decoded, order);
            }
        }
        let last = run.is_none();
        match self.resampler.as_mut() {
            Some(r) => r.push(&self.decoded, last, &mut self.pcm),
            None => self.pcm.extend_from_slice(&self.decoded),
        }
        if last {
            self.pcm.resize(self.pcm.len() + self.padding, 0.0);
            self.ended = true;
        }
        Ok(())
    }

    /// The planned packet count and the audio disagree: a fault here, not in the input.
    fn miscount(&self) -> Error {
        Error::internal(format!(
            "{}: track {}: the Opus encoder made {} packets where {} were planned",
            self.input.name(),
            self.track.track,
            self.made,
            self.track.packets
        ))
    }
}

impl SampleMaker for OpusMaker<'_> {
    fn next(&mut self, n: usize, data: &mut Vec<u8>, made: &mut Vec<Made>) -> Result<()> {
        for _ in 0..n {
            while self.pcm.len() - self.at < self.frame_values && !self.ended {
                self.fill()?;
            }
            let left = self.pcm.len() - self.at;
            if left == 0 || self.made == self.track.packets {
                return Err(self.miscount());
            }
            let take = self.frame_values.min(left);
            self.frame.clear();
            self.frame
                .extend_from_slice(&self.pcm[self.at..self.at + take]);
            self.frame.resize(self.frame_values, 0.0);
            let bytes = self
                .encoder
                .encode_float(&self.frame, &mut self.packet)
                .map_err(|e| self.track.encoder_failed(self.input, e))?;
            data.extend_from_slice(&self.packet[..bytes]);
            made.push(Made {
                size: bytes as u32,
                shown: None,
            });
            self.at += take;
            self.made += 1;
        }
        if self.made == self.track.packets {
            while !self.ended {
                self.fill()?;
            }
            if self.at < self.pcm.len() {
                return Err(self.miscount());
            }
        }
        Ok(())
    }
}

/// The track as the Opus packets make it: codec, sample entry, tables, timescale and
/// the edit on the 48 kHz timeline (the encoder's pre-skip and padding hidden); returns
/// the PCM table.
fn rewrite_track(
    t: &mut Track,
    format: PcmFormat,
    pre_skip: u32,
    frames_in: u64,
    count: u32,
) -> SampleTable {
    // Input times (at the PCM rate) on the 48 kHz timeline, rounded to the nearest tick.
    let to_48k = |t: i64| {
        (i128::from(t) * i128::from(OPUS_RATE) + i128::from(format.rate / 2))
            .div_euclid(i128::from(format.rate)) as i64
    };
    t.edit.media_time = to_48k(t.edit.media_time) + i64::from(pre_skip);
    t.edit.end = Some(to_48k(frames_in as i64) + i64::from(pre_skip));
    t.start_dts = to_48k(t.start_dts as i64).max(0) as u64;
    t.timescale = OPUS_RATE;
    t.stsd = opus_stsd(format, pre_skip as u16);
    t.codec = CodecInfo::plain_audio(*b"Opus", Family::Opus, "opus", OPUS_RATE, format.channels);
    let opus = SampleTable::made(count, FRAME_48K, nominal_packet_bytes(format.channels));
    std::mem::replace(&mut t.table, opus)
}

/// Mono and stereo are one Opus stream; 3 to 8 channels are channel mapping family 1,
/// in the Vorbis order (`order[i]` is the input channel of output channel i).
fn surround_order(format: PcmFormat) -> std::result::Result<Option<Vec<usize>>, String> {
    match format.channels {
        1 | 2 => Ok(None),
        n => channels::to_vorbis_order(n, format.layout).map(Some),
    }
}

/// The encoder for `format`, its rate, and the resampler to it when one is needed:
/// Opus takes 8, 12, 16, 24 and 48 kHz; other rates are resampled to 48 kHz first.
fn encoder_for(
    format: PcmFormat,
) -> std::result::Result<(Encoder, u32, Option<resample::Resampler>), dashpack_opus::Error> {
    let n = format.channels;
    let native = matches!(format.rate, 8_000 | 12_000 | 16_000 | 24_000 | 48_000);
    let encoder_rate = if native { format.rate } else { OPUS_RATE };
    let resampler =
        (!native).then(|| resample::Resampler::new(format.rate, OPUS_RATE, usize::from(n)));
    let mut encoder = opus_encoder(encoder_rate, n)?;
    encoder.set_bitrate(BITS_PER_CHANNEL * i32::from(n))?;
    Ok((encoder, encoder_rate, resampler))
}

/// One Opus stream (mono, stereo) or several (mapping family 1); `channels` is 1 to 8
/// (more are refused before).
fn opus_encoder(rate: u32, channels: u16) -> std::result::Result<Encoder, dashpack_opus::Error> {
    match channels::family1(channels) {
        Some((streams, coupled, mapping)) => Encoder::multistream(rate, streams, coupled, mapping),
        None => Encoder::new(rate, channels),
    }
}

/// Puts each interleaved frame's channels in the order `order` gives.
fn reorder(frames: &mut [f32], order: &[usize]) {
    let mut tmp = vec![0f32; order.len()];
    for frame in frames.chunks_exact_mut(order.len()) {
        for (t, &from) in tmp.iter_mut().zip(order) {
            *t = frame[from];
        }
        frame.copy_from_slice(&tmp);
    }
}

/// `stsd` with one `Opus` AudioSampleEntry and its `dOps` (Opus in ISOBMFF 4.3).
fn opus_stsd(format: PcmFormat, pre_skip: u16) -> Vec<u8> {
    let mut dops = vec![0u8, format.channels as u8];
    dops.extend_from_slice(&pre_skip.to_be_bytes());
    dops.extend_from_slice(&format.rate.to_be_bytes()); // InputSampleRate
    dops.extend_from_slice(&0i16.to_be_bytes()); // OutputGain
    match channels::family1(format.channels) {
        // ChannelMappingFamily 1: streams, coupled streams, the channel mapping.
        Some((streams, coupled, mapping)) => {
            dops.extend_from_slice(&[1, streams, coupled]);
            dops.extend_from_slice(mapping);
        }
        None => dops.push(0), // ChannelMappingFamily 0: mono or stereo
    }
    let mut entry = vec![0u8; 6];
    entry.extend_from_slice(&1u16.to_be_bytes()); // data_reference_index
    entry.extend_from_slice(&[0; 8]);
    entry.extend_from_slice(&format.channels.to_be_bytes());
    entry.extend_from_slice(&16u16.to_be_bytes());
    entry.extend_from_slice(&[0; 4]);
    entry.extend_from_slice(&(OPUS_RATE << 16).to_be_bytes());
    entry.extend(boxed(b"dOps", &dops));
    let mut stsd = vec![0u8; 4];
    stsd.extend_from_slice(&1u32.to_be_bytes());
    stsd.extend(boxed(b"Opus", &entry));
    boxed(b"stsd", &stsd)
}

fn boxed(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
    let mut out = ((body.len() + 8) as u32).to_be_bytes().to_vec();
    out.extend_from_slice(kind);
    out.extend_from_slice(body);
    out
}
