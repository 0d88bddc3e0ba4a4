//! `trak` (ISO/IEC 14496-12 8.3): `tkhd`, `edts/elst`, `mdia` (`mdhd`, `hdlr`, `elng`) and
//! `minf`, keeping the raw bytes the init segment copies.

use crate::codec::tx3g::Rect;
use crate::codec::{self, CodecInfo};
use crate::crypt::cipher::SampleAux;
use crate::crypt::decrypt::InputProtection;
use crate::error::{BoxError, Malformed};
use crate::lang;
use crate::layout::ContentType;
use crate::mp4::cenc::{self, AuxAt};
use crate::mp4::header::{Bx, FourCC, fourcc_str};
use crate::mp4::moov::stbl;
use crate::mp4::sample_table::SampleTable;

/// The `hdlr` handler type of an audio or video track.
pub(crate) fn handler(kind: ContentType) -> &'static [u8; 4] {
    match kind {
        ContentType::Audio => b"soun",
        ContentType::Text => b"text",
        _ => b"vide",
    }
}

/// Handlers of text tracks: `text` (QuickTime, 3GPP), `sbtl` (Apple subtitles), `subt`.
pub(crate) fn is_text_handler(h: &FourCC) -> bool {
    matches!(h, b"text" | b"sbtl" | b"subt")
}

/// Tracks a viewer reads: text tracks and QuickTime closed-caption tracks (`clcp`).
fn is_subtitle_handler(h: &FourCC) -> bool {
    is_text_handler(h) || h == b"clcp"
}

/// One `elst` entry (ISO/IEC 14496-12 8.6.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ElstEntry {
    /// Movie timescale.
    pub duration: u64,
    /// Media timescale; -1 for an empty edit.
    pub media_time: i64,
    /// 16.16 fixed point; 0x10000 is normal speed, 0 a dwell.
    pub rate: i32,
}

/// What the edit list says, reduced to the form a DASH timeline can carry: an empty
/// lead-in, then one span of the media from `media_time`, to `end` when it ends before
/// the media does. Contiguous media edits are one span; media edits that skip media
/// are further spans (`joins`), which `carriage::join` makes one span of.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Edit {
    /// Sum of leading empty edits, in the movie timescale.
    pub empty: u64,
    /// Media time where presentation starts (0 without an edit list).
    pub media_time: i64,
    /// Media time where presentation ends (exclusive); `None`: at the end of the media.
    pub end: Option<i64>,
    /// The spans after the first, in presentation order.
    pub joins: Vec<Join>,
}

/// A later media edit: the media from `media_time` to `end`, presented `at` media
/// ticks after the first span starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Join {
    pub media_time: i64,
    pub end: Option<i64>,
    pub at: i64,
}

#[derive(Debug, Clone)]
pub(crate) struct Track {
    pub id: u32,
    pub kind: ContentType,
    pub timescale: u32,
    /// Language as BCP-47 (`und` when unknown).
    pub language: String,
    pub codec: CodecInfo,
    pub table: SampleTable,
    /// Decode time of the first sample (a fragmented input's first `tfdt`; else 0).
    pub start_dts: u64,
    /// The `elst` entries as stored, and what they reduce to (set with the movie
    /// timescale by the movie reader).
    pub elst: Vec<ElstEntry>,
    pub edit: Edit,
    /// Ticks before the edit start that the frames decoded but not shown take (see
    /// `carriage::join::squeeze_preroll`); the whole presentation starts that much later.
    pub preroll: u64,
    /// Ticks the first sample was lengthened by so that video that starts after the
    /// presentation shows its first frame from the start (`package::prepare`); the
    /// track's timing moves back by as much, so every later sample keeps its time.
    pub lead_fill: u64,
    /// Several different H.264 or HEVC sample entries: per entry (by sample description
    /// index - 1), its parameter sets as length-prefixed NAL units, put before each sync
    /// sample (and each sample whose entry changes) of the one published `avc3`/`hev1`
    /// entry. Empty otherwise.
    pub inband: Vec<Vec<u8>>,
    /// Encrypted input: what the sample entry declares, and the key once one is given.
    pub protection: Option<Protected>,
    /// Encrypted input: each sample's IV and subsamples, from `senc` (the fragments',
    /// or a progressive file's), or read from where `saio` says (see `aux_at`).
    pub aux: Vec<SampleAux>,
    /// A progressive file's auxiliary information outside the movie box, to be read.
    pub aux_at: Option<AuxAt>,
    /// Sample description indexes samples may name (see `stbl::Parsed`).
    pub usable_entries: u32,
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
    /// The DASH role the track's `udta/kind` gives (text tracks: `caption`, ...).
    pub role: Option<String>,
}

