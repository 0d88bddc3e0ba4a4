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
