//! Video no DASH player decodes: MPEG-4 Part 2 (and MPEG-1 or MPEG-2 video in `mp4v`),
//! H.263, Apple ProRes and DV. Read only so the ABR ladder can encode them to H.264;
//! without a ladder such a track is refused by name, never dropped.

use super::aac::descriptor;
use super::entry::VISUAL_FIELDS;
use crate::error::BoxError;
use crate::mp4::header::Bx;

/// The decoder a legacy track needs, and its configuration (MPEG-4 Part 2's
/// DecoderSpecificInfo: the VOL header; empty for the others).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Legacy {
    Mpeg4Part2,
    Mpeg2,
    Mpeg1,
    H263,
    ProRes,
    Dv,
}

/// The kind of a sample entry type, when it is one of these; `mp4v` needs its `esds`.
fn kind_of(fourcc: &[u8; 4]) -> Option<Legacy> {
    match fourcc {
        b"s263" | b"h263" | b"H263" => Some(Legacy::H263),
        b"apcn" | b"apch" | b"apcs" | b"apco" | b"ap4h" | b"ap4x" => Some(Legacy::ProRes),
        b"dvc " | b"dvcp" | b"dvpp" | b"dv5n" | b"dv5p" | b"dvh5" | b"dvh6" | b"dvhp" | b"dvhq"
        | b"dvh2" | b"dvh3" => Some(Legacy::Dv),
        _ => None,
    }
}

/// `mp4v`'s object type (ISO/IEC 14496-1 Table 5) and DecoderSpecificInfo.
fn mp4v(entry: &Bx<'_>) -> Result<Option<(Legacy, Vec<u8>)>, BoxError> {
    let mut esds = None;
    for child in entry.children_after(VISUAL_FIELDS) {
        let child = child?;
        if &child.kind == b"esds" {
            esds = Some(child);
            break;
        }
    }
    let Some(esds) = esds else {
        return Ok(None);
    };
    let mut r = esds.body();
    r.version_flags()?;
    let (tag, _) = descriptor(&mut r)?;
    if tag != 3 {
        return Ok(None);
    }
    r.skip(2)?;
    let flags = r.u8()?;
    let skip = 2 * usize::from(flags & 0x80 != 0) + 2 * usize::from(flags & 0x20 != 0);
    if flags & 0x40 != 0 {
        let n = r.u8()?;
        r.skip(usize::from(n))?;
    }
    r.skip(skip)?;
    let (tag, _) = descriptor(&mut r)?;
    if tag != 4 {
        return Ok(None);
    }
    let kind = match r.u8()? {
        0x20 => Legacy::Mpeg4Part2,
        0x60..=0x65 => Legacy::Mpeg2,
        0x6a => Legacy::Mpeg1,
        _ => return Ok(None),
    };
    r.skip(12)?;
    let mut dsi = Vec::new();
    if r.remaining() > 0 {
        let (tag, len) = descriptor(&mut r)?;
        if tag == 5 {
            dsi = r.bytes(len)?.to_vec();
        }
    }
    Ok(Some((kind, dsi)))
}

/// The decoder and configuration of a legacy sample entry; `None` for any other.
pub(crate) fn decoder(entry: &Bx<'_>) -> Result<Option<(Legacy, Vec<u8>)>, BoxError> {
    if &entry.kind == b"mp4v" {
        return mp4v(entry);
    }
    Ok(kind_of(&entry.kind).map(|k| (k, Vec::new())))
}
