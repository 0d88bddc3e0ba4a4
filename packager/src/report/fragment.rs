//! What a report needs from the written files, read from their boxes rather than from
//! the MPD's claims: the init segment's track (timescale, handler, picture size,
//! `trex` defaults) and, per media segment, its samples' durations, sizes, sync flags
//! and presentation times (ISO/IEC 14496-12 8.8), and an on-demand file's `sidx`
//! (8.16.3).

use crate::error::{BoxError, Malformed};
use crate::mp4::fragments::{Defaults, NON_SYNC, Tfhd, TrunEntries, TrunEntry, parse_trex};
use crate::mp4::header::{Bx, Children, fourcc_str};

/// The track an init segment describes.
#[derive(Debug, Clone, Default)]
pub(crate) struct InitFacts {
    pub track_id: u32,
    pub timescale: u32,
    pub handler: String,
    /// The first sample entry's type, such as `avc1` or `encv`.
    pub sample_entry: String,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub defaults: Defaults,
}

/// What one media segment (or on-demand subsegment) holds.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct SegmentFacts {
    pub samples: u32,
    /// Sum of the sample durations, in the track's timescale.
    pub duration: u64,
    /// The first `tfdt`.
    pub decode_time: Option<u64>,
    /// The smallest decode time + composition offset of any sample.
    pub earliest_presentation: Option<i64>,
    /// The first sample in decode order is a sync sample.
    pub starts_with_sync: bool,
    /// The first sample is also the first presented.
    pub first_is_earliest: bool,
    /// Bytes of sample data the `trun`s describe, and the `mdat` payload bytes.
    pub sample_bytes: u64,
    pub mdat_bytes: u64,
}

/// One `sidx` reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SidxRef {
    pub size: u32,
    pub duration: u32,
    pub starts_with_sap: bool,
    pub sap_type: u8,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Sidx {
    pub timescale: u32,
    pub earliest_presentation_time: u64,
    /// Where the first referenced byte is: the end of the `sidx` plus `first_offset`.
    pub first_byte: u64,
    pub references: Vec<SidxRef>,
}

/// The top-level boxes of bytes held in memory, `base` being the offset of `data[0]`.
pub(crate) fn top_level(data: &[u8], base: u64) -> Children<'_> {
    Children::root(data, base)
}

pub(crate) fn read_init(data: &[u8]) -> Result<InitFacts, BoxError> {
    let moov = find(top_level(data, 0), b"moov")?
        .ok_or_else(|| BoxError::new("", 0, Malformed::Missing("moov")))?;
    let trak =
        find(moov.children(), b"trak")?.ok_or_else(|| moov.err(Malformed::Missing("trak")))?;
    let mut facts = InitFacts::default();
    for c in trak.children() {
        let c = c?;
        match &c.kind {
            b"tkhd" => {
                let mut r = c.body();
                let (version, _) = r.version_flags()?;
                r.skip(if version == 1 { 16 } else { 8 })?;
                facts.track_id = r.u32()?;
                // Reserved, duration, reserved, layer, group, volume, reserved, matrix.
                r.skip(4 + if version == 1 { 8 } else { 4 } + 8 + 8 + 36)?;
                let (w, h) = (r.u32()? >> 16, r.u32()? >> 16);
                if w > 0 && h > 0 {
                    facts.width = Some(w);
                    facts.height = Some(h);
                }
            }
            b"mdia" => read_mdia(&c, &mut facts)?,
            _ => {}
        }
    }
    if facts.timescale == 0 {
        return Err(trak.err(Malformed::Missing("mdia/mdhd")));
    }
    facts.defaults = parse_trex(&moov)?
        .get(&facts.track_id)
        .copied()
        .unwrap_or_default();
    Ok(facts)
}

fn read_mdia(mdia: &Bx<'_>, facts: &mut InitFacts) -> Result<(), BoxError> {
    for c in mdia.children() {
        let c = c?;
        match &c.kind {
            b"mdhd" => {
                let mut r = c.body();
                r.skip_header_times()?;
                facts.timescale = r.timescale("mdhd timescale")?;
            }
            b"hdlr" => {
                let mut r = c.body();
                r.version_flags()?;
                r.skip(4)?;
                facts.handler = fourcc_str(&r.u32()?.to_be_bytes());
            }
            b"minf" => {
                let Some(stbl) = find(c.children(), b"stbl")? else {
                    continue;
                };
                let Some(stsd) = find(stbl.children(), b"stsd")? else {
                    continue;
                };
                if let Some(entry) = stsd.children_after(8).next() {
                    let entry = entry?;
                    facts.sample_entry = fourcc_str(&entry.kind);
                    // A visual sample entry's width and height follow 24 bytes of
                    // reserved and pre-defined fields (12.1.3).
                    if facts.handler == "vide" {
                        let mut r = entry.body();
                        r.skip(24)?;
                        let (w, h) = (u32::from(r.u16()?), u32::from(r.u16()?));
                        if w > 0 && h > 0 {
                            facts.width = Some(w);
                            facts.height = Some(h);
                        }
                    }
                }
            }
            _ => {}
        }
    }
    Ok(())
}