/// An encrypted track's protection, the key found for it, and what to say when none is.
#[derive(Debug, Clone)]
pub(crate) struct Protected {
    pub protection: InputProtection,
    pub key: Option<[u8; 16]>,
    pub why: SkipWhy,
    /// The sample description index of the same entry in the clear, when the `stsd`
    /// has one (a clear lead, as DASH-IF advises): fragments that name it are clear.
    pub clear_description: Option<u32>,
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
        /// The key ID `tenc` names, when the scheme is one decrypted here.
        kid: Option<[u8; 16]>,
    },
    /// No samples at all: nothing to carry.
    NoSamples,
    /// Its edit list presents none of its samples.
    EditedOut,
    /// Left out because the caller asked.
    Requested,
    /// A text track of chapter titles (named by another track's `tref/chap`).
    Chapters,
    /// A timed-text track whose tables or samples cannot be read.
    UnreadableText(String),
    /// Closed captions in a track of their own with no H.264 or HEVC video to carry
    /// them in its SEI.
    NoCaptionCarrier,
}

impl Skipped {
    /// A parsed track left out for `why`.
    pub fn of(track: &Track, why: SkipWhy) -> Skipped {
        Skipped {
            id: track.id,
            handler: *handler(track.kind),
            entry: Some(track.codec.fourcc),
            why,
        }
    }

    /// Audio, video, subtitles or captions whose loss the caller would not notice: only
    /// dropped on request. (Chapters, timecode, metadata and cover art may go with a
    /// warning.)
    pub fn loses_media(&self) -> bool {
        let lost_text = is_subtitle_handler(&self.handler)
            && matches!(
                self.why,
                SkipWhy::NotAudioVideo | SkipWhy::UnreadableText(_) | SkipWhy::NoCaptionCarrier
            );
        lost_text
            || matches!(
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
        let name = |f: &Option<FourCC>| f.as_ref().map_or("unknown".into(), fourcc_str);
        match &self.why {
            SkipWhy::NotAudioVideo if is_subtitle_handler(&self.handler) => {
                "subtitles or captions in a format not carried here".into()
            }
            SkipWhy::NotAudioVideo => "not audio or video".into(),
            SkipWhy::StillImage => "a one-picture still image (cover art)".into(),
            SkipWhy::UnsupportedCodec => "this codec is not supported".into(),
            SkipWhy::Encrypted {
                original,
                scheme,
                kid: Some(kid),
            } => format!(
                "the input is encrypted ('{}' protected with '{}') and no decryption key was \
                 given for its key ID {}",
                name(original),
                name(scheme),
                crate::crypt::hex(kid)
            ),
            SkipWhy::Encrypted {
                original,
                scheme,
                kid: None,
            } => format!(
                "the input is encrypted ('{}' protected with '{}'), a scheme or protection \
                 dashpack does not decrypt",
                name(original),
                name(scheme)
            ),
            SkipWhy::NoSamples => "it has no samples".into(),
            SkipWhy::EditedOut => "its edit list presents none of its samples".into(),
            SkipWhy::Requested => "left out as asked".into(),
            SkipWhy::Chapters => "chapter titles, not subtitles".into(),
            SkipWhy::UnreadableText(why) => format!("its text cannot be read ({why})"),
            SkipWhy::NoCaptionCarrier => "its CEA-608 captions are carried in the SEI of \
                 H.264 or HEVC video, and no such video track is packaged"
                .into(),
        }
    }

    /// One line for the warnings: `track 3 (text, 'tx3g'): not audio or video; skipped`.
    pub fn warning(&self) -> String {
        format!("{}: {}; skipped", self.describe_track(), self.reason())
    }
}

/// `Ok(Err(skipped))` when the track is well-formed but not one dashpack packages.
pub(crate) fn parse_trak(trak: &Bx<'_>) -> Result<Result<Track, Skipped>, BoxError> {
    let boxes = TrakBoxes::find(trak)?;
    let id = parse_tkhd_id(&boxes.tkhd)?;
    let (timescale, mdhd_language) = parse_mdhd(&boxes.mdhd)?;
    let handler = {
        let mut r = boxes.hdlr.body();
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
    let Some(kind) = track_kind(&handler, &boxes.minf) else {
        let entry = first_entry_kind(&boxes.minf);
        return Ok(Err(skipped(entry, SkipWhy::NotAudioVideo)));
    };
    let (media_header, stbl_box) = minf_children(&boxes.minf)?;
    let parsed = stbl::parse_stbl(&stbl_box)?;
    let entry_kind = parsed.entry.kind;
    let clear = match ClearEntry::of(&parsed)? {
        Ok(clear) => clear,
        Err(why) => return Ok(Err(skipped(Some(entry_kind), why))),
    };
    let (aux, aux_at) = match &clear.protection {
        Some(p) => sample_aux(&parsed, boxes.senc.as_ref(), p.protection.iv_size)?,
        None => (Vec::new(), None),
    };
    let entry = clear.entry(&parsed);
    let Some(mut codec) = codec::parse_sample_entry(&entry)? else {
        let still = kind == ContentType::Video
            && parsed.table.count <= 1
            && codec::is_still_image(&entry_kind);
        let why = if still {
            SkipWhy::StillImage
        } else {
            SkipWhy::UnsupportedCodec
        };
        return Ok(Err(skipped(Some(entry_kind), why)));
    };
    let mut stsd = clear.stsd.clone();
    if kind == ContentType::Audio
        && clear.protection.is_none()
        && let Some(standard) =
            crate::mp4::write::audio_entry::standard_audio_stsd(&stsd, &entry, &codec)?
    {
        stsd = standard;
    }
    let mut inband = Vec::new();
    if parsed.inband {
        let one = inband_entries(&parsed.entries, codec)?;
        (codec, inband, stsd) = (one.codec, one.prefixes, one.stsd);
    }
    let language = match &boxes.elng {
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
        elst: boxes.elst,
        edit: Edit::default(),
        preroll: 0,
        lead_fill: 0,
        inband,
        protection: clear.protection,
        aux,
        aux_at,
        usable_entries: clear.usable_entries,
        tkhd: boxes.tkhd.raw.to_vec(),
        hdlr: terminated_hdlr(&boxes.hdlr),
        media_header,
        elng: boxes.elng.map(|e| e.raw.to_vec()),
        stsd,
        mdhd_language,
        path: trak.path.clone(),
        offset: trak.start,
        role: (kind == ContentType::Text)
            .then(|| dash_role(trak))
            .flatten(),
    }))
}

