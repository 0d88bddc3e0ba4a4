//! AAC and other MPEG-4 audio: the `esds` descriptors (ISO/IEC 14496-1 7.2.6) and the
//! AudioSpecificConfig (ISO/IEC 14496-3 1.6.2.1), giving `mp4a.OO[.A]` (RFC 6381 3.3).

use crate::codec::bits::{BitWriter, Bits};
use crate::error::{BoxError, Malformed};
use crate::mp4::header::{Bx, Reader};

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EsdsConfig {
    pub object_type: u8,
    /// The DecoderConfigDescriptor after the object type: stream type, buffer size,
    /// maximum and average bit rate.
    pub decoder_fields: [u8; 12],
    pub asc: Option<AudioSpecificConfig>,
    /// The DecoderSpecificInfo as it is (empty when there is none).
    pub asc_bytes: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AudioSpecificConfig {
    pub audio_object_type: u8,
    pub sample_rate: u32,
    pub channels: u16,
}

impl EsdsConfig {
    /// `mp4a.40.A` for MPEG-4 audio; MPEG-2 AAC (object types 0x66-0x68) as the MPEG-4
    /// object type it is (Main 1, LC 2, SSR 3), since DASH players know only `mp4a.40.A`
    /// for AAC and decode both the same; other object types (`mp4a.6B` MP3, `mp4a.69`
    /// MPEG-2 audio) as `mp4a.OO`.
    pub fn codecs(&self) -> String {
        match (&self.asc, self.object_type) {
            (Some(asc), 0x40) => format!("mp4a.40.{}", asc.audio_object_type),
            (_, oti @ 0x66..=0x68) => format!("mp4a.40.{}", oti - 0x65),
            (_, oti) => format!("mp4a.{oti:02X}"),
        }
    }
}

pub(crate) const SAMPLE_RATES: [u32; 13] = [
    96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350,
];

pub(crate) fn descriptor(r: &mut Reader<'_>) -> Result<(u8, usize), BoxError> {
    let tag = r.u8()?;
    let mut len = 0usize;
    for _ in 0..4 {
        let b = r.u8()?;
        len = (len << 7) | usize::from(b & 0x7f);
        if b & 0x80 == 0 {
            break;
        }
    }
    Ok((tag, len))
}

pub(crate) fn parse_esds(esds: &Bx<'_>) -> Result<EsdsConfig, BoxError> {
    let mut r = esds.body();
    r.version_flags()?;
    let (tag, _) = descriptor(&mut r)?;
    if tag != 3 {
        return Err(r.err(Malformed::InvalidField {
            field: "esds ES_Descriptor tag",
            value: i64::from(tag),
        }));
    }
    r.skip(2)?;
    let flags = r.u8()?;
    if flags & 0x80 != 0 {
        r.skip(2)?;
    }
    if flags & 0x40 != 0 {
        let n = r.u8()?;
        r.skip(usize::from(n))?;
    }
    if flags & 0x20 != 0 {
        r.skip(2)?;
    }
    let (tag, _) = descriptor(&mut r)?;
    if tag != 4 {
        return Err(r.err(Malformed::InvalidField {
            field: "esds DecoderConfigDescriptor tag",
            value: i64::from(tag),
        }));
    }
    let object_type = r.u8()?;
    let mut decoder_fields = [0u8; 12];
    decoder_fields.copy_from_slice(r.bytes(12)?);
    let (mut asc, mut asc_bytes) = (None, Vec::new());
    if r.remaining() > 0 {
        let (tag, len) = descriptor(&mut r)?;
        if tag == 5 {
            let bytes = r.bytes(len)?;
            asc = Some(parse_asc(bytes).ok_or_else(|| {
                esds.err(Malformed::Truncated {
                    needed: 2,
                    available: bytes.len() as u64,
                })
            })?);
            asc_bytes = bytes.to_vec();
        }
    }
    Ok(EsdsConfig {
        object_type,
        decoder_fields,
        asc,
        asc_bytes,
    })
}

fn object_type(b: &mut Bits<'_>) -> Option<u8> {
    let t = b.read(5)?;
    let t = if t == 31 { 32 + b.read(6)? } else { t };
    u8::try_from(t).ok()
}

fn sample_rate(b: &mut Bits<'_>) -> Option<u32> {
    let i = b.read(4)?;
    if i == 15 {
        b.read(24)
    } else {
        Some(SAMPLE_RATES.get(i as usize).copied().unwrap_or(0))
    }
}

/// The audio object type in a DecoderConfigDescriptor (tag 4) given as bytes: its
/// DecoderSpecificInfo's AudioSpecificConfig.
pub(crate) fn object_type_in_dcd(data: &[u8]) -> Option<u8> {
    let mut r = crate::mp4::header::Reader::detached(data);
    let (tag, _) = descriptor(&mut r).ok()?;
    if tag != 4 {
        return None;
    }
    r.skip(13).ok()?;
    let (tag, len) = descriptor(&mut r).ok()?;
    if tag != 5 {
        return None;
    }
    parse_asc(r.bytes(len).ok()?).map(|a| a.audio_object_type)
}

pub(crate) fn parse_asc(data: &[u8]) -> Option<AudioSpecificConfig> {
    let mut b = Bits::new(data);
    let audio_object_type = object_type(&mut b)?;
    let mut rate = sample_rate(&mut b)?;
    let channels = b.read(4)? as u16;
    // Explicit SBR / PS signalling: the output rate is the extension rate.
    if (audio_object_type == 5 || audio_object_type == 29)
        && let Some(ext) = sample_rate(&mut b)
    {
        rate = ext;
    }
    Some(AudioSpecificConfig {
        audio_object_type,
        sample_rate: rate,
        channels,
    })
}

/// A silent AAC-LC frame (`raw_data_block`, ISO/IEC 14496-3 4.4.2.1) for channel
/// configuration 1 to 7: each element's channel stream with no scale factor bands
/// (`max_sfb` 0), so no spectral data: the decoder outputs silence. `None` for other
/// configurations (0 defines the layout in a program config element).
pub(crate) fn silent_lc_frame(channel_configuration: u16) -> Option<Vec<u8>> {
    const SCE: u32 = 0;
    const CPE: u32 = 1;
    const LFE: u32 = 3;
    const END: u32 = 7;
    let elements: &[u32] = match channel_configuration {
        1 => &[SCE],
        2 => &[CPE],
        3 => &[SCE, CPE],
        4 => &[SCE, CPE, SCE],
        5 => &[SCE, CPE, CPE],
        6 => &[SCE, CPE, CPE, LFE],
        7 => &[SCE, CPE, CPE, CPE, LFE],
        _ => return None,
    };
    let mut w = BitWriter::default();
    // One long window, no bands: global_gain, then ics_info (reserved bit, window
    // sequence, window shape, max_sfb, no predictor), then no pulse, TNS or gain
    // control data.
    let channel_stream = |w: &mut BitWriter| {
        w.put(8, 100)
            .put(1, 0)
            .put(2, 0)
            .put(1, 0)
            .put(6, 0)
            .put(1, 0);
        w.put(1, 0).put(1, 0).put(1, 0);
    };
    let mut tags = [0u32; 8];
    for &id in elements {
        let tag = &mut tags[id as usize];
        w.put(3, id.into()).put(4, (*tag).into());
        *tag += 1;
        if id == CPE {
            w.put(1, 0); // no common window: two channel streams of their own
            channel_stream(&mut w);
        }
        channel_stream(&mut w);
    }
    w.put(3, END.into()).align(); // byte_alignment()
    Some(w.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn silent_frames_have_one_element_per_channel_group() {
        // Mono: SCE (3 + 4 bits), one channel stream (22 bits), END (3): 32 bits.
        assert_eq!(silent_lc_frame(1).unwrap().len(), 4);
        // Stereo: CPE (3 + 4 + 1), two streams, END: 55 bits.
        assert_eq!(silent_lc_frame(2).unwrap().len(), 7);
        let mono = silent_lc_frame(1).unwrap();
        assert_eq!(mono[0] >> 5, 0, "starts with a single channel element");
        assert!(silent_lc_frame(0).is_none() && silent_lc_frame(8).is_none());
    }

    #[test]
    fn asc_variants() {
        // AAC-LC 48 kHz stereo.
        assert_eq!(
            parse_asc(&[0x11, 0x90]),
            Some(AudioSpecificConfig {
                audio_object_type: 2,
                sample_rate: 48000,
                channels: 2
            })
        );
        // AAC-LC 44.1 kHz mono.
        assert_eq!(
            parse_asc(&[0x12, 0x08]).map(|a| (a.sample_rate, a.channels)),
            Some((44100, 1))
        );
        // Escape value 31: object type 32 + 10 = 42 (USAC).
        let a = parse_asc(&[0xF9, 0x46, 0x40]).unwrap();
        assert_eq!(
            (a.audio_object_type, a.sample_rate, a.channels),
            (42, 48000, 2)
        );
        assert_eq!(parse_asc(&[0x11]), None);
    }

    #[test]
    fn codecs_strings() {
        let c = |object_type, aot| EsdsConfig {
            object_type,
            decoder_fields: [0; 12],
            asc: Some(AudioSpecificConfig {
                audio_object_type: aot,
                sample_rate: 48000,
                channels: 2,
            }),
            asc_bytes: Vec::new(),
        };
        assert_eq!(c(0x40, 2).codecs(), "mp4a.40.2");
        assert_eq!(c(0x40, 5).codecs(), "mp4a.40.5");
        assert_eq!(c(0x40, 29).codecs(), "mp4a.40.29");
        assert_eq!(c(0x67, 2).codecs(), "mp4a.40.2");
        assert_eq!(c(0x66, 1).codecs(), "mp4a.40.1");
        assert_eq!(
            EsdsConfig {
                object_type: 0x6B,
                decoder_fields: [0; 12],
                asc: None,
                asc_bytes: Vec::new(),
            }
            .codecs(),
            "mp4a.6B"
        );
    }
}