fn find<'a>(children: Children<'a>, kind: &[u8; 4]) -> Result<Option<Bx<'a>>, BoxError> {
    for c in children {
        let c = c?;
        if &c.kind == kind {
            return Ok(Some(c));
        }
    }
    Ok(None)
}

/// Reads every `moof` of a media segment (or of an on-demand subsegment starting at
/// byte `base` of its file) for the track `init` describes.
pub(crate) fn read_segment(
    data: &[u8],
    base: u64,
    init: &InitFacts,
) -> Result<SegmentFacts, BoxError> {
    let mut facts = SegmentFacts::default();
    let mut seen_moof = false;
    for b in top_level(data, base) {
        let b = b?;
        match &b.kind {
            b"moof" => {
                seen_moof = true;
                read_moof(&b, init, &mut facts)?;
            }
            b"mdat" => facts.mdat_bytes += (b.raw.len() - b.header_len) as u64,
            _ => {}
        }
    }
    if !seen_moof {
        return Err(BoxError::new("", base, Malformed::Missing("moof")));
    }
    Ok(facts)
}

fn read_moof(moof: &Bx<'_>, init: &InitFacts, facts: &mut SegmentFacts) -> Result<(), BoxError> {
    for traf in moof.children() {
        let traf = traf?;
        if &traf.kind != b"traf" {
            continue;
        }
        let mut d = init.defaults;
        let mut decode = None;
        let mut truns = Vec::new();
        for c in traf.children() {
            let c = c?;
            match &c.kind {
                b"tfhd" => {
                    let header = Tfhd::read(&c)?;
                    if header.track_id != init.track_id {
                        return Err(c.err(Malformed::InvalidField {
                            field: "tfhd track_ID (not the init segment's track)",
                            value: 0,
                        }));
                    }
                    d = header.over(d);
                }
                b"tfdt" => {
                    let mut r = c.body();
                    let (version, _) = r.version_flags()?;
                    decode = Some(if version == 1 {
                        r.u64()?
                    } else {
                        u64::from(r.u32()?)
                    });
                }
                b"trun" => truns.push(c),
                _ => {}
            }
        }
        let mut t = decode
            .or(facts.decode_time.map(|s| s + facts.duration))
            .unwrap_or(0);
        if facts.decode_time.is_none() {
            facts.decode_time = decode;
        }
        for trun in truns {
            t = read_trun(&trun, &d, t, facts)?;
        }
    }
    Ok(())
}

fn read_trun(
    trun: &Bx<'_>,
    d: &Defaults,
    mut t: u64,
    facts: &mut SegmentFacts,
) -> Result<u64, BoxError> {
    let mut entries = TrunEntries::new(trun, d)?;
    while let Some(TrunEntry {
        duration,
        size,
        flags,
        cto,
    }) = entries.next_entry()?
    {
        let presented = t as i64 + cto;
        if facts.samples == 0 {
            facts.starts_with_sync = flags & NON_SYNC == 0;
            facts.first_is_earliest = true;
        } else if facts.earliest_presentation.is_some_and(|e| presented < e) {
            facts.first_is_earliest = false;
        }
        facts.earliest_presentation = Some(
            facts
                .earliest_presentation
                .map_or(presented, |e| e.min(presented)),
        );
        facts.samples += 1;
        facts.duration += u64::from(duration);
        facts.sample_bytes += u64::from(size);
        t += u64::from(duration);
    }
    Ok(t)
}

/// The first `sidx` among top-level boxes, and the offset just past it.
pub(crate) fn read_sidx(data: &[u8], base: u64) -> Result<Option<Sidx>, BoxError> {
    let Some(b) = find(top_level(data, base), b"sidx")? else {
        return Ok(None);
    };
    let mut r = b.body();
    let (version, _) = r.version_flags()?;
    r.u32()?; // reference_ID
    let timescale = r.timescale("sidx timescale")?;
    let (earliest, first_offset) = if version == 0 {
        (u64::from(r.u32()?), u64::from(r.u32()?))
    } else {
        (r.u64()?, r.u64()?)
    };
    r.u16()?;
    let count = r.u16()?;
    r.check_table(u64::from(count), 12, "sidx references")?;
    let mut references = Vec::with_capacity(usize::from(count));
    for _ in 0..count {
        let a = r.u32()?;
        let duration = r.u32()?;
        let c = r.u32()?;
        references.push(SidxRef {
            size: a & 0x7fff_ffff,
            duration,
            starts_with_sap: c >> 31 == 1,
            sap_type: ((c >> 28) & 7) as u8,
        });
    }
    Ok(Some(Sidx {
        timescale,
        earliest_presentation_time: earliest,
        first_byte: b.start + b.raw.len() as u64 + first_offset,
        references,
    }))
}
