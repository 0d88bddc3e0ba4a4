//! Timed-text tracks in a movie: 3GPP timed text (`tx3g`, also FFmpeg's `mov_text`)
//! and QuickTime text (`text`). Their samples are converted to WebVTT (no web player
//! plays them as they are); chapter titles (a text track another track's `tref/chap`
//! names) are not subtitles and stay out.

use super::stbl;
use super::trak::{ElstEntry, parse_edts, parse_mdhd, parse_tkhd_area, parse_tkhd_id};
use crate::codec::tx3g::{self, Frame, Placement};
use crate::error::{BoxError, Malformed};
use crate::lang;
use crate::mp4::header::{Bx, FourCC};
use crate::mp4::sample_table::SampleTable;

/// Sample entries converted to WebVTT.
pub(crate) fn is_convertible(entry: &FourCC) -> bool {
    matches!(entry, b"tx3g" | b"text")
}

/// QuickTime closed captions (`clcp` handler): carried in the video's SEI.
pub(crate) fn is_caption(entry: &FourCC) -> bool {
    entry == b"c608"
}

#[derive(Debug)]
pub(crate) struct TextTrack {
    pub id: u32,
    pub handler: FourCC,
    pub entry: FourCC,
    pub timescale: u32,
    /// BCP-47, shortest form (`und` when the track does not say).
    pub language: String,
    pub elst: Vec<ElstEntry>,
    pub table: SampleTable,
    /// Decode time of the first sample (a fragmented input's first `tfdt`; else 0).
    pub start_dts: u64,
    /// Sample description indexes samples may name: every entry (text entries are all
    /// read the same way).
    pub usable_entries: u32,
    /// The DASH role: from `udta/kind`, else `forced-subtitle` when the `tx3g` entry
    /// says every sample is forced.
    pub role: Option<String>,
    /// Where each sample entry puts the text (by sample description index - 1), and
    /// the areas it is placed in (the viewport, the video's, is set by the movie reader).
    pub placements: Vec<Placement>,
    pub frame: Frame,
}

/// 3GPP TS 26.245 5.16: displayFlags bit "all samples are forced".
const ALL_SAMPLES_FORCED: u32 = 0x8000_0000;

/// The text track in `trak` (or QuickTime caption track), or `None` when its sample
/// entry is not one carried here.
pub(crate) fn parse_text_trak(
    trak: &Bx<'_>,
    handler: FourCC,
) -> Result<Option<TextTrack>, BoxError> {
    let (mut tkhd, mut elst, mut mdia) = (None, Vec::new(), None);
    for child in trak.children() {
        let child = child?;
        match &child.kind {
            b"tkhd" => tkhd = Some(child),
            b"edts" => elst = parse_edts(&child)?,
            b"mdia" => mdia = Some(child),
            _ => {}
        }
    }
    let tkhd = tkhd.ok_or_else(|| trak.err(Malformed::Missing("tkhd")))?;
    let mdia = mdia.ok_or_else(|| trak.err(Malformed::Missing("mdia")))?;
    let (mut mdhd, mut stbl_box) = (None, None);
    for child in mdia.children() {
        let child = child?;
        match &child.kind {
            b"mdhd" => mdhd = Some(child),
            b"minf" => {
                for m in child.children() {
                    let m = m?;
                    if &m.kind == b"stbl" {
                        stbl_box = Some(m);
                    }
                }
            }
            _ => {}
        }
    }
    let mdhd = mdhd.ok_or_else(|| mdia.err(Malformed::Missing("mdhd")))?;
    let stbl_box = stbl_box.ok_or_else(|| mdia.err(Malformed::Missing("stbl")))?;
    let parsed = stbl::parse_text_stbl(&stbl_box)?;
    if !is_convertible(&parsed.entry.kind) && !is_caption(&parsed.entry.kind) {
        return Ok(None);
    }
    // tx3g: displayFlags right after the SampleEntry fields.
    let at = parsed.entry.header_len + 8;
    let forced = &parsed.entry.kind == b"tx3g"
        && parsed.entry.raw.get(at..at + 4).is_some_and(|f| {
            u32::from_be_bytes([f[0], f[1], f[2], f[3]]) & ALL_SAMPLES_FORCED != 0
        });
    let placements = parsed
        .entries
        .iter()
        .map(|e| {
            let fields = e.raw.get(e.header_len + 8..).unwrap_or_default();
            match &e.kind {
                b"tx3g" => tx3g::placement(fields, false),
                b"text" => tx3g::placement(fields, true),
                _ => Placement::default(),
            }
        })
        .collect();
    let role = super::trak::dash_role(trak).or(forced.then(|| "forced-subtitle".to_string()));
    let (timescale, mdhd_language) = parse_mdhd(&mdhd)?;
    if timescale == 0 {
        return Err(mdhd.err(Malformed::InvalidField {
            field: "mdhd timescale",
            value: 0,
        }));
    }
    Ok(Some(TextTrack {
        id: parse_tkhd_id(&tkhd)?,
        handler,
        entry: parsed.entry.kind,
        timescale,
        language: lang::from_mdhd(mdhd_language)
            .map(|l| lang::shortest(&l))
            .unwrap_or_else(|| "und".into()),
        elst,
        table: parsed.table,
        start_dts: 0,
        usable_entries: parsed.usable_entries,
        role,
        placements,
        frame: Frame {
            region: parse_tkhd_area(&tkhd)?,
            viewport: None,
        },
    }))
}

/// Track IDs that some track's `tref/chap` names: chapter titles.
pub(crate) fn chapter_tracks(trak: &Bx<'_>) -> Result<Vec<u32>, BoxError> {
    let mut ids = Vec::new();
    for child in trak.children() {
        let child = child?;
        if &child.kind != b"tref" {
            continue;
        }
        for r in child.children() {
            let r = r?;
            if &r.kind == b"chap" {
                let mut body = r.body();
                while body.remaining() >= 4 {
                    ids.push(body.u32()?);
                }
            }
        }
    }
    Ok(ids)
}
