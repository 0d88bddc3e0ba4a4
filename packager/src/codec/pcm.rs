//! Uncompressed audio sample entries: QuickTime's `sowt`, `twos`, `in24`, `in32`,
//! `fl32`, `fl64`, `raw ` and `lpcm` (QuickTime File Format, Sound Sample Descriptions
//! versions 0-2, `enda` in `wave` for byte order) and ISO/IEC 23003-5's `ipcm` and
//! `fpcm` (`pcmC`), decoded to interleaved `f32` frames.

use crate::error::{BoxError, Malformed};
use crate::mp4::header::{Bx, FourCC};

/// The layout an uncompressed audio sample entry declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Layout {
    /// No layout box: the channel count's usual layout.
    Default,
    /// QuickTime `chan`: an AudioChannelLayoutTag and, for tag "use bitmap", the bitmap.
    QuickTime { tag: u32, bitmap: u32 },
    /// ISO `chnl` with a CICP `defined_layout` (ISO/IEC 23091-3).
    Cicp(u8),
    /// `chnl` with explicit positions or an object structure.
    Explicit,
}

/// How the samples of one PCM track are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PcmFormat {
    pub channels: u16,
    pub rate: u32,
    /// Bits per sample of one channel: 8, 16, 24, 32 or 64.
    pub bits: u8,
    pub float: bool,
    pub big_endian: bool,
    /// 8-bit `raw `: unsigned, centred on 128.
    pub unsigned: bool,
    /// Which loudspeaker each channel feeds (`chan`, `chnl`).
    pub layout: Layout,
}

/// Whether `kind` is an uncompressed audio sample entry.
pub(crate) fn is_pcm(kind: &FourCC) -> bool {
    matches!(
        kind,
        b"sowt"
            | b"twos"
            | b"in24"
            | b"in32"
            | b"fl32"
            | b"fl64"
            | b"raw "
            | b"lpcm"
            | b"ipcm"
            | b"fpcm"
    )
}

impl PcmFormat {
    pub fn bytes_per_frame(&self) -> usize {
        usize::from(self.bits / 8) * usize::from(self.channels)
    }

    /// Reads a PCM audio sample entry.
    pub fn parse(entry: &Bx<'_>) -> Result<PcmFormat, BoxError> {
        let sound = super::entry::sound_description(entry)?;
        let (channels, rate) = (sound.channels, sound.rate);
        let kind = entry.kind;
        let mut bits = match &kind {
            b"in24" => 24,
            b"in32" | b"fl32" => 32,
            b"fl64" => 64,
            b"raw " => 8,
            _ => u8::try_from(sound.sample_size).unwrap_or(0),
        };
        let mut float = matches!(&kind, b"fl32" | b"fl64" | b"fpcm");
        let mut big_endian = !matches!(&kind, b"sowt");
        if let Some(n) = sound.bytes_per_sample
            && matches!(&kind, b"sowt" | b"twos")
            && n > 0
        {
            bits = u8::try_from(n * 8).unwrap_or(0);
        }
        if let Some((bits_per_channel, flags)) = sound.lpcm
            && &kind == b"lpcm"
        {
            bits = u8::try_from(bits_per_channel).unwrap_or(0);
            float = flags & 1 != 0;
            big_endian = flags & 2 != 0;
        }
        let skip = sound.children_at;
        let mut layout = Layout::Default;
        for child in entry.children_after(skip) {
            let child = child?;
            match &child.kind {
                // ISO/IEC 23003-5: format_flags bit 0 set means little endian.
                b"pcmC" => {
                    let mut c = child.body();
                    c.version_flags()?;
                    big_endian = c.u8()? & 1 == 0;
                    bits = c.u8()?;
                }
                // QuickTime's AudioChannelLayout: a tag, and a bitmap for tag 1<<16.
                b"chan" => {
                    let mut c = child.body();
                    c.version_flags()?;
                    let tag = c.u32()?;
                    let bitmap = c.u32()?;
                    layout = Layout::QuickTime { tag, bitmap };
                }
                // ISO/IEC 14496-12 12.2.4: a CICP layout, or explicit positions.
                b"chnl" => {
                    let mut c = child.body();
                    c.version_flags()?;
                    let structure = c.u8()?;
                    layout = Layout::Explicit;
                    if structure & 1 != 0 {
                        let defined = c.u8()?;
                        if defined != 0 && c.u64()? == 0 {
                            layout = Layout::Cicp(defined);
                        }
                    }
                }
                b"wave" => {
                    for w in child.children() {
                        let w = w?;
                        if &w.kind == b"enda" {
                            big_endian = w.body().u16()? == 0;
                        }
                    }
                }
                _ => {}
            }
        }
        let format = PcmFormat {
            channels,
            rate,
            bits,
            float,
            big_endian,
            unsigned: &kind == b"raw " || (bits == 8 && &kind != b"twos" && !float),
            layout,
        };
        let valid_bits = if float {
            matches!(bits, 32 | 64)
        } else {
            matches!(bits, 8 | 16 | 24 | 32)
        };
        if !valid_bits || channels == 0 || rate == 0 {
            return Err(entry.err(Malformed::InvalidField {
                field: "PCM sample size (bits per channel)",
                value: i64::from(bits),
            }));
        }
        Ok(format)
    }

