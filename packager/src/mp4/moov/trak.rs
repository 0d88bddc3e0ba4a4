//! `trak` (ISO/IEC 14496-12 8.3): `tkhd`, `edts/elst`, `mdia` (`mdhd`, `hdlr`, `elng`) and
//! `minf`, keeping the raw bytes the init segment copies.

use crate::codec::{self, CodecInfo};
use crate::error::{BoxError, Malformed};
use crate::lang;
use crate::mp4::header::{Bx, FourCC, fourcc_str};
use crate::mp4::moov::stbl;
use crate::mp4::sample_table::SampleTable;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Video,
    Audio,
}

impl Kind {
    /// The `hdlr` handler type of this kind.
    pub fn handler(self) -> &'static [u8; 4] {
        match self {
            Kind::Video => b"vide",
            Kind::Audio => b"soun",
        }
    }
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

/// A well-formed track that is not packaged, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Skipped {
    pub id: u32,
    pub handler: FourCC,
    /// The sample entry type, when the track got that far.
    pub entry: Option<FourCC>,
    pub why: SkipWhy,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SkipWhy {
    /// Text, metadata, timecode, hint, chapters: not audio or video.
    NotAudioVideo,
    /// A one-sample still picture in a video track (cover art).
    StillImage,
    /// Audio or video in a codec dashpack does not carry.
    UnsupportedCodec,
    /// A protected sample entry (`encv`/`enca`): the original format and the scheme.
    Encrypted {
        original: Option<FourCC>,
        scheme: Option<FourCC>,
    },
    /// No samples at all: nothing to carry.
    NoSamples,
    /// Left out because the caller asked.
    Requested,
}

impl Skipped {
    /// Audio or video whose loss the caller would not notice: only dropped on request.
    pub fn loses_media(&self) -> bool {
        matches!(
            self.why,
            SkipWhy::UnsupportedCodec | SkipWhy::Encrypted { .. }
        )
    }

    fn describe_track(&self) -> String {
        match &self.entry {
            Some(e) => format!(
                "track {} ({}, '{}')",
                self.id,
                fourcc_str(&self.handler),
                fourcc_str(e)
            ),
            None => format!("track {} ({})", self.id, fourcc_str(&self.handler)),
        }
    }

    /// Why it is not packaged, in words.
    pub fn reason(&self) -> String {
        let name = |f: &Option<FourCC>| f.as_ref().map_or("unknown".into(), |f| fourcc_str(f));
        match &self.why {
            SkipWhy::NotAudioVideo => "not audio or video".into(),
            SkipWhy::StillImage => "a one-picture still image (cover art)".into(),
            SkipWhy::UnsupportedCodec => "this codec is not supported".into(),
            SkipWhy::Encrypted { original, scheme } => format!(
                "the input is encrypted ('{}' protected with '{}') and dashpack does not \
                 decrypt input",
                name(original),
                name(scheme)
            ),
            SkipWhy::NoSamples => "it has no samples".into(),
            SkipWhy::Requested => "left out as asked".into(),
        }
    }

    /// One line for the warnings: `track 3 (text, 'tx3g'): not audio or video; skipped`.
    pub fn warning(&self) -> String {
        format!("{}: {}; skipped", self.describe_track(), self.reason())
    }
}

/// `Ok(Err(skipped))` when the track is well-formed but not one dashpack packages.
pub(crate) fn parse_trak(trak: &Bx<'_>) -> Result<Result<Track, Skipped>, BoxError> {
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
    let skipped = |entry: Option<FourCC>, why: SkipWhy| Skipped {
        id,
        handler,
        entry,
        why,
    };
    let kind = match &handler {
        b"vide" => Kind::Video,
        b"soun" => Kind::Audio,
        _ => return Ok(Err(skipped(None, SkipWhy::NotAudioVideo))),
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
    let entry_kind = parsed.entry.kind;
    if let Some((original, scheme)) = codec::protection(&parsed.entry)? {
        let why = SkipWhy::Encrypted { original, scheme };
        return Ok(Err(skipped(Some(entry_kind), why)));
    }
    let Some(codec) = codec::parse_sample_entry(&parsed.entry)? else {
        let still =
            kind == Kind::Video && parsed.table.count <= 1 && codec::is_still_image(&entry_kind);
        let why = if still {
            SkipWhy::StillImage
        } else {
            SkipWhy::UnsupportedCodec
        };
        return Ok(Err(skipped(Some(entry_kind), why)));
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
