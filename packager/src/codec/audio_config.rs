//! Configuration boxes of the audio codecs besides AAC: Opus `dOps` (Opus in ISOBMFF
//! 4.3.2), FLAC `dfLa` (FLAC in ISOBMFF 3.3.2), AC-3 `dac3` (ETSI TS 102 366 F.4) and
//! E-AC-3 `dec3` (F.6). Each gives the channel count and sampling rate the MPD needs;
//! Dolby's also give the channel layout for Dolby's AudioChannelConfiguration scheme.

use crate::error::{BoxError, Malformed};
use crate::mp4::header::Bx;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct AudioConfig {
    pub channels: u16,
    /// 0 when the box does not say.
    pub sample_rate: u32,
    /// Dolby channel mask (TS 102 366 Table F.6.1 order: L, C, R, Ls, Rs, ..., LFE).
    pub dolby_mask: Option<u16>,
}

pub(crate) fn opus(dops: &Bx<'_>) -> Result<AudioConfig, BoxError> {
    let mut r = dops.body();
    let version = r.u8()?;
    if version != 0 {
        return Err(dops.err(Malformed::InvalidField {
            field: "dOps Version",
            value: i64::from(version),
        }));
    }
    let channels = u16::from(r.u8()?);
    r.skip(2)?; // PreSkip
    let input_rate = r.u32()?;
    Ok(AudioConfig {
        channels,
        // Opus always decodes at 48 kHz; InputSampleRate is informative only.
        sample_rate: if input_rate > 0 { 48_000 } else { 0 },
        dolby_mask: None,
    })
}

pub(crate) fn flac(dfla: &Bx<'_>) -> Result<AudioConfig, BoxError> {
    let mut r = dfla.body();
    r.version_flags()?;
    let header = r.u8()?;
    if header & 0x7f != 0 {
        return Err(dfla.err(Malformed::InvalidField {
            field: "dfLa first metadata block type (STREAMINFO is 0)",
            value: i64::from(header & 0x7f),
        }));
    }
    r.skip(3)?; // block length
    r.skip(10)?; // block and frame sizes
    let packed = r.u64()?;
    let sample_rate = (packed >> 44) as u32;
    let channels = ((packed >> 41) & 7) as u16 + 1;
    Ok(AudioConfig {
        channels,
        sample_rate,
        dolby_mask: None,
    })
}

const FSCOD_RATES: [u32; 3] = [48_000, 44_100, 32_000];

/// Channel mask of an `acmod` (TS 102 366 Table 4.3) with or without LFE.
fn acmod_mask(acmod: u8, lfe: bool) -> u16 {
    const L: u16 = 0x8000;
    const C: u16 = 0x4000;
    const R: u16 = 0x2000;
    const LS: u16 = 0x1000;
    const RS: u16 = 0x0800;
    const CS: u16 = 0x0100;
    let mask = match acmod {
        0 | 2 => L | R,
        1 => C,
        3 => L | C | R,
        4 => L | R | CS,
        5 => L | C | R | CS,
        6 => L | R | LS | RS,
        _ => L | C | R | LS | RS,
    };
    mask | u16::from(lfe)
}

/// Channels a Dolby mask describes: pair bits (Lc/Rc, Lrs/Rrs, Lsd/Rsd, Lw/Rw,
/// Lvh/Rvh, Lts/Rts) count twice.
fn mask_channels(mask: u16) -> u16 {
    const PAIRS: u16 = 0x0400 | 0x0200 | 0x0040 | 0x0020 | 0x0010 | 0x0004;
    (mask.count_ones() + (mask & PAIRS).count_ones()) as u16
}

pub(crate) fn ac3(dac3: &Bx<'_>) -> Result<AudioConfig, BoxError> {
    let mut r = dac3.body();
    let b = r.bytes(3)?;
    let v = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
    let fscod = (v >> 22) as usize;
    let acmod = ((v >> 11) & 7) as u8;
    let lfe = (v >> 10) & 1 == 1;
    let mask = acmod_mask(acmod, lfe);
    Ok(AudioConfig {
        channels: mask_channels(mask),
        sample_rate: FSCOD_RATES.get(fscod).copied().unwrap_or(0),
        dolby_mask: Some(mask),
    })
}

