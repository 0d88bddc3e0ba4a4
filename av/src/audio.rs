//! Audio: decode a track's packets, convert them (sample format, channel count, rate)
//! to interleaved 32-bit float, and encode AAC-LC with FFmpeg's own encoder.

use ff::codec::{self, Context};
use ff::software::resampling;
use ff::util::frame;
use ff::{ChannelLayout, Packet, Rational, format};
use ffmpeg_next as ff;

use super::{Error, Result, extradata, fail, init, set_extradata};

/// The audio codecs a source can be decoded from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AudioCodec {
    /// MPEG-1/2 audio, layers I to III.
    Mp3,
    Ac3,
    Eac3,
    Opus,
    Flac,
    Alac,
    Dts,
    TrueHd,
    AmrNb,
    AmrWb,
}

impl AudioCodec {
    fn id(self) -> codec::Id {
        match self {
            AudioCodec::Mp3 => codec::Id::MP3,
            AudioCodec::Ac3 => codec::Id::AC3,
            AudioCodec::Eac3 => codec::Id::EAC3,
            AudioCodec::Opus => codec::Id::OPUS,
            AudioCodec::Flac => codec::Id::FLAC,
            AudioCodec::Alac => codec::Id::ALAC,
            AudioCodec::Dts => codec::Id::DTS,
            AudioCodec::TrueHd => codec::Id::TRUEHD,
            AudioCodec::AmrNb => codec::Id::AMR_NB,
            AudioCodec::AmrWb => codec::Id::AMR_WB,
        }
    }
}

fn layout(channels: u16) -> ChannelLayout {
    ChannelLayout::default(i32::from(channels))
}

/// An audio decoder fed one sample (packet) at a time, giving interleaved `f32` at the
/// rate and channel count asked for (mixed down or resampled by libswresample).
pub struct AudioDecoder {
    dec: codec::decoder::Audio,
    convert: Option<resampling::Context>,
    rate: u32,
    channels: u16,
}

impl AudioDecoder {
    /// Opens the decoder for `codec` with its configuration (`OpusHead`, FLAC's
    /// `STREAMINFO`, the `alac` box; empty for the rest); output at `rate` Hz, `channels`.
    pub fn new(codec: AudioCodec, config: &[u8], rate: u32, channels: u16) -> Result<Self> {
        init()?;
        let found = codec::decoder::find(codec.id())
            .ok_or_else(|| Error(format!("FFmpeg has no {codec:?} decoder")))?;
        let mut ctx = Context::new_with_codec(found);
        set_extradata(&mut ctx, config)?;
        let dec = ctx
            .decoder()
            .open_as(found)
            .and_then(|o| o.audio())
            .map_err(fail("opening the audio decoder"))?;
        Ok(AudioDecoder {
            dec,
            convert: None,
            rate,
            channels,
        })
    }

    /// The rate and channel count of the first audio `packets` decode to (the sample
    /// entry may not say: MP3 in `mp4a` has no decoder configuration); `None` when they
    /// give none.
    pub fn probe<'p>(
        codec: AudioCodec,
        config: &[u8],
        packets: impl IntoIterator<Item = &'p [u8]>,
    ) -> Result<Option<(u32, u16)>> {
        let mut d = AudioDecoder::new(codec, config, 48_000, 2)?;
        for p in packets {
            d.send(p)?;
            let mut f = frame::Audio::empty();
            match d.dec.receive_frame(&mut f) {
                Ok(()) => return Ok(Some((f.rate(), f.channels()))),
                Err(ff::Error::Other { errno }) if errno == ff::util::error::EAGAIN => {}
                Err(e) => return Err(fail("decoding")(e)),
            }
        }
        Ok(None)
    }

    /// Sends one sample; take what it gives with [`AudioDecoder::receive`] before the
    /// next.
    pub fn send(&mut self, data: &[u8]) -> Result<()> {
        let packet = Packet::copy(data);
        self.dec.send_packet(&packet).map_err(fail("decoding"))
    }

    /// No more samples: what the decoder and the converter still hold comes out of the
    /// next [`AudioDecoder::receive`].
    pub fn finish(&mut self) -> Result<()> {
        self.dec.send_eof().map_err(fail("decoding"))
    }

    /// Appends every decoded sample ready to `out`, interleaved; after
    /// [`AudioDecoder::finish`], everything left.
    pub fn receive(&mut self, out: &mut Vec<f32>) -> Result<()> {
        loop {
            let mut f = frame::Audio::empty();
            match self.dec.receive_frame(&mut f) {
                Ok(()) => self.convert(&mut f, out)?,
                Err(ff::Error::Eof) => return self.drain(out),
                Err(ff::Error::Other { errno }) if errno == ff::util::error::EAGAIN => {
                    return Ok(());
                }
                Err(e) => return Err(fail("decoding")(e)),
            }
        }
    }

    fn convert(&mut self, f: &mut frame::Audio, out: &mut Vec<f32>) -> Result<()> {
        if f.channel_layout().is_empty() {
            let n = f.channels();
            f.set_channel_layout(layout(n));
        }
        let stale = self.convert.as_ref().is_none_or(|c| {
            let i = c.input();
            (i.format, i.channel_layout, i.rate) != (f.format(), f.channel_layout(), f.rate())
        });
        if stale {
            // A change of layout or rate mid-stream: what the old converter holds is
            // flushed first.
            self.drain(out)?;
            self.convert = Some(
                resampling::Context::get(
                    f.format(),
                    f.channel_layout(),
                    f.rate(),
                    format::Sample::F32(format::sample::Type::Packed),
                    layout(self.channels),
                    self.rate,
                )
                .map_err(fail("setting up the audio converter"))?,
            );
        }
        let room = f.samples() * self.rate as usize / f.rate().max(1) as usize + 256;
        let mut o = frame::Audio::new(
            format::Sample::F32(format::sample::Type::Packed),
            room,
            layout(self.channels),
        );
        if let Some(c) = self.convert.as_mut() {
            c.run(f, &mut o).map_err(fail("converting audio"))?;
        }
        push_interleaved(&o, self.channels, out);
        Ok(())
    }

    /// What the converter still holds (the resampler's filter tail).
    fn drain(&mut self, out: &mut Vec<f32>) -> Result<()> {
        let Some(c) = self.convert.as_mut() else {
            return Ok(());
        };
        loop {
            let mut o = frame::Audio::new(
                format::Sample::F32(format::sample::Type::Packed),
                4096,
                layout(self.channels),
            );
            c.flush(&mut o).map_err(fail("converting audio"))?;
            if o.samples() == 0 {
                return Ok(());
            }
            push_interleaved(&o, self.channels, out);
        }
    }
}

