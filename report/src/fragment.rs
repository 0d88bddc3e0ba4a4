//! What a report needs from the written files, read from their boxes rather than from
//! the MPD's claims: the init segment's track (timescale, handler, picture size,
//! `trex` defaults) and, per media segment, its samples' durations, sizes, sync flags
//! and presentation times (ISO/IEC 14496-12 8.8), and an on-demand file's `sidx`
//! (8.16.3). The boxes are decoded by `mp4-atom`, not by the packager that wrote them.

use std::fmt;

use mp4_atom::{Decode, Hdlr, Mdhd, Moof, Sidx as SidxBox, Tkhd, Trex, TrunSamples};

/// `sample_is_non_sync_sample` in sample flags (ISO/IEC 14496-12 8.8.3.1).
const NON_SYNC: u32 = 0x0001_0000;

/// A box that cannot be read, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BoxProblem {
    pub path: String,
    /// Byte offset of the box in its file.
    pub offset: u64,
    pub what: String,
}

impl fmt::Display for BoxProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "at byte {}: {}", self.offset, self.what)
        } else {
            write!(f, "{} at byte {}: {}", self.path, self.offset, self.what)
        }
    }
}

fn problem(path: &str, offset: u64, what: impl Into<String>) -> BoxProblem {
    BoxProblem {
        path: path.into(),
        offset,
        what: what.into(),
    }
}

/// `trex` defaults of the init segment's track.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Defaults {
    pub duration: u32,
    pub size: u32,
    pub flags: u32,
}

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

/// A top-level box of bytes held in memory: its type, its offset in the file, and its
/// bytes (header included).
struct TopBox<'a> {
    kind: [u8; 4],
    offset: u64,
    header: usize,
    raw: &'a [u8],
}

/// The boxes one after another in `data` (the top level of a file, or a box's body),
/// `base` being the file offset of `data[0]`; a box that runs past the end is a problem
/// naming it.
fn boxes(data: &[u8], base: u64) -> impl Iterator<Item = Result<TopBox<'_>, BoxProblem>> {
    let mut at = 0usize;
    std::iter::from_fn(move || {
        if at >= data.len() {
            return None;
        }
        let offset = base + at as u64;
        let rest = &data[at..];
        let Some(head) = rest.get(..8) else {
            at = data.len();
            return Some(Err(problem(
                "",
                offset,
                format!("{} bytes left, too few for a box header", rest.len()),
            )));
        };
        let kind = [head[4], head[5], head[6], head[7]];
        let name = String::from_utf8_lossy(&kind).into_owned();
        let (size, header) = match u32::from_be_bytes([head[0], head[1], head[2], head[3]]) {
            0 => (rest.len() as u64, 8),
            1 => match rest.get(8..16) {
                Some(b) => (u64::from_be_bytes(b.try_into().unwrap_or_default()), 16),
                None => {
                    at = data.len();
                    return Some(Err(problem(&name, offset, "truncated 64-bit size")));
                }
            },
            n => (u64::from(n), 8),
        };
        if size < header as u64 || size > rest.len() as u64 {
            at = data.len();
            return Some(Err(problem(
                &name,
                offset,
                format!(
                    "box of {size} bytes runs past the end ({} bytes left)",
                    rest.len()
                ),
            )));
        }
        at += size as usize;
        Some(Ok(TopBox {
            kind,
            offset,
            header,
            raw: &rest[..size as usize],
        }))
    })
}

fn decode<T: Decode>(b: &TopBox<'_>) -> Result<T, BoxProblem> {
    let mut raw = b.raw;
    T::decode(&mut raw).map_err(|e| {
        problem(
            &String::from_utf8_lossy(&b.kind),
            b.offset,
            format!("cannot be read: {e}"),
        )
    })
}

fn find<'a>(data: &'a [u8], base: u64, kind: &[u8; 4]) -> Result<Option<TopBox<'a>>, BoxProblem> {
    for b in boxes(data, base) {
        let b = b?;
        if &b.kind == kind {
            return Ok(Some(b));
        }
    }
    Ok(None)
}

/// The track of an init segment. Only the boxes the report needs are decoded (by
/// `mp4-atom`); the sample entry is named from its header, so a codec the decoder does
/// not know still has its report.
pub(crate) fn read_init(data: &[u8]) -> Result<InitFacts, BoxProblem> {
    let moov =
        find(data, 0, b"moov")?.ok_or_else(|| problem("", 0, "required box moov is missing"))?;
    let trak = child(&moov, b"trak")?
        .ok_or_else(|| problem("moov", moov.offset, "required box trak is missing"))?;
    let tkhd: Tkhd = decode(&need(&trak, b"tkhd")?)?;
    let mdia = need(&trak, b"mdia")?;
    let mdhd: Mdhd = decode(&need(&mdia, b"mdhd")?)?;
    let hdlr: Hdlr = decode(&need(&mdia, b"hdlr")?)?;
    let mut facts = InitFacts {
        track_id: tkhd.track_id,
        timescale: mdhd.timescale,
        handler: hdlr.handler.to_string(),
        ..InitFacts::default()
    };
    let (w, h) = (tkhd.width.integer(), tkhd.height.integer());
    if w > 0 && h > 0 {
        facts.width = Some(u32::from(w));
        facts.height = Some(u32::from(h));
    }
    let stsd = need(&need(&need(&mdia, b"minf")?, b"stbl")?, b"stsd")?;
    // A full box: version and flags, entry_count, then the entries.
    let entries = stsd.raw.get(stsd.header + 8..).unwrap_or_default();
    if let Some(entry) = boxes(entries, stsd.offset + stsd.header as u64 + 8).next() {
        let entry = entry?;
        facts.sample_entry = String::from_utf8_lossy(&entry.kind).into_owned();
        // A visual sample entry's width and height follow 24 bytes of reserved and
        // pre-defined fields (ISO/IEC 14496-12 12.1.3).
        let body = &entry.raw[entry.header..];
        if facts.handler == "vide"
            && let Some(size) = body.get(24..28)
        {
            let (w, h) = (
                u16::from_be_bytes([size[0], size[1]]),
                u16::from_be_bytes([size[2], size[3]]),
            );
            if w > 0 && h > 0 {
                facts.width = Some(u32::from(w));
                facts.height = Some(u32::from(h));
            }
        }
    }
    if facts.timescale == 0 {
        return Err(problem("moov/trak/mdia/mdhd", moov.offset, "timescale 0"));
    }
    if let Some(mvex) = child(&moov, b"mvex")? {
        for b in boxes(&mvex.raw[mvex.header..], mvex.offset + mvex.header as u64) {
            let b = b?;
            if &b.kind != b"trex" {
                continue;
            }
            let t: Trex = decode(&b)?;
            if t.track_id == facts.track_id {
                facts.defaults = Defaults {
                    duration: t.default_sample_duration,
                    size: t.default_sample_size,
                    flags: t.default_sample_flags,
                };
            }
        }
    }
    Ok(facts)
}