pub(crate) fn eac3(dec3: &Bx<'_>) -> Result<AudioConfig, BoxError> {
    let mut r = dec3.body();
    let head = r.u16()?;
    let substreams = (head & 7) + 1;
    let mut mask = 0u16;
    let mut sample_rate = 0;
    // The first independent substream describes the main programme.
    for i in 0..substreams {
        let b = r.bytes(3)?;
        let v = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let fscod = (v >> 22) as usize;
        let acmod = ((v >> 9) & 7) as u8;
        let lfe = (v >> 8) & 1 == 1;
        let deps = (v >> 1) & 0xf;
        let chan_loc = if deps > 0 {
            let low = u32::from(r.u8()?);
            (((v & 1) << 8) | low) as u16
        } else {
            0
        };
        if i == 0 {
            mask = acmod_mask(acmod, lfe) | (chan_loc << 1);
            sample_rate = FSCOD_RATES.get(fscod).copied().unwrap_or(0);
        }
    }
    Ok(AudioConfig {
        channels: mask_channels(mask),
        sample_rate,
        dolby_mask: Some(mask),
    })
}

/// DTS `ddts` (ETSI TS 102 114 Annex E): sampling rate and the speakers of
/// ChannelLayout (Table E.5: pairs count twice).
pub(crate) fn dts(ddts: &Bx<'_>) -> Result<AudioConfig, BoxError> {
    let mut r = ddts.body();
    let sample_rate = r.u32()?;
    r.skip(9)?; // maxBitrate, avgBitrate, pcmSampleDepth
    // FrameDuration(2) StreamConstruction(5) CoreLFEPresent(1) CoreLayout(6) CoreSize(14)
    // StereoDownmix(1) RepresentationType(3) ChannelLayout(16) and 8 bits of flags.
    let packed = r
        .bytes(7)?
        .iter()
        .fold(0u64, |v, &b| (v << 8) | u64::from(b));
    let layout = ((packed >> 8) & 0xffff) as u16;
    const PAIRS: u16 = 0b1010_1110_0110_0110;
    Ok(AudioConfig {
        channels: (layout.count_ones() + (layout & PAIRS).count_ones()) as u16,
        sample_rate,
        dolby_mask: None,
    })
}

/// ALAC's `alac` box inside the sample entry: the ALACSpecificConfig (Apple Lossless
/// Audio Codec, "Magic Cookie"): channels and sampling rate.
pub(crate) fn alac(b: &Bx<'_>) -> Result<AudioConfig, BoxError> {
    let mut r = b.body();
    r.version_flags()?;
    r.skip(9)?; // frameLength, compatibleVersion, bitDepth, pb, mb, kb
    let channels = u16::from(r.u8()?);
    r.skip(10)?; // maxRun, maxFrameBytes, avgBitRate
    let sample_rate = r.u32()?;
    Ok(AudioConfig {
        channels,
        sample_rate,
        dolby_mask: None,
    })
}

/// Dolby TrueHD `dmlp` (Dolby TrueHD in ISOBMFF 2.2): the sampling rate from
/// format_info's audio_sampling_frequency.
pub(crate) fn truehd(dmlp: &Bx<'_>) -> Result<AudioConfig, BoxError> {
    let mut r = dmlp.body();
    let format_info = r.u32()?;
    let sample_rate = match format_info >> 28 {
        0 => 48_000,
        1 => 96_000,
        2 => 192_000,
        8 => 44_100,
        9 => 88_200,
        10 => 176_400,
        _ => 0,
    };
    Ok(AudioConfig {
        channels: 0,
        sample_rate,
        dolby_mask: None,
    })
}

/// MPEG-H 3D Audio `mhaC` (ISO/IEC 23008-3 20.5): profile-level indication and the
/// CICP reference channel layout.
pub(crate) fn mpegh(mhac: &Bx<'_>) -> Result<(u8, u8), BoxError> {
    let mut r = mhac.body();
    let version = r.u8()?;
    if version != 1 {
        return Err(mhac.err(Malformed::InvalidField {
            field: "mhaC configurationVersion",
            value: i64::from(version),
        }));
    }
    Ok((r.u8()?, r.u8()?))
}

/// AC-4 `dac4` (ETSI TS 103 190-2 E.6): the codecs string `ac-4.BB.PP.MM` (E.13) from
/// the bitstream version and the first presentation's version and mdcompat, and the
/// sampling rate.
pub(crate) fn ac4(dac4: &Bx<'_>) -> Result<(String, u32), BoxError> {
    let bad = |field: &'static str, value: u64| {
        dac4.err(Malformed::InvalidField {
            field,
            value: value as i64,
        })
    };
    let mut r = dac4.body();
    let data = r.bytes(r.remaining())?;
    let mut b = crate::codec::bits::Bits::new(data);
    let truncated = bad("dac4 (truncated)", data.len() as u64);
    let read =
        |b: &mut crate::codec::bits::Bits<'_>, n: u32| b.read(n).ok_or_else(|| truncated.clone());
    let _dsi_version = read(&mut b, 3)?;
    let bitstream_version = read(&mut b, 7)?;
    let fs_index = read(&mut b, 1)?;
    read(&mut b, 4)?; // frame_rate_index
    let presentations = read(&mut b, 9)?;
    if bitstream_version > 1 && read(&mut b, 1)? == 1 {
        read(&mut b, 16)?; // short_program_id
        if read(&mut b, 1)? == 1 {
            for _ in 0..4 {
                read(&mut b, 32)?; // program_uuid
            }
        }
    }
    read(&mut b, 2)?; // bit_rate_mode
    read(&mut b, 32)?; // bit_rate
    read(&mut b, 32)?; // bit_rate_precision
    b.align();
    let (mut presentation_version, mut mdcompat) = (0, 0);
    if presentations > 0 {
        presentation_version = read(&mut b, 8)?;
        let pres_bytes = read(&mut b, 8)?;
        if pres_bytes == 255 {
            read(&mut b, 16)?;
        }
        if presentation_version <= 2 {
            let config = read(&mut b, 5)?;
            if config != 0x06 {
                mdcompat = read(&mut b, 3)?;
            }
        }
    }
    let sample_rate = if fs_index == 1 { 48_000 } else { 44_100 };
    Ok((
        format!("ac-4.{bitstream_version:02}.{presentation_version:02}.{mdcompat:02}"),
        sample_rate,
    ))
}