fn push_interleaved(f: &frame::Audio, channels: u16, out: &mut Vec<f32>) {
    let values = f.samples() * usize::from(channels);
    let bytes = f.data(0);
    out.extend(
        bytes
            .chunks_exact(4)
            .take(values)
            .map(|b| f32::from_ne_bytes([b[0], b[1], b[2], b[3]])),
    );
}

/// An AAC-LC encoder (FFmpeg's `aac`): 1024 samples per packet.
pub struct AacEncoder {
    enc: codec::encoder::Audio,
    config: Vec<u8>,
    channels: u16,
    sent: i64,
}

impl std::fmt::Debug for AacEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AacEncoder")
            .field("channels", &self.channels)
            .finish_non_exhaustive()
    }
}

impl AacEncoder {
    /// Samples per packet.
    pub const FRAME: usize = 1024;

    pub fn new(rate: u32, channels: u16, bit_rate: u64) -> Result<Self> {
        init()?;
        let aac = codec::encoder::find(codec::Id::AAC)
            .ok_or_else(|| Error("FFmpeg has no AAC encoder".into()))?;
        let mut ctx = Context::new_with_codec(aac);
        ctx.set_flags(codec::Flags::GLOBAL_HEADER);
        let mut enc = ctx.encoder().audio().map_err(fail("the AAC encoder"))?;
        enc.set_rate(rate as i32);
        enc.set_channel_layout(layout(channels));
        enc.set_channels(i32::from(channels));
        enc.set_format(format::Sample::F32(format::sample::Type::Planar));
        enc.set_bit_rate(bit_rate as usize);
        enc.set_time_base(Rational::new(1, rate as i32));
        let enc = enc.open_as(aac).map_err(fail("opening the AAC encoder"))?;
        let config = extradata(&enc);
        Ok(AacEncoder {
            enc,
            config,
            channels,
            sent: 0,
        })
    }

    /// The AudioSpecificConfig (ISO/IEC 14496-3 1.6.2.1), for the `esds`.
    pub fn config(&self) -> &[u8] {
        &self.config
    }

    /// Samples the encoder holds before its first packet (its priming).
    pub fn delay(&self) -> u32 {
        // SAFETY: a plain field of the opened context.
        unsafe { u32::try_from((*self.enc.as_ptr()).initial_padding).unwrap_or(0) }
    }

    /// Sends one frame of interleaved samples: [`AacEncoder::FRAME`] per channel, or
    /// fewer for the last.
    pub fn send(&mut self, interleaved: &[f32]) -> Result<()> {
        let n = usize::from(self.channels.max(1));
        let samples = interleaved.len() / n;
        let mut f = frame::Audio::new(
            format::Sample::F32(format::sample::Type::Planar),
            samples,
            layout(self.channels),
        );
        for c in 0..n {
            let plane = f.plane_mut::<f32>(c);
            for (i, v) in plane.iter_mut().take(samples).enumerate() {
                *v = interleaved[i * n + c];
            }
        }
        f.set_pts(Some(self.sent));
        self.sent += samples as i64;
        self.enc.send_frame(&f).map_err(fail("encoding AAC"))
    }

    /// No more frames: the packets still held come out of [`AacEncoder::receive`].
    pub fn finish(&mut self) -> Result<()> {
        self.enc.send_eof().map_err(fail("encoding AAC"))
    }

    /// The next packet, or `None` when the encoder needs more (or has given all).
    pub fn receive(&mut self) -> Result<Option<Vec<u8>>> {
        let mut p = Packet::empty();
        match self.enc.receive_packet(&mut p) {
            Ok(()) => Ok(Some(p.data().unwrap_or_default().to_vec())),
            Err(ff::Error::Eof) => Ok(None),
            Err(ff::Error::Other { errno }) if errno == ff::util::error::EAGAIN => Ok(None),
            Err(e) => Err(fail("encoding AAC")(e)),
        }
    }
}