/// The role a track's `udta/kind` box (ISO/IEC 14496-12 8.10.4) gives in the DASH role
/// scheme (`subtitle`, `caption`, `forced-subtitle`, ...), when it gives one.
pub(crate) fn dash_role(trak: &Bx<'_>) -> Option<String> {
    let udta = trak.children().flatten().find(|b| &b.kind == b"udta")?;
    udta.children()
        .flatten()
        .filter(|b| &b.kind == b"kind")
        .find_map(|kind| {
            // FullBox header, then schemeURI and value as NUL-terminated strings.
            let body = kind.raw.get(kind.header_len + 4..)?;
            let mut parts = body.split(|&b| b == 0);
            let scheme = parts.next()?;
            let value = std::str::from_utf8(parts.next()?).ok()?;
            let known =
                value.bytes().all(|b| b.is_ascii_lowercase() || b == b'-') && !value.is_empty();
            (scheme == b"urn:mpeg:dash:role:2011" && known).then(|| value.to_string())
        })
}

/// The boxes of a `trak` and its `mdia` that every track needs.
struct TrakBoxes<'a> {
    tkhd: Bx<'a>,
    elst: Vec<ElstEntry>,
    /// Some writers put a progressive file's `senc` in the `trak`, others in the `stbl`.
    senc: Option<Bx<'a>>,
    mdhd: Bx<'a>,
    hdlr: Bx<'a>,
    minf: Bx<'a>,
    elng: Option<Bx<'a>>,
}