/// IAMF `iacb` (Immersive Audio Model and Formats 6.2.3): the codecs string
/// `iamf.PPP.AAA.CODEC` from the IA Sequence Header (profiles) and the first Codec
/// Config OBU (its codec, `mp4a.40.A` for AAC).
pub(crate) fn iamf(iacb: &Bx<'_>) -> Result<String, BoxError> {
    let mut r = iacb.body();
    let version = r.u8()?;
    if version != 1 {
        return Err(iacb.err(Malformed::InvalidField {
            field: "iacb configurationVersion",
            value: i64::from(version),
        }));
    }
    let total = leb128(&mut r)?;
    let obus = r.bytes(usize::try_from(total).unwrap_or(usize::MAX))?;
    let (mut profiles, mut codec) = (None, None);
    let mut rest = obus;
    while !rest.is_empty() && (profiles.is_none() || codec.is_none()) {
        let mut o = Bytes(rest);
        let header = o
            .u8()
            .ok_or_else(|| iacb.err(Malformed::Missing("IAMF OBU")))?;
        let size = o
            .leb128()
            .and_then(|s| usize::try_from(s).ok())
            .filter(|&s| s <= o.0.len())
            .ok_or_else(|| iacb.err(Malformed::Missing("IAMF OBU payload")))?;
        let (payload, next) = o.0.split_at(size);
        rest = next;
        let mut p = Bytes(payload);
        if header & 0x02 != 0 {
            p.leb128(); // num_samples_to_trim_at_end
            p.leb128(); // num_samples_to_trim_at_start
        }
        if header & 0x01 != 0 {
            let n = p.leb128().unwrap_or(0) as usize;
            p.0 = p.0.get(n..).unwrap_or_default();
        }
        match header >> 3 {
            31 if p.0.len() >= 6 && &p.0[..4] == b"iamf" => profiles = Some((p.0[4], p.0[5])),
            0 => {
                p.leb128(); // codec_config_id
                let id = p.0.get(..4).unwrap_or_default();
                codec = Some(match id {
                    b"mp4a" => {
                        // num_samples_per_frame, audio_roll_distance, then the
                        // DecoderConfigDescriptor with the AudioSpecificConfig.
                        let mut q = Bytes(&p.0[4..]);
                        q.leb128();
                        let aot = q.0.get(2..).and_then(super::aac::object_type_in_dcd);
                        match aot {
                            Some(aot) => format!("mp4a.40.{aot}"),
                            None => "mp4a".into(),
                        }
                    }
                    other => String::from_utf8_lossy(other).into_owned(),
                });
            }
            _ => {}
        }
    }
    match (profiles, codec) {
        (Some((primary, additional)), Some(codec)) => {
            Ok(format!("iamf.{primary:03}.{additional:03}.{codec}"))
        }
        _ => Err(iacb.err(Malformed::Missing("IA Sequence Header or Codec Config OBU"))),
    }
}

fn leb128(r: &mut crate::mp4::header::Reader<'_>) -> Result<u64, BoxError> {
    let mut v = 0u64;
    for i in 0..8 {
        let b = r.u8()?;
        v |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            break;
        }
    }
    Ok(v)
}

