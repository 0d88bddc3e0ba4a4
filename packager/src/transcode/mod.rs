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
use crate::mp4::sample_table::{SampleTable, Sizes, StscEntry};
use crate::options::RunControl;
use crate::source::Input;

/// Opus's one timescale in ISOBMFF, and its sample: 20 ms.
const OPUS_RATE: u32 = 48_000;
const FRAME_48K: u32 = 960;
/// Bit rate per channel: transparent for speech and music at 20 ms frames.
const BITS_PER_CHANNEL: i32 = 96_000;
/// Most PCM bytes read in one go.
const READ_BLOCK: usize = 1 << 20;

/// Why a PCM track cannot be transcoded here, for [`Error::UncarriedTrack`].
fn refuse(input: &Input, c: &CheckedTrack, reason: String) -> Error {
    Error::UncarriedTrack {
        file: input.name().to_string(),
        track: c.track.id,
        handler: "soun".into(),
        codec: crate::mp4::header::fourcc_str(&c.track.codec.fourcc),
        reason,
    }
}

/// Encodes a PCM track to Opus: the track is rewritten in place (codec, sample entry,
/// tables, timescale, edit) and the returned input holds the encoded samples.
pub(crate) fn to_opus(input: &Input, c: &mut CheckedTrack, control: &RunControl) -> Result<Input> {
    let Some(format) = c.track.codec.pcm else {
        return Err(refuse(input, c, "not PCM".into()));
    };
    let order = surround_order(format).map_err(|why| refuse(input, c, why))?;
    let opus_err =
        |e: dashpack_opus::Error| refuse(input, c, format!("the Opus encoder failed: {e}"));
    let (mut encoder, encoder_rate, mut resampler) = encoder_for(format).map_err(opus_err)?;
    let lookahead = u32::try_from(encoder.lookahead().map_err(opus_err)?).unwrap_or(0);
    let pre_skip = lookahead * (OPUS_RATE / encoder_rate);

    let frame_values = (encoder_rate / 50) as usize * usize::from(format.channels);
    let (bpf, name) = (format.bytes_per_frame(), input.name().to_string());
    let mut pcm: Vec<f32> = Vec::with_capacity(frame_values * 2);
    let mut data: Vec<u8> = Vec::new();
    let mut sizes: Vec<u32> = Vec::new();
    // At most 1275 bytes per stream (RFC 6716 3.2.1), at most 8 streams.
    let mut packet = vec![0u8; 1275 * 8];
    let mut frames_in = 0u64;
    let mut encode = |pcm: &mut Vec<f32>, last: bool| -> Result<()> {
        if control.is_cancelled() {
            return Err(Error::Cancelled);
        }
        let mut at = 0;
        while at + frame_values <= pcm.len() || (last && at < pcm.len()) {
            let mut frame = pcm[at..pcm.len().min(at + frame_values)].to_vec();
            frame.resize(frame_values, 0.0);
            let n = encoder
                .encode_float(&frame, &mut packet)
                .map_err(opus_err)?;
            data.extend_from_slice(&packet[..n]);
            sizes.push(n as u32);
            at += frame_values;
        }
        pcm.drain(..at.min(pcm.len()));
        Ok(())
    };
    // Read the samples in decode order, joining neighbours into large reads.
    let (mut block, mut decoded): (Vec<u8>, Vec<f32>) = (Vec::new(), Vec::new());
    let mut run: Option<(u64, usize)> = None;
    let mut flush =
        |run: &mut Option<(u64, usize)>, pcm: &mut Vec<f32>, last: bool| -> Result<()> {
            decoded.clear();
            if let Some((offset, len)) = run.take() {
                block.resize(len, 0);
                input
                    .source()
                    .read_exact_at(&mut block, offset)
                    .map_err(|e| Error::io(format!("{name}: read PCM at byte {offset}"), e))?;
                format.decode(&block, &mut decoded);
                if let Some(order) = &order {
                    reorder(&mut decoded, order);
                }
            }
            match resampler.as_mut() {
                Some(r) => r.push(&decoded, last, pcm),
                None => pcm.extend_from_slice(&decoded),
            }
            Ok(())
        };
    for s in c.track.table.cursor() {
        let size = s.size as usize;
        if !size.is_multiple_of(bpf) {
            let why = format!(
                "PCM sample {} of {size} bytes is not whole frames of {bpf} bytes",
                s.index + 1
            );
            return Err(refuse(input, c, why));
        }
        frames_in += (size / bpf) as u64;
        match run {
            Some((offset, len)) if offset + len as u64 == s.offset && len + size <= READ_BLOCK => {
                run = Some((offset, len + size));
            }
            _ => {
                flush(&mut run, &mut pcm, false)?;
                encode(&mut pcm, false)?;
                run = Some((s.offset, size));
            }
        }
    }
    flush(&mut run, &mut pcm, true)?;
    // The encoder holds back `lookahead` samples: feed that much silence so the last
    // input samples come out too (the edit's end hides the padding).
    let padding = lookahead as usize * usize::from(format.channels);
    pcm.resize(pcm.len() + padding, 0.0);
    encode(&mut pcm, true)?;

    rewrite_track(&mut c.track, format, pre_skip, frames_in, sizes);
    c.stats = sample_stats(&c.track, data.len() as u64).map_err(|e| e.in_file(&name))?;
    Ok(Input::from_bytes(
        format!("{name} (track {} as Opus)", c.track.id),
        data,
    ))
}

/// The track as the Opus packets make it: codec, sample entry, tables, timescale and
/// the edit on the 48 kHz timeline (the encoder's pre-skip and padding hidden).
fn rewrite_track(t: &mut Track, format: PcmFormat, pre_skip: u32, frames_in: u64, sizes: Vec<u32>) {
    let count = sizes.len() as u32;
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
    t.table = SampleTable {
        count,
        stts: vec![(count, FRAME_48K)],
        ctts: Vec::new(),
        sizes: Sizes::PerSample(sizes),
        stsc: vec![StscEntry {
            first_chunk: 1,
            samples_per_chunk: count.max(1),
            sample_description_index: 1,
        }],
        chunk_offsets: vec![0],
        sync: None,
    };
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