impl<'a> TrakBoxes<'a> {
    fn find(trak: &Bx<'a>) -> Result<Self, BoxError> {
        let (mut tkhd, mut elst, mut mdia, mut senc) = (None, Vec::new(), None, None);
        for child in trak.children() {
            let child = child?;
            match &child.kind {
                b"tkhd" => tkhd = Some(child),
                b"senc" => senc = Some(child),
                b"edts" => elst = parse_edts(&child)?,
                b"mdia" => mdia = Some(child),
                _ => {}
            }
        }
        let tkhd = tkhd.ok_or_else(|| trak.err(Malformed::Missing("tkhd")))?;
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
        Ok(TrakBoxes {
            tkhd,
            elst,
            senc,
            mdhd: mdhd.ok_or_else(|| mdia.err(Malformed::Missing("mdhd")))?,
            hdlr: hdlr.ok_or_else(|| mdia.err(Malformed::Missing("hdlr")))?,
            minf: minf.ok_or_else(|| mdia.err(Malformed::Missing("minf")))?,
            elng,
        })
    }
}

/// The media header (`vmhd`/`smhd`, raw) and the `stbl` of a `minf`.
/// What a track is packaged as, from its handler: WebVTT and TTML in MP4 are carried as
/// they are; other text is converted (`text.rs`) or refused.
fn track_kind(handler: &FourCC, minf: &Bx<'_>) -> Option<ContentType> {
    match handler {
        b"vide" => Some(ContentType::Video),
        b"soun" => Some(ContentType::Audio),
        h if is_text_handler(h)
            && matches!(first_entry_kind(minf), Some(k) if &k == b"wvtt" || &k == b"stpp") =>
        {
            Some(ContentType::Text)
        }
        _ => None,
    }
}

/// The kind of the first sample entry under `minf`, when the boxes on the way read.
fn first_entry_kind(minf: &Bx<'_>) -> Option<FourCC> {
    let stbl = minf.children().flatten().find(|b| &b.kind == b"stbl")?;
    let stsd = stbl.children().flatten().find(|b| &b.kind == b"stsd")?;
    // FullBox header and entry_count, then the first entry's size and type.
    let kind = stsd.raw.get(stsd.header_len + 12..stsd.header_len + 16)?;
    Some([kind[0], kind[1], kind[2], kind[3]])
}

fn minf_children<'a>(minf: &Bx<'a>) -> Result<(Option<Vec<u8>>, Bx<'a>), BoxError> {
    let mut media_header = None;
    let mut stbl_box = None;
    for child in minf.children() {
        let child = child?;
        match &child.kind {
            b"vmhd" | b"smhd" | b"nmhd" | b"sthd" => media_header = Some(child.raw.to_vec()),
            b"stbl" => stbl_box = Some(child),
            _ => {}
        }
    }
    let stbl_box = stbl_box.ok_or_else(|| minf.err(Malformed::Missing("stbl")))?;
    Ok((media_header, stbl_box))
}

/// The sample entry as published: a protected entry (`encv`/`enca`) is parsed and
/// published as the clear entry under it, and decrypted when a key is given.
struct ClearEntry {
    stsd: Vec<u8>,
    /// The clear entry's bytes when it was protected.
    clear: Option<(FourCC, Vec<u8>)>,
    protection: Option<Protected>,
    usable_entries: u32,
}

impl ClearEntry {
    /// `Err(why)` for a protection that is not decrypted here.
    fn of(parsed: &stbl::Parsed<'_>) -> Result<Result<ClearEntry, SkipWhy>, BoxError> {
        let mut out = ClearEntry {
            stsd: parsed.stsd_raw.clone(),
            clear: None,
            protection: None,
            usable_entries: parsed.usable_entries,
        };
        let Some(sinf) = cenc::sinf(&parsed.entry)? else {
            return Ok(Ok(out));
        };
        let why = SkipWhy::Encrypted {
            original: sinf.original,
            scheme: sinf.scheme,
            kid: sinf.protection.as_ref().ok().map(|p| p.kid),
        };
        let (Some(original), Ok(prot)) = (sinf.original, sinf.protection) else {
            return Ok(Err(why));
        };
        out.stsd = cenc::clear_stsd(&parsed.entry, sinf.children_at, original)?;
        let clear_entry = out.stsd[16..].to_vec();
        // Entries after the first that are the same, or the same in the clear.
        let mut clear_description = None;
        for (k, e) in parsed.entries.iter().map(|e| e.raw).enumerate().skip(1) {
            if e == clear_entry.as_slice() {
                clear_description = Some(k as u32 + 1);
            } else if e != parsed.entry.raw {
                break;
            }
            out.usable_entries = k as u32 + 1;
        }
        out.clear = Some((original, clear_entry));
        out.protection = Some(Protected {
            protection: prot,
            key: None,
            why,
            clear_description,
        });
        Ok(Ok(out))
    }

