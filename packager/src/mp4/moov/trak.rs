//! `trak` (ISO/IEC 14496-12 8.3): `tkhd`, `edts/elst`, `mdia` (`mdhd`, `hdlr`, `elng`) and
//! `minf`, keeping the raw bytes the init segment copies.

use crate::codec::{self, CodecInfo};
use crate::error::{BoxError, Malformed};
use crate::lang;
use crate::mp4::header::{Bx, fourcc_str};
use crate::mp4::moov::stbl;
use crate::mp4::sample_table::SampleTable;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Video,
    Audio,
}

/// What the edit list says, reduced to the one form players support: an optional empty
/// lead-in followed by one edit into the media.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Edit {
    /// Sum of leading empty edits, in the movie timescale.
    pub empty: u64,
    /// Media time where presentation starts (0 without an edit list).
    pub media_time: i64,
    /// Entries beyond that form which were not applied.
    pub ignored_entries: usize,
}

#[derive(Debug)]
pub(crate) struct Track {
    pub id: u32,
    pub kind: Kind,
    pub timescale: u32,
    /// Language as BCP-47 (`und` when unknown).
    pub language: String,
    pub codec: CodecInfo,
    pub table: SampleTable,
    /// Decode time of the first sample (a fragmented input's first `tfdt`; else 0).
    pub start_dts: u64,
    pub edit: Edit,
    /// Raw boxes copied into the init segment.
    pub tkhd: Vec<u8>,
    pub hdlr: Vec<u8>,
    pub media_header: Option<Vec<u8>>,
    pub elng: Option<Vec<u8>>,
    pub stsd: Vec<u8>,
    pub mdhd_language: u16,
    /// Box path of the `trak`, for messages.
    pub path: String,
    /// Absolute offset of the `trak`.
    pub offset: u64,
}

/// `Ok(Err(reason))` when the track is well-formed but not one dashpack packages.
pub(crate) fn parse_trak(trak: &Bx<'_>) -> Result<Result<Track, String>, BoxError> {
    let mut tkhd = None;
    let mut edit = Edit::default();
    let mut mdia = None;
    for child in trak.children() {
        let child = child?;
        match &child.kind {
            b"tkhd" => tkhd = Some(child),
            b"edts" => {
                for e in child.children() {
                    let e = e?;
                    if &e.kind == b"elst" {
                        edit = parse_elst(&e)?;
                    }
                }
            }
            b"mdia" => mdia = Some(child),
            _ => {}
        }
    }
    let tkhd = tkhd.ok_or_else(|| trak.err(Malformed::Missing("tkhd")))?;
    let id = parse_tkhd_id(&tkhd)?;
    let mdia = mdia.ok_or_else(|| trak.err(Malformed::Missing("mdia")))?;

    let (mut mdhd, mut hdlr, mut minf, mut elng) = (None, None, None, None);
    for child in mdia.children() {
        let child = child?;
        match &child.kind {
            b"mdhd" => mdhd = Some(child),
            b"hdlr" => hdlr = Some(child),
            b"minf" => minf = Some(child),
            b"elng" => elng = Some(child),
            _ => {}
        }
    }
    let mdhd = mdhd.ok_or_else(|| mdia.err(Malformed::Missing("mdhd")))?;
    let hdlr = hdlr.ok_or_else(|| mdia.err(Malformed::Missing("hdlr")))?;
    let minf = minf.ok_or_else(|| mdia.err(Malformed::Missing("minf")))?;
    let (timescale, mdhd_language) = parse_mdhd(&mdhd)?;
    let handler = {
        let mut r = hdlr.body();
        r.skip(8)?;
        let h = r.bytes(4)?;
        [h[0], h[1], h[2], h[3]]
    };
    let kind = match &handler {
        b"vide" => Kind::Video,
        b"soun" => Kind::Audio,
        other => {
            return Ok(Err(format!(
                "track {id}: handler '{}' is not audio or video; skipped",
                fourcc_str(other)
            )));
        }
    };

    let mut media_header = None;
    let mut stbl_box = None;
    for child in minf.children() {
        let child = child?;
        match &child.kind {
            b"vmhd" | b"smhd" => media_header = Some(child.raw.to_vec()),
            b"stbl" => stbl_box = Some(child),
            _ => {}
        }
    }
    let stbl_box = stbl_box.ok_or_else(|| minf.err(Malformed::Missing("stbl")))?;
    let parsed = stbl::parse_stbl(&stbl_box)?;
    let Some(codec) = codec::parse_sample_entry(&parsed.entry)? else {
        return Ok(Err(format!(
            "track {id}: codec '{}' is not supported yet; skipped",
            fourcc_str(&parsed.entry.kind)
        )));
    };
    let language = match &elng {
        Some(e) => parse_elng(e).unwrap_or_else(|| "und".into()),
        None => lang::from_mdhd(mdhd_language)
            .map(|l| lang::shortest(&l))
            .unwrap_or_else(|| "und".into()),
    };
    Ok(Ok(Track {
        id,
        kind,
        timescale,
        language,
        codec,
        table: parsed.table,
        start_dts: 0,
        edit,
        tkhd: tkhd.raw.to_vec(),
        hdlr: hdlr.raw.to_vec(),
        media_header,
        elng: elng.map(|e| e.raw.to_vec()),
        stsd: parsed.stsd_raw.to_vec(),
        mdhd_language,
        path: trak.path.clone(),
        offset: trak.start,
    }))
}

fn parse_tkhd_id(b: &Bx<'_>) -> Result<u32, BoxError> {
    let mut r = b.body();
    r.skip_header_times()?;
    r.u32()
}

fn parse_mdhd(b: &Bx<'_>) -> Result<(u32, u16), BoxError> {
    let mut r = b.body();
    let version = r.skip_header_times()?;
    let ts = r.timescale("mdhd timescale")?;
    r.skip(if version == 1 { 8 } else { 4 })?;
    let language = r.u16()? & 0x7fff;
    Ok((ts, language))
}

fn parse_elng(b: &Bx<'_>) -> Option<String> {
    let mut r = b.body();
    r.version_flags().ok()?;
    let rest = r.bytes(r.remaining()).ok()?;
    let s = std::str::from_utf8(rest)
        .ok()?
        .trim_end_matches('\0')
        .trim();
    (!s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
        .then(|| lang::shortest(s))
}

fn parse_elst(b: &Bx<'_>) -> Result<Edit, BoxError> {
    let mut r = b.body();
    let (version, _) = r.version_flags()?;
    let count = r.u32()?;
    let entry_size = if version == 1 { 20 } else { 12 };
    r.check_table(u64::from(count), entry_size, "elst entries")?;
    let mut edit = Edit::default();
    let mut seen_media = false;
    for _ in 0..count {
        let (duration, media_time) = if version == 1 {
            (r.u64()?, r.u64()? as i64)
        } else {
            (u64::from(r.u32()?), i64::from(r.i32()?))
        };
        r.skip(4)?; // media_rate: dwells (rate 0) are not supported, only counted
        if seen_media {
            edit.ignored_entries += 1;
        } else if media_time == -1 {
            edit.empty = edit.empty.saturating_add(duration);
        } else if media_time < 0 {
            return Err(r.err(Malformed::InvalidField {
                field: "elst media_time",
                value: media_time,
            }));
        } else {
            edit.media_time = media_time;
            seen_media = true;
        }
    }
    Ok(edit)
}