/// A cursor over OBU bytes that cannot fail loudly: a short read yields `None`.
struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn u8(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }

    fn leb128(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for i in 0..8 {
            let b = self.u8()?;
            v |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Some(v);
            }
        }
        Some(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::bits::BitWriter;
    use crate::mp4::header::{boxed, test_box};

    #[test]
    fn ac4_codecs_string_from_dac4() {
        let mut w = BitWriter::default();
        // ac4_dsi_version 1, bitstream_version 2, fs_index 1 (48 kHz), frame_rate_index
        // 1, one presentation; no program id; bit rate fields.
        w.put(3, 1).put(7, 2).put(1, 1).put(4, 1).put(9, 1);
        w.put(1, 0)
            .put(2, 0)
            .put(32, 0)
            .put(32, 0xffff_ffff)
            .align();
        // presentation_version 1, pres_bytes, presentation_config_v1 0, mdcompat 3.
        w.put(8, 1).put(8, 20).put(5, 0).put(3, 3).align();
        let mut bytes = w.into_bytes();
        bytes.extend_from_slice(&[0; 19]);
        let b = boxed(b"dac4", &bytes);
        let (codecs, rate) = ac4(&test_box(&b)).unwrap();
        assert_eq!((codecs.as_str(), rate), ("ac-4.02.01.03", 48_000));
        // Truncated: an error, not a guess.
        let short = boxed(b"dac4", &bytes[..6]);
        assert!(ac4(&test_box(&short)).is_err());
    }

    #[test]
    fn mpegh_profile_and_layout_from_mhac() {
        let b = boxed(b"mhaC", &[1, 0x0D, 6, 0, 0]);
        assert_eq!(mpegh(&test_box(&b)).unwrap(), (0x0D, 6));
        let b = boxed(b"mhaC", &[2, 0x0D, 6, 0, 0]);
        assert!(mpegh(&test_box(&b)).is_err());
    }

    #[test]
    fn iamf_codecs_string_from_iacb() {
        // IA Sequence Header OBU (type 31): "iamf", primary profile 0, additional 1.
        let seq = [&[31 << 3, 6][..], b"iamf", &[0, 1]].concat();
        // Codec Config OBU (type 0): id 0, "Opus", 960 samples, roll -4, dOps.
        let dops = [0u8, 2, 0, 0x38, 0, 0, 0xbb, 0x80, 0, 0, 0];
        let body = [&[0u8][..], b"Opus", &[0xc0, 0x07, 0xff, 0xfc], &dops].concat();
        let cfg = [&[0u8, body.len() as u8][..], &body].concat();
        let obus = [seq, cfg].concat();
        let iacb = [&[1u8, obus.len() as u8][..], &obus].concat();
        let b = boxed(b"iacb", &iacb);
        assert_eq!(iamf(&test_box(&b)).unwrap(), "iamf.000.001.Opus");
        // AAC: the object type from the DecoderConfigDescriptor's AudioSpecificConfig.
        let dcd = [
            4u8, 17, 0x40, 0x15, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5, 2, 0x11, 0x90,
        ];
        let body = [&[0u8][..], b"mp4a", &[0x80, 0x08, 0xff, 0xff], &dcd].concat();
        let cfg = [&[0u8, body.len() as u8][..], &body].concat();
        let seq = [&[31 << 3, 6][..], b"iamf", &[1, 1]].concat();
        let obus = [seq, cfg].concat();
        let b = boxed(b"iacb", &[&[1u8, obus.len() as u8][..], &obus].concat());
        assert_eq!(iamf(&test_box(&b)).unwrap(), "iamf.001.001.mp4a.40.2");
        // No sequence header: refused.
        let b = boxed(b"iacb", &[1, 0]);
        assert!(iamf(&test_box(&b)).is_err());
    }

    #[test]
    fn dts_alac_and_truehd_parameters() {
        // ddts: 48 kHz, bit rates, 24-bit, then ChannelLayout 0x000F (C, L/R, Ls/Rs, LFE).
        let mut ddts = 48_000u32.to_be_bytes().to_vec();
        ddts.extend_from_slice(&[0; 8]);
        ddts.push(24);
        ddts.extend_from_slice(&[0, 0, 0, 0, 0x00, 0x0F, 0]);
        let b = boxed(b"ddts", &ddts);
        let c = dts(&test_box(&b)).unwrap();
        assert_eq!((c.sample_rate, c.channels), (48_000, 6));
        // ALACSpecificConfig: 6 channels at 96 kHz.
        let mut alac_cfg = vec![0u8; 4]; // version, flags
        alac_cfg.extend_from_slice(&[0, 0, 0x10, 0, 0, 24, 40, 10, 14, 6, 0, 255]);
        alac_cfg.extend_from_slice(&[0; 8]);
        alac_cfg.extend_from_slice(&96_000u32.to_be_bytes());
        let b = boxed(b"alac", &alac_cfg);
        let c = alac(&test_box(&b)).unwrap();
        assert_eq!((c.sample_rate, c.channels), (96_000, 6));
        // dmlp: audio_sampling_frequency 1 = 96 kHz.
        let b = boxed(b"dmlp", &[0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(truehd(&test_box(&b)).unwrap().sample_rate, 96_000);
    }
}
