//! `stbl` (ISO/IEC 14496-12 8.5-8.7): the sample description and the sample tables,
//! decoded into the compact [`SampleTable`]. Every table length is checked against the
//! bytes of its box before anything is allocated.

use crate::error::{BoxError, Malformed};
use crate::mp4::header::Bx;
use crate::mp4::sample_table::{SampleTable, Sizes, StscEntry};

pub(crate) struct Parsed<'a> {
    /// The first sample entry (such as `avc1` or `mp4a`).
    pub entry: Bx<'a>,
    /// Sample description indexes the samples may use: 1, or every entry when they are
    /// all the same bytes (files joined from clips write one entry per clip), or when
    /// they differ but are all H.264 or all HEVC (`inband`).
    pub usable_entries: u32,
    /// Every sample entry, in order.
    pub entries: Vec<Bx<'a>>,
    /// The entries differ but are all H.264 (`avc1`, `avc3`) or all HEVC (`hvc1`,
    /// `hev1`): published as one entry with the parameter sets in band.
    pub inband: bool,
    /// The `stsd` box copied into the init segment: byte for byte, less any boxes after
    /// its declared entries (F4V writers pad it with `skip`, which Chromium refuses).
    pub stsd_raw: Vec<u8>,
    pub table: SampleTable,
    /// Encrypted samples' auxiliary information in a progressive file: `senc` and the
    /// `saiz`/`saio` that locate it (ISO/IEC 23001-7 7.2; 14496-12 8.7.8, 8.7.9).
    pub senc: Option<Bx<'a>>,
    pub saiz: Option<Bx<'a>>,
    pub saio: Option<Bx<'a>>,
}

macro_rules! once {
    ($slot:ident, $child:ident, $name:literal) => {{
        if $slot.is_some() {
            return Err($child.err(Malformed::Duplicate($name)));
        }
        $slot = Some($child);
    }};
}

pub(crate) fn parse_stbl<'a>(stbl: &Bx<'a>) -> Result<Parsed<'a>, BoxError> {
    parse(stbl, false)
}

/// The same for a timed-text track, whose samples may name any of its entries (they
/// differ in default style only, which the conversion to WebVTT drops).
pub(crate) fn parse_text_stbl<'a>(stbl: &Bx<'a>) -> Result<Parsed<'a>, BoxError> {
    parse(stbl, true)
}

fn parse<'a>(stbl: &Bx<'a>, any_entry: bool) -> Result<Parsed<'a>, BoxError> {
    let (mut stsd, mut stts, mut ctts, mut stss, mut stsc, mut stsz, mut stco) =
        (None, None, None, None, None, None, None);
    let (mut senc, mut saiz, mut saio) = (None, None, None);
    for child in stbl.children() {
        let child = child?;
        match &child.kind {
            b"stsd" => once!(stsd, child, "stsd"),
            b"stts" => once!(stts, child, "stts"),
            b"ctts" => once!(ctts, child, "ctts"),
            b"stss" => once!(stss, child, "stss"),
            b"stsc" => once!(stsc, child, "stsc"),
            b"stsz" | b"stz2" => once!(stsz, child, "stsz"),
            b"stco" | b"co64" => once!(stco, child, "stco"),
            // Only read for encrypted tracks; the first of each (a file may describe
            // other auxiliary information too).
            b"senc" if senc.is_none() => senc = Some(child),
            b"saiz" if saiz.is_none() => saiz = Some(child),
            b"saio" if saio.is_none() => saio = Some(child),
            _ => {}
        }
    }
    let missing = |name| stbl.err(Malformed::Missing(name));
    let stsd = stsd.ok_or_else(|| missing("stsd"))?;
    let entry = first_entry(&stsd)?;
    let entries = declared_entries(&stsd)?;
    let stsd_raw = declared_stsd(&stsd, &entries);
    let (mut usable_entries, inband) = usable_entries(&entries);
    if any_entry {
        usable_entries = u32::try_from(entries.len()).unwrap_or(u32::MAX);
    }
    let stsz = stsz.ok_or_else(|| missing("stsz"))?;
    let (count, sizes) = parse_sizes(&stsz)?;
    let table = SampleTable {
        count,
        stts: parse_stts(&stts.ok_or_else(|| missing("stts"))?)?,
        ctts: match ctts {
            Some(b) => parse_ctts(&b)?,
            None => Vec::new(),
        },
        sizes,
        stsc: parse_stsc(&stsc.ok_or_else(|| missing("stsc"))?, usable_entries)?,
        chunk_offsets: parse_chunk_offsets(&stco.ok_or_else(|| missing("stco"))?)?,
        sync: match stss {
            Some(b) => Some(parse_stss(&b)?),
            None => None,
        },
    };
    Ok(Parsed {
        entry,
        usable_entries,
        entries,
        inband,
        stsd_raw,
        table,
        senc,
        saiz,
        saio,
    })
}