    /// The entry codecs are read from.
    fn entry<'a>(&'a self, parsed: &stbl::Parsed<'a>) -> Bx<'a> {
        match &self.clear {
            None => parsed.entry.clone(),
            Some((kind, raw)) => Bx {
                kind: *kind,
                start: parsed.entry.start,
                raw,
                header_len: 8,
                path: parsed.entry.path.clone(),
                depth: parsed.entry.depth,
            },
        }
    }
}

/// An encrypted track's per-sample IVs and subsamples: from `senc`, or where `saio`
/// says (read later, outside the movie box).
fn sample_aux(
    parsed: &stbl::Parsed<'_>,
    trak_senc: Option<&Bx<'_>>,
    iv_size: u8,
) -> Result<(Vec<SampleAux>, Option<AuxAt>), BoxError> {
    if parsed.table.count == 0 {
        return Ok((Vec::new(), None));
    }
    if let Some(senc) = parsed.senc.as_ref().or(trak_senc) {
        let count = u64::from(parsed.table.count);
        return Ok((cenc::parse_senc(senc, false, iv_size, count)?, None));
    }
    if let (Some(saiz), Some(saio)) = (&parsed.saiz, &parsed.saio) {
        return Ok((Vec::new(), Some(AuxAt::parse(saiz, saio, &parsed.table)?)));
    }
    Ok((Vec::new(), None))
}

/// Different H.264 (or HEVC) sample entries published as one: what the MPD declares
/// (the entry with the largest picture, under the in-band type), each entry's parameter
/// sets as length-prefixed NAL units, and the `stsd` (the first entry as `avc3`/`hev1`,
/// whose parameter sets may come with the samples).
struct Inband {
    codec: CodecInfo,
    prefixes: Vec<Vec<u8>>,
    stsd: Vec<u8>,
}

fn inband_entries(entries: &[Bx<'_>], first: CodecInfo) -> Result<Inband, BoxError> {
    let mut best = first.clone();
    let mut prefixes = Vec::with_capacity(entries.len());
    for e in entries {
        let c = match codec::parse_sample_entry(e)? {
            Some(c) if c.family == first.family && c.nal_length_size == first.nal_length_size => c,
            _ => {
                return Err(e.err(Malformed::InvalidField {
                    field: "sample entry (differs from the first in codec or NAL length size; \
                            different entries are carried as H.264 or HEVC of one length size)",
                    value: i64::from(e.kind[0]),
                }));
            }
        };
        let mut prefix = Vec::new();
        for ps in &c.parameter_sets {
            let len = (ps.len() as u32).to_be_bytes();
            prefix.extend_from_slice(&len[4 - usize::from(c.nal_length_size.clamp(1, 4))..]);
            prefix.extend_from_slice(ps);
        }
        prefixes.push(prefix);
        if u32::from(c.width) * u32::from(c.height) > u32::from(best.width) * u32::from(best.height)
        {
            best = c;
        }
    }
    let kind: FourCC = if first.family == codec::Family::Avc {
        *b"avc3"
    } else {
        *b"hev1"
    };
    best.fourcc = kind;
    best.codecs = format!(
        "{}{}",
        String::from_utf8_lossy(&kind),
        best.codecs.get(4..).unwrap_or_default()
    );
    let mut entry = entries[0].raw.to_vec();
    entry[4..8].copy_from_slice(&kind);
    let mut stsd = ((entry.len() + 16) as u32).to_be_bytes().to_vec();
    stsd.extend_from_slice(b"stsd");
    stsd.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 1]);
    stsd.extend_from_slice(&entry);
    Ok(Inband {
        codec: best,
        prefixes,
        stsd,
    })
}

pub(super) fn parse_tkhd_id(b: &Bx<'_>) -> Result<u32, BoxError> {
    let mut r = b.body();
    r.skip_header_times()?;
    r.u32()
}