    /// Appends the frames in `data` (whole frames only) to `out` as `f32` in [-1, 1].
    pub fn decode(&self, data: &[u8], out: &mut Vec<f32>) {
        let width = usize::from(self.bits / 8);
        for s in data.chunks_exact(width) {
            let v = if self.float {
                if width == 4 {
                    let b: [u8; 4] = s.try_into().unwrap_or_default();
                    if self.big_endian {
                        f32::from_be_bytes(b)
                    } else {
                        f32::from_le_bytes(b)
                    }
                } else {
                    let b: [u8; 8] = s.try_into().unwrap_or_default();
                    (if self.big_endian {
                        f64::from_be_bytes(b)
                    } else {
                        f64::from_le_bytes(b)
                    }) as f32
                }
            } else {
                // Sign-extend from `width` bytes, most significant first.
                let mut v: i64 = 0;
                for k in 0..width {
                    let byte = if self.big_endian {
                        s[k]
                    } else {
                        s[width - 1 - k]
                    };
                    v = (v << 8) | i64::from(byte);
                }
                let bits = 8 * width as u32;
                if self.unsigned {
                    v -= 1 << (bits - 1);
                } else if v >= 1 << (bits - 1) {
                    v -= 1 << bits;
                }
                v as f32 / (1u64 << (bits - 1)) as f32
            };
            out.push(v.clamp(-1.0, 1.0));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn format(bits: u8, big_endian: bool, float: bool, unsigned: bool) -> PcmFormat {
        PcmFormat {
            channels: 1,
            rate: 48_000,
            bits,
            float,
            big_endian,
            unsigned,
            layout: Layout::Default,
        }
    }

    #[test]
    fn decodes_every_layout_to_the_same_values() {
        let mut out = Vec::new();
        format(16, false, false, false).decode(&[0x00, 0x40, 0x00, 0xc0], &mut out);
        format(16, true, false, false).decode(&[0x40, 0x00, 0xc0, 0x00], &mut out);
        format(24, true, false, false).decode(&[0x40, 0, 0, 0xc0, 0, 0], &mut out);
        format(24, false, false, false).decode(&[0, 0, 0x40, 0, 0, 0xc0], &mut out);
        format(32, true, false, false).decode(&[0x40, 0, 0, 0, 0xc0, 0, 0, 0], &mut out);
        format(8, false, false, true).decode(&[0xc0, 0x40], &mut out);
        format(32, true, true, false).decode(&[0x3f, 0, 0, 0, 0xbf, 0, 0, 0], &mut out);
        format(64, false, true, false).decode(
            &[0.5f64.to_le_bytes(), (-0.5f64).to_le_bytes()].concat(),
            &mut out,
        );
        for pair in out.chunks(2) {
            assert_eq!(pair, [0.5, -0.5], "{out:?}");
        }
    }
}