/// How many entries the samples may refer to: all of them when every entry is the same
/// bytes as the first (then which one a sample names changes nothing) or when they are
/// all H.264 or all HEVC (their parameter sets can go in band), else 1.
fn usable_entries(entries: &[Bx<'_>]) -> (u32, bool) {
    let n = entries.len().max(1) as u32;
    let Some(first) = entries.first() else {
        return (1, false);
    };
    if entries.iter().all(|e| e.raw[4..] == first.raw[4..]) {
        return (n, false);
    }
    let avc = |e: &Bx<'_>| matches!(&e.kind, b"avc1" | b"avc3");
    let hevc = |e: &Bx<'_>| matches!(&e.kind, b"hvc1" | b"hev1");
    if entries.iter().all(avc) || entries.iter().all(hevc) {
        (n, true)
    } else {
        (1, false)
    }
}

/// The sample entries `stsd` declares (its `entry_count`), without boxes after them;
/// a count above the boxes there is read as the boxes there (what stsc may name is
/// checked against it).
fn declared_entries<'a>(stsd: &Bx<'a>) -> Result<Vec<Bx<'a>>, BoxError> {
    let mut r = stsd.body();
    r.version_flags()?;
    let count = r.u32()? as usize;
    stsd.children_after(8).take(count).collect()
}

/// `stsd` as it is, or rebuilt from its header and `entries` when it holds more.
fn declared_stsd(stsd: &Bx<'_>, entries: &[Bx<'_>]) -> Vec<u8> {
    let used: usize = entries.iter().map(|e| e.raw.len()).sum();
    if stsd.header_len + 8 + used == stsd.raw.len() {
        return stsd.raw.to_vec();
    }
    let mut out = Vec::with_capacity(16 + used);
    crate::mp4::write::write_box(&mut out, b"stsd", |b| {
        b.extend_from_slice(&stsd.raw[stsd.header_len..stsd.header_len + 8]);
        for e in entries {
            b.extend_from_slice(e.raw);
        }
    });
    out
}

fn first_entry<'a>(stsd: &Bx<'a>) -> Result<Bx<'a>, BoxError> {
    let mut r = stsd.body();
    r.version_flags()?;
    let count = r.u32()?;
    if count == 0 {
        return Err(stsd.err(Malformed::Missing("sample entry")));
    }
    stsd.children_after(8)
        .next()
        .unwrap_or_else(|| Err(stsd.err(Malformed::Missing("sample entry"))))
}

fn parse_stts(b: &Bx<'_>) -> Result<Vec<(u32, u32)>, BoxError> {
    let mut r = b.body();
    r.version_flags()?;
    let n = r.u32()?;
    r.check_table(u64::from(n), 8, "stts entries")?;
    let mut v = Vec::with_capacity(n as usize);
    for _ in 0..n {
        v.push((r.u32()?, r.u32()?));
    }
    Ok(v)
}

fn parse_ctts(b: &Bx<'_>) -> Result<Vec<(u32, i64)>, BoxError> {
    let mut r = b.body();
    r.version_flags()?;
    let n = r.u32()?;
    r.check_table(u64::from(n), 8, "ctts entries")?;
    let mut v = Vec::with_capacity(n as usize);
    for _ in 0..n {
        let count = r.u32()?;
        // Version 0 is unsigned by the spec, but writers put negative values there too;
        // reading both versions as signed is what every demuxer does.
        v.push((count, i64::from(r.i32()?)));
    }
    Ok(v)
}

fn parse_stss(b: &Bx<'_>) -> Result<Vec<u32>, BoxError> {
    let mut r = b.body();
    r.version_flags()?;
    let n = r.u32()?;
    r.check_table(u64::from(n), 4, "stss entries")?;
    let mut v = Vec::with_capacity(n as usize);
    let mut prev = 0u32;
    for _ in 0..n {
        let at = r.offset();
        let s = r.u32()?;
        if s <= prev {
            return Err(BoxError::new(
                b.path.clone(),
                at,
                Malformed::InvalidField {
                    field: "stss sample_number (must be ascending, from 1)",
                    value: i64::from(s),
                },
            ));
        }
        prev = s;
        v.push(s);
    }
    Ok(v)
}