/// A track's area in movie coordinates (`tkhd` matrix translation, width and height),
/// or `None` when it has no size. Scaling and rotation are not applied.
pub(super) fn parse_tkhd_area(b: &Bx<'_>) -> Result<Option<Rect>, BoxError> {
    let mut r = b.body();
    let version = r.skip_header_times()?;
    // track_ID, reserved, duration; reserved, layer, alternate_group, volume, reserved
    r.skip(8 + if version == 1 { 8 } else { 4 } + 16)?;
    let mut matrix = [0f64; 9];
    for m in &mut matrix {
        *m = f64::from(r.u32()? as i32) / 65536.0;
    }
    let (w, h) = (f64::from(r.u32()?) / 65536.0, f64::from(r.u32()?) / 65536.0);
    Ok((w > 0.0 && h > 0.0).then_some(Rect {
        x: matrix[6],
        y: matrix[7],
        w,
        h,
    }))
}

/// The area of `trak`'s `tkhd`, if it has one.
pub(super) fn trak_area(trak: &Bx<'_>) -> Result<Option<Rect>, BoxError> {
    for child in trak.children() {
        let child = child?;
        if &child.kind == b"tkhd" {
            return parse_tkhd_area(&child);
        }
    }
    Ok(None)
}

pub(super) fn parse_mdhd(b: &Bx<'_>) -> Result<(u32, u16), BoxError> {
    let mut r = b.body();
    let version = r.skip_header_times()?;
    let ts = r.timescale("mdhd timescale")?;
    r.skip(if version == 1 { 8 } else { 4 })?;
    let language = r.u16()? & 0x7fff;
    Ok((ts, language))
}

/// `hdlr` with its name NUL-terminated, as ISO/IEC 14496-12 8.4.3 has it: F4V and
/// QuickTime writers leave the terminator out, and Chromium's MSE parser refuses such
/// an init segment ("stream parsing failed").
fn terminated_hdlr(b: &Bx<'_>) -> Vec<u8> {
    const FIXED: usize = 24; // version, flags, pre_defined, handler_type, reserved
    let body = &b.raw[b.header_len..];
    if body.len() > FIXED && body.last() == Some(&0) {
        return b.raw.to_vec();
    }
    let mut out = Vec::with_capacity(8 + FIXED + body.len() + 1);
    crate::mp4::write::write_box(&mut out, b"hdlr", |h| {
        h.extend_from_slice(&body[..FIXED.min(body.len())]);
        h.resize(8 + FIXED, 0); // `h` holds the box header too
        h.extend_from_slice(body.get(FIXED..).unwrap_or_default());
        h.push(0);
    });
    out
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

/// The edit list in an `edts` (empty without one).
pub(super) fn parse_edts(edts: &Bx<'_>) -> Result<Vec<ElstEntry>, BoxError> {
    let mut elst = Vec::new();
    for e in edts.children() {
        let e = e?;
        if &e.kind == b"elst" {
            elst = parse_elst(&e)?;
        }
    }
    Ok(elst)
}

fn parse_elst(b: &Bx<'_>) -> Result<Vec<ElstEntry>, BoxError> {
    let mut r = b.body();
    let (version, _) = r.version_flags()?;
    let count = r.u32()?;
    let entry_size = if version == 1 { 20 } else { 12 };
    r.check_table(u64::from(count), entry_size, "elst entries")?;
    let mut entries = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let (duration, media_time) = if version == 1 {
            (r.u64()?, r.u64()? as i64)
        } else {
            (u64::from(r.u32()?), i64::from(r.i32()?))
        };
        let rate = r.i32()?;
        if media_time < -1 {
            return Err(r.err(Malformed::InvalidField {
                field: "elst media_time",
                value: media_time,
            }));
        }
        entries.push(ElstEntry {
            duration,
            media_time,
            rate,
        });
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mp4::header::{boxed, test_box};

    #[test]
    fn the_handler_name_ends_with_a_nul() {
        let fixed = [&[0u8; 8][..], b"vide", &[0; 12]].concat();
        // F4V: "MainConcept" without a terminator gets one.
        let bare = boxed(b"hdlr", &[&fixed[..], b"MainConcept"].concat());
        let want = boxed(b"hdlr", &[&fixed[..], b"MainConcept\0"].concat());
        assert_eq!(terminated_hdlr(&test_box(&bare)), want);
        // No name at all: an empty string.
        let empty = boxed(b"hdlr", &fixed);
        assert_eq!(
            terminated_hdlr(&test_box(&empty)),
            boxed(b"hdlr", &[&fixed[..], b"\0"].concat())
        );
        // Already terminated: the same bytes.
        assert_eq!(terminated_hdlr(&test_box(&want)), want);
    }
}
