//! The fixed fields of sample entries (ISO/IEC 14496-12 12.1.3, 12.2.3), before their
//! child boxes: the part every codec's entry shares.

use crate::error::{BoxError, Malformed};
use crate::mp4::header::Bx;

/// Body bytes of a VisualSampleEntry before its child boxes.
pub(crate) const VISUAL_FIELDS: usize = 78;
/// Body bytes of an AudioSampleEntry (version 0) before its child boxes.
pub(crate) const AUDIO_FIELDS: usize = 28;

/// The fields of an AudioSampleEntry (ISO/IEC 14496-12 12.2.3), with QuickTime's sound
/// description versions 1 and 2 (QuickTime File Format, Sound Sample Descriptions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SoundDescription {
    pub channels: u16,
    pub sample_size: u16,
    /// Whole Hz (version 2: its 64-bit float rate).
    pub rate: u32,
    /// Version 1: bytesPerSample.
    pub bytes_per_sample: Option<u32>,
    /// Version 2: constBitsPerChannel and formatSpecificFlags.
    pub lpcm: Option<(u32, u32)>,
    /// Where the child boxes begin in the entry's body.
    pub children_at: usize,
}

pub(crate) fn sound_description(entry: &Bx<'_>) -> Result<SoundDescription, BoxError> {
    let mut r = entry.body();
    r.skip(8)?;
    let version = r.u16()?;
    r.skip(6)?;
    let mut d = SoundDescription {
        channels: r.u16()?,
        sample_size: r.u16()?,
        rate: {
            r.skip(4)?;
            r.u32()? >> 16
        },
        bytes_per_sample: None,
        lpcm: None,
        children_at: AUDIO_FIELDS,
    };
    match version {
        0 => {}
        1 => {
            r.skip(12)?; // samplesPerPacket, bytesPerPacket, bytesPerFrame
            d.bytes_per_sample = Some(r.u32()?);
            d.children_at += 16;
        }
        2 => {
            r.skip(4)?; // sizeOfStructOnly
            let rate = f64::from_bits(r.u64()?);
            d.channels = u16::try_from(r.u32()?).unwrap_or(0);
            r.skip(4)?; // always7F000000
            d.lpcm = Some((r.u32()?, r.u32()?));
            if rate.is_finite() && rate >= 1.0 && rate < f64::from(u32::MAX) {
                d.rate = rate as u32;
            }
            d.children_at += 36;
        }
        v => {
            return Err(entry.err(Malformed::InvalidField {
                field: "audio sample entry version",
                value: i64::from(v),
            }));
        }
    }
    Ok(d)
}