/// The child box of `parent` of type `kind`, which the specification requires.
fn need<'a>(parent: &TopBox<'a>, kind: &[u8; 4]) -> Result<TopBox<'a>, BoxProblem> {
    child(parent, kind)?.ok_or_else(|| {
        let what = format!("required box {} is missing", String::from_utf8_lossy(kind));
        problem(&String::from_utf8_lossy(&parent.kind), parent.offset, what)
    })
}

/// The first child box of `parent` of type `kind`.
fn child<'a>(parent: &TopBox<'a>, kind: &[u8; 4]) -> Result<Option<TopBox<'a>>, BoxProblem> {
    let body = &parent.raw[parent.header..];
    find(body, parent.offset + parent.header as u64, kind)
}

/// Reads every `moof` of a media segment (or of an on-demand subsegment starting at
/// byte `base` of its file) for the track `init` describes.
pub(crate) fn read_segment(
    data: &[u8],
    base: u64,
    init: &InitFacts,
) -> Result<SegmentFacts, BoxProblem> {
    let mut facts = SegmentFacts::default();
    let mut seen_moof = false;
    for b in boxes(data, base) {
        let b = b?;
        match &b.kind {
            b"moof" => {
                seen_moof = true;
                let moof: Moof = decode(&b)?;
                read_moof(&moof, b.offset, init, &mut facts)?;
            }
            b"mdat" => facts.mdat_bytes += (b.raw.len() - b.header) as u64,
            _ => {}
        }
    }
    if !seen_moof {
        return Err(problem("", base, "required box moof is missing"));
    }
    Ok(facts)
}

fn read_moof(
    moof: &Moof,
    offset: u64,
    init: &InitFacts,
    facts: &mut SegmentFacts,
) -> Result<(), BoxProblem> {
    for traf in &moof.traf {
        let h = &traf.tfhd;
        if h.track_id != init.track_id {
            return Err(problem(
                "moof/traf/tfhd",
                offset,
                format!(
                    "track_ID {} is not the init segment's track {}",
                    h.track_id, init.track_id
                ),
            ));
        }
        let d = Defaults {
            duration: h.default_sample_duration.unwrap_or(init.defaults.duration),
            size: h.default_sample_size.unwrap_or(init.defaults.size),
            flags: h.default_sample_flags.unwrap_or(init.defaults.flags),
        };
        let decode = traf.tfdt.as_ref().map(|t| t.base_media_decode_time);
        let mut t = decode
            .or(facts.decode_time.map(|s| s + facts.duration))
            .unwrap_or(0);
        if facts.decode_time.is_none() {
            facts.decode_time = decode;
        }
        for trun in &traf.trun {
            t = read_trun(&trun.samples, &d, t, facts);
        }
    }
    Ok(())
}

fn read_trun(samples: &TrunSamples, d: &Defaults, mut t: u64, facts: &mut SegmentFacts) -> u64 {
    for e in samples.iter() {
        let duration = e.duration.unwrap_or(d.duration);
        let size = e.size.unwrap_or(d.size);
        // The first sample's flags may be the trun's first_sample_flags, which mp4-atom
        // gives as that entry's flags.
        let flags = e.flags.unwrap_or(d.flags);
        let presented = t as i64 + e.cts.unwrap_or(0);
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
    t
}

/// The first `sidx` among top-level boxes, and the offset just past it.
pub(crate) fn read_sidx(data: &[u8], base: u64) -> Result<Option<Sidx>, BoxProblem> {
    let Some(b) = find(data, base, b"sidx")? else {
        return Ok(None);
    };
    let sidx: SidxBox = decode(&b)?;
    if sidx.timescale == 0 {
        return Err(problem("sidx", b.offset, "timescale 0"));
    }
    Ok(Some(Sidx {
        timescale: sidx.timescale,
        earliest_presentation_time: sidx.earliest_presentation_time,
        first_byte: b.offset + b.raw.len() as u64 + sidx.first_offset,
        references: sidx
            .references
            .iter()
            .map(|r| SidxRef {
                size: r.referenced_size,
                duration: r.subsegment_duration,
                starts_with_sap: r.starts_with_sap,
                sap_type: r.sap_type,
            })
            .collect(),
    }))
}
