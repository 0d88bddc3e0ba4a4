//! Sample entries: which codec a track carries, the RFC 6381 `codecs` string derived
//! from its configuration record, and the picture or sound parameters the MPD needs.
//! ISO/IEC 14496-12 12.1.3 (VisualSampleEntry), 12.2.3 (AudioSampleEntry).

pub(crate) mod aac;
pub(crate) mod avc;
pub(crate) mod hevc;

use crate::error::{BoxError, Malformed};
use crate::mp4::header::{Bx, FourCC};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Family {
    Avc,
    Hevc,
    Aac,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CodecInfo {
    pub fourcc: FourCC,
    pub family: Family,
    pub codecs: String,
    pub width: u16,
    pub height: u16,
    /// Pixel aspect ratio from `pasp`.
    pub sar: Option<(u32, u32)>,
    pub sample_rate: u32,
    pub channels: u16,
    /// Bytes of the NAL unit length prefix (video).
    pub nal_length_size: u8,
    /// Parameter sets of the configuration record (video), for slice header parsing.
    pub parameter_sets: Vec<Vec<u8>>,
}

/// Body bytes of a VisualSampleEntry before its child boxes.
const VISUAL_FIELDS: usize = 78;
/// Body bytes of an AudioSampleEntry (version 0) before its child boxes.
const AUDIO_FIELDS: usize = 28;

/// Read the first sample entry of an `stsd`; `Ok(None)` when the codec is not one
/// dashpack packages (the caller skips that track).
pub(crate) fn parse_sample_entry(entry: &Bx<'_>) -> Result<Option<CodecInfo>, BoxError> {
    match &entry.kind {
        b"avc1" | b"avc3" => visual(entry, b"avcC", Family::Avc),
        b"hvc1" | b"hev1" => visual(entry, b"hvcC", Family::Hevc),
        b"mp4a" => audio(entry),
        _ => Ok(None),
    }
}

fn find_child<'a>(entry: &Bx<'a>, skip: usize, kind: &FourCC) -> Result<Option<Bx<'a>>, BoxError> {
    for child in entry.children_after(skip) {
        let child = child?;
        if &child.kind == kind {
            return Ok(Some(child));
        }
    }
    Ok(None)
}

fn visual(
    entry: &Bx<'_>,
    config: &'static [u8; 4],
    family: Family,
) -> Result<Option<CodecInfo>, BoxError> {
    let mut r = entry.body();
    r.skip(24)?;
    let width = r.u16()?;
    let height = r.u16()?;
    r.skip(VISUAL_FIELDS - 28)?;
    let name = if family == Family::Avc {
        "avcC"
    } else {
        "hvcC"
    };
    let cfg = find_child(entry, VISUAL_FIELDS, config)?
        .ok_or_else(|| entry.err(Malformed::Missing(name)))?;
    let (codecs, nal_length_size) = match family {
        Family::Avc => avc::codecs(&entry.kind, &cfg)?,
        _ => hevc::codecs(&entry.kind, &cfg)?,
    };
    let parameter_sets = match family {
        Family::Avc => avc::parameter_sets(&cfg),
        _ => hevc::parameter_sets(&cfg),
    };
    let sar = match find_child(entry, VISUAL_FIELDS, b"pasp")? {
        Some(p) => {
            let mut r = p.body();
            let (h, v) = (r.u32()?, r.u32()?);
            (h > 0 && v > 0).then_some((h, v))
        }
        None => None,
    };
    Ok(Some(CodecInfo {
        fourcc: entry.kind,
        family,
        codecs,
        width,
        height,
        sar,
        sample_rate: 0,
        channels: 0,
        nal_length_size,
        parameter_sets,
    }))
}

fn audio(entry: &Bx<'_>) -> Result<Option<CodecInfo>, BoxError> {
    let mut r = entry.body();
    r.skip(8)?;
    let version = r.u16()?;
    r.skip(6)?;
    let mut channels = r.u16()?;
    r.skip(6)?;
    let mut sample_rate = r.u32()? >> 16;
    // QuickTime sound description versions 1 and 2 carry more fields before the children.
    let skip = match version {
        0 => AUDIO_FIELDS,
        1 => AUDIO_FIELDS + 16,
        2 => {
            r.skip(4)?;
            let rate = f64::from_bits(r.u64()?);
            channels = u16::try_from(r.u32()?).unwrap_or(0);
            if rate.is_finite() && rate >= 1.0 && rate < f64::from(u32::MAX) {
                sample_rate = rate as u32;
            }
            AUDIO_FIELDS + 36
        }
        v => {
            return Err(entry.err(Malformed::InvalidField {
                field: "mp4a version",
                value: i64::from(v),
            }));
        }
    };
    let esds = find_child(entry, skip, b"esds")?.or(find_wave_esds(entry, skip)?);
    let esds = esds.ok_or_else(|| entry.err(Malformed::Missing("esds")))?;
    let cfg = aac::parse_esds(&esds)?;
    if let Some(asc) = &cfg.asc {
        if asc.sample_rate > 0 {
            sample_rate = asc.sample_rate;
        }
        if asc.channels > 0 {
            channels = asc.channels;
        }
    }
    Ok(Some(CodecInfo {
        fourcc: entry.kind,
        family: Family::Aac,
        codecs: cfg.codecs(),
        width: 0,
        height: 0,
        sar: None,
        sample_rate,
        channels,
        nal_length_size: 0,
        parameter_sets: Vec::new(),
    }))
}

/// QuickTime files may put `esds` inside a `wave` box.
fn find_wave_esds<'a>(entry: &Bx<'a>, skip: usize) -> Result<Option<Bx<'a>>, BoxError> {
    match find_child(entry, skip, b"wave")? {
        Some(wave) => find_child(&wave, 0, b"esds"),
        None => Ok(None),
    }
}

/// NAL unit type of the first VCL NAL unit in a length-prefixed sample, if any.
pub(crate) fn first_vcl_nal_type(family: Family, length_size: u8, data: &[u8]) -> Option<u8> {
    let ls = usize::from(length_size);
    if !(1..=4).contains(&ls) {
        return None;
    }
    let mut pos = 0usize;
    while pos + ls < data.len() {
        let mut len = 0usize;
        for &b in &data[pos..pos + ls] {
            len = (len << 8) | usize::from(b);
        }
        pos += ls;
        let header = *data.get(pos)?;
        match family {
            Family::Avc => {
                let t = header & 0x1f;
                if (1..=5).contains(&t) {
                    return Some(t);
                }
            }
            Family::Hevc => {
                let t = (header >> 1) & 0x3f;
                if t < 32 {
                    return Some(t);
                }
            }
            Family::Aac => return None,
        }
        pos = pos.checked_add(len)?;
    }
    None
}