fn parse_stsc(b: &Bx<'_>, usable_entries: u32) -> Result<Vec<StscEntry>, BoxError> {
    let mut r = b.body();
    r.version_flags()?;
    let n = r.u32()?;
    r.check_table(u64::from(n), 12, "stsc entries")?;
    let mut v: Vec<StscEntry> = Vec::with_capacity(n as usize);
    for _ in 0..n {
        let at = r.offset();
        let e = StscEntry {
            first_chunk: r.u32()?,
            samples_per_chunk: r.u32()?,
            sample_description_index: r.u32()?,
        };
        let prev = v.last().map_or(0, |p| p.first_chunk);
        if e.first_chunk == 0 || e.first_chunk <= prev {
            return Err(BoxError::new(
                b.path.clone(),
                at,
                Malformed::InvalidField {
                    field: "stsc first_chunk (must be ascending, from 1)",
                    value: i64::from(e.first_chunk),
                },
            ));
        }
        if !(1..=usable_entries).contains(&e.sample_description_index) {
            return Err(BoxError::new(
                b.path.clone(),
                at + 8,
                Malformed::InvalidField {
                    field: "stsc sample_description_index (several different sample entries in one track are not carried)",
                    value: i64::from(e.sample_description_index),
                },
            ));
        }
        v.push(e);
    }
    Ok(v)
}

fn parse_sizes(b: &Bx<'_>) -> Result<(u32, Sizes), BoxError> {
    let mut r = b.body();
    r.version_flags()?;
    if &b.kind == b"stsz" {
        let size = r.u32()?;
        let count = r.u32()?;
        if size != 0 {
            return Ok((count, Sizes::Constant(size)));
        }
        r.check_table(u64::from(count), 4, "stsz entries")?;
        let mut v = Vec::with_capacity(count as usize);
        for _ in 0..count {
            v.push(r.u32()?);
        }
        return Ok((count, Sizes::PerSample(v)));
    }
    r.skip(3)?;
    let at = r.offset();
    let field = r.u8()?;
    let count = r.u32()?;
    let bits = u64::from(count) * u64::from(field);
    match field {
        4 | 8 | 16 => r.check_table(bits.div_ceil(8), 1, "stz2 entries")?,
        _ => {
            return Err(BoxError::new(
                b.path.clone(),
                at,
                Malformed::InvalidField {
                    field: "stz2 field_size",
                    value: i64::from(field),
                },
            ));
        }
    }
    let mut v = Vec::with_capacity(count as usize);
    let mut i = 0;
    while i < count {
        match field {
            4 => {
                let byte = r.u8()?;
                v.push(u32::from(byte >> 4));
                if i + 1 < count {
                    v.push(u32::from(byte & 0x0f));
                }
                i += 2;
            }
            8 => {
                v.push(u32::from(r.u8()?));
                i += 1;
            }
            _ => {
                v.push(u32::from(r.u16()?));
                i += 1;
            }
        }
    }
    Ok((count, Sizes::PerSample(v)))
}

fn parse_chunk_offsets(b: &Bx<'_>) -> Result<Vec<u64>, BoxError> {
    let mut r = b.body();
    r.version_flags()?;
    let n = r.u32()?;
    let wide = &b.kind == b"co64";
    r.check_table(u64::from(n), if wide { 8 } else { 4 }, "chunk offsets")?;
    let mut v = Vec::with_capacity(n as usize);
    for _ in 0..n {
        v.push(if wide { r.u64()? } else { u64::from(r.u32()?) });
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mp4::header::{boxed, test_box};

    #[test]
    fn boxes_after_the_declared_entries_are_left_out_of_the_stsd() {
        let entry = boxed(b"avc1", &[7; 20]);
        let mut body = vec![0, 0, 0, 0, 0, 0, 0, 1];
        body.extend_from_slice(&entry);
        let exact = boxed(b"stsd", &body);
        // As it is when it holds just its entries.
        let stsd = test_box(&exact);
        let entries = declared_entries(&stsd).unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(declared_stsd(&stsd, &entries), exact);
        // An F4V writer's padding after the one entry: dropped, the size fixed.
        body.extend_from_slice(&boxed(b"skip", &[0; 40]));
        let padded = boxed(b"stsd", &body);
        let stsd = test_box(&padded);
        let entries = declared_entries(&stsd).unwrap();
        assert_eq!((entries.len(), &entries[0].kind), (1, b"avc1"));
        assert_eq!(declared_stsd(&stsd, &entries), exact);
    }
}
