//! Fragmented input (ISO/IEC 14496-12 8.8): the samples of every `moof` appended to the
//! tracks' compact tables, as if the file were progressive. Defaults come from `trex`
//! and `tfhd`; data offsets follow 8.8.7.1 (explicit base, `default-base-is-moof`, or
//! the moof / end of the previous track fragment); a `traf` may hold several `trun`s.
//! The first `tfdt` of a track becomes its start time; without one, Smooth Streaming's
//! `tfxd` (PIFF 1.1 5.2.2) gives the start.

use std::collections::HashMap;

use crate::crypt::cipher::SampleAux;
use crate::error::{BoxError, Malformed};
use crate::mp4::cenc::{PIFF_SENC, parse_senc};
use crate::mp4::header::Bx;
use crate::mp4::moov::trak::ElstEntry;
use crate::mp4::moov::{TextTrack, Track};
use crate::mp4::sample_table::{SampleTable, Sizes, StscEntry};

const BASE_DATA_OFFSET: u32 = 0x01;
const SAMPLE_DESCRIPTION_INDEX: u32 = 0x02;
const DEFAULT_DURATION: u32 = 0x08;
const DEFAULT_SIZE: u32 = 0x10;
const DEFAULT_FLAGS: u32 = 0x20;
const DEFAULT_BASE_IS_MOOF: u32 = 0x02_0000;

const DATA_OFFSET: u32 = 0x01;
const FIRST_SAMPLE_FLAGS: u32 = 0x04;
const SAMPLE_DURATION: u32 = 0x100;
const SAMPLE_SIZE: u32 = 0x200;
const SAMPLE_FLAGS: u32 = 0x400;
const SAMPLE_CTO: u32 = 0x800;

/// Smooth Streaming's track fragment extended header (PIFF `tfxd`): the fragment's
/// absolute time and duration.
const TFXD: [u8; 16] = [
    0x6d, 0x1d, 0x9b, 0x05, 0x42, 0xd5, 0x44, 0xe6, 0x80, 0xe2, 0x14, 0x1d, 0xaf, 0xf7, 0x57, 0xb2,
];

/// `sample_is_non_sync_sample` in sample flags.
pub(crate) const NON_SYNC: u32 = 0x0001_0000;

#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Defaults {
    pub description: u32,
    pub duration: u32,
    pub size: u32,
    pub flags: u32,
}

/// `mvex/trex` defaults by track ID.
pub(crate) fn parse_trex(moov: &Bx<'_>) -> Result<HashMap<u32, Defaults>, BoxError> {
    let mut out = HashMap::new();
    for child in moov.children() {
        let child = child?;
        if &child.kind != b"mvex" {
            continue;
        }
        for t in child.children() {
            let t = t?;
            if &t.kind == b"trex" {
                let mut r = t.body();
                r.version_flags()?;
                let id = r.u32()?;
                out.insert(
                    id,
                    Defaults {
                        description: r.u32()?,
                        duration: r.u32()?,
                        size: r.u32()?,
                        flags: r.u32()?,
                    },
                );
            }
        }
    }
    Ok(out)
}

/// Per-track state while fragments are appended.
#[derive(Debug, Default)]
pub(crate) struct Appender<'m> {
    /// Per track index (audio and video, then text): the decode time after the samples
    /// so far (`start_dts` included), `None` before the track's first fragment.
    ends: Vec<Option<u64>>,
    /// Per audio or video track: media time before the presentation starts, from a
    /// first `tfxd` time below 0 (FFmpeg's `ismv` writes an AAC encoder delay so).
    skips: Vec<i64>,
    /// The payloads of the file's `mdat` boxes, in file order: each `trun`'s data must
    /// lie in one of them.
    media_data: &'m [(u64, u64)],
}

/// What a track fragment's samples are appended to: a track's table, its start time,
/// and the sample description indexes it may name.
struct Target<'t> {
    table: &'t mut SampleTable,
    start_dts: &'t mut u64,
    usable_entries: u32,
    /// Time between fragments is an empty sample (timed text: no text then), not a
    /// longer sample before it.
    empty_gaps: bool,
}

impl<'m> Appender<'m> {
    pub fn new(tracks: usize, media_data: &'m [(u64, u64)]) -> Appender<'m> {
        Appender {
            ends: vec![None; tracks],
            skips: vec![0; tracks],
            media_data,
        }
    }

    /// After the last `moof`: a track whose first `tfxd` time was below 0 starts its
    /// presentation that far into its media, as an edit list says it.
    pub fn finish(self, tracks: &mut [Track]) {
        for (t, &skip) in tracks.iter_mut().zip(&self.skips) {
            if skip == 0 {
                continue;
            }
            if t.elst.is_empty() {
                // A zero duration: to the end of the media.
                t.elst.push(ElstEntry {
                    duration: 0,
                    media_time: skip,
                    rate: 0x10000,
                });
            } else {
                for e in t.elst.iter_mut().filter(|e| e.media_time != -1) {
                    e.media_time = e.media_time.saturating_add(skip);
                }
            }
        }
    }

    /// Append the samples of one `moof` (held whole in `moof`) to `tracks` and the
    /// timed-text tracks `texts`. `file_len` bounds the number of samples before
    /// anything is allocated for them.
    pub fn append(
        &mut self,
        moof: &Bx<'_>,
        tracks: &mut [Track],
        texts: &mut [TextTrack],
        trex: &HashMap<u32, Defaults>,
        file_len: u64,
    ) -> Result<(), BoxError> {
        // Without an explicit base, the first traf's data starts at the moof and each
        // next traf's where the previous one's ended (8.8.7.1).
        let mut implicit_base = moof.start;
        for traf in moof.children() {
            let traf = traf?;
            if &traf.kind != b"traf" {
                continue;
            }
            let boxes = TrafBoxes::of(&traf)?;
            let (tfdt, truns) = (&boxes.tfdt, &boxes.truns);
            let header = Tfhd::read(&boxes.tfhd)?;
            let id = header.track_id;
            let d = header.over(trex.get(&id).copied().unwrap_or_default());
            let base = match header.base {
                Some(b) => b,
                None if header.flags & DEFAULT_BASE_IS_MOOF != 0 => moof.start,
                None => implicit_base,
            };
            let tfdt_start = tfdt.as_ref().map(tfdt_time).transpose()?;
            let av_tracks = tracks.len();
            let (k, target) = if let Some(k) = tracks.iter().position(|t| t.id == id) {
                let t = &mut tracks[k];
                let target = Target {
                    table: &mut t.table,
                    start_dts: &mut t.start_dts,
                    usable_entries: t.usable_entries,
                    // Carried WebVTT: a gap is a `vtte` sample (`carriage::wvtt_gaps`); TTML
                    // documents say their own times, so a longer one shows no more.
                    empty_gaps: t.codec.family == crate::codec::Family::Wvtt,
                };
                (k, target)
            } else if let Some(k) = texts.iter().position(|t| t.id == id) {
                let t = &mut texts[k];
                let target = Target {
                    table: &mut t.table,
                    start_dts: &mut t.start_dts,
                    usable_entries: t.usable_entries,
                    empty_gaps: true,
                };
                (tracks.len() + k, target)
            } else {
                // A track dashpack skips (data, an unread text format): its samples
                // are stepped over, for where the next traf's data starts.
                implicit_base = data_end(truns, &d, base)?;
                continue;
            };
            if d.description > target.usable_entries {
                return Err(boxes.tfhd.err(Malformed::InvalidField {
                    field: "sample_description_index (several different sample entries in one track are not carried)",
                    value: i64::from(d.description),
                }));
            }
            if self.ends.len() <= k {
                self.ends.resize(k + 1, None);
                self.skips.resize(k + 1, 0);
            }
            let decode_time =
                tfdt_start.or_else(|| self.tfxd_start(k, k < av_tracks, boxes.tfxd.as_ref()));
            let before = target.table.count;
            let place = Place {
                base,
                file_len,
                media_data: self.media_data,
            };
            let (next, end) = append_traf(target, self.ends[k], decode_time, truns, &d, &place)?;
            self.ends[k] = Some(end);
            if let Some(track) = tracks.get_mut(k) {
                append_aux(
                    track,
                    before,
                    d.description,
                    boxes.senc.as_ref(),
                    boxes.saiz,
                    &traf,
                )?;
            }
            implicit_base = next;
        }
        Ok(())
    }

    /// For a fragment without `tfdt`: a `tfxd` gives the track's start only, as Smooth
    /// Streaming writers disagree on whether it is the first sample's decode or
    /// presentation time, so later fragments follow the durations. An optional hint,
    /// read only for a track's first fragment: one that cannot be read leaves the start
    /// to the durations. A negative time becomes a skip of an audio or video track.
    fn tfxd_start(&mut self, k: usize, av: bool, tfxd: Option<&Bx<'_>>) -> Option<u64> {
        if self.ends[k].is_some() {
            return None;
        }
        let t = tfxd_time(tfxd?).ok()?;
        if av {
            self.skips[k] = t.min(0).saturating_neg();
        }
        Some(t.max(0).unsigned_abs())
    }
}

/// The boxes of a `traf` that are read.
struct TrafBoxes<'a> {
    tfhd: Bx<'a>,
    tfdt: Option<Bx<'a>>,
    tfxd: Option<Bx<'a>>,
    truns: Vec<Bx<'a>>,
    /// A `senc`, or PIFF's (`true`).
    senc: Option<(Bx<'a>, bool)>,
    saiz: bool,
}

impl<'a> TrafBoxes<'a> {
    fn of(traf: &Bx<'a>) -> Result<Self, BoxError> {
        let (mut tfhd, mut tfdt, mut tfxd, mut senc) = (None, None, None, None);
        let (mut truns, mut saiz) = (Vec::new(), false);
        for c in traf.children() {
            let c = c?;
            match &c.kind {
                b"saiz" => saiz = true,
                b"tfhd" => tfhd = Some(c),
                b"tfdt" => tfdt = Some(c),
                b"trun" => truns.push(c),
                b"senc" => senc = Some((c, false)),
                b"uuid" if c.raw.get(8..24) == Some(&PIFF_SENC[..]) => senc = Some((c, true)),
                b"uuid" if c.raw.get(8..24) == Some(&TFXD[..]) => tfxd = Some(c),
                _ => {}
            }
        }
        let tfhd = tfhd.ok_or_else(|| traf.err(Malformed::Missing("tfhd")))?;
        Ok(TrafBoxes {
            tfhd,
            tfdt,
            tfxd,
            truns,
            senc,
            saiz,
        })
    }
}

/// Append a track fragment's `trun`s to `target`, whose samples so far end at `end`
/// (`None` before its first fragment). Returns the file offset after the data and the
/// new end.
fn append_traf(
    target: Target<'_>,
    end: Option<u64>,
    decode_time: Option<u64>,
    truns: &[Bx<'_>],
    d: &Defaults,
    place: &Place<'_>,
) -> Result<(u64, u64), BoxError> {
    let end = match end {
        None => {
            // The table counts from 0; the first decode time is the start.
            if let Some(t) = decode_time
                && target.table.count == 0
            {
                *target.start_dts = t;
            }
            // A hybrid file's samples in `moov` come first.
            let moov_ticks: u64 = target
                .table
                .stts
                .iter()
                .map(|&(n, d)| u64::from(n) * u64::from(d))
                .sum();
            *target.start_dts + moov_ticks
        }
        Some(end) => match decode_time {
            // Timed text: a gap is time with no text, not a longer cue.
            Some(t) if target.empty_gaps && t > end => match u32::try_from(t - end) {
                Ok(gap) => {
                    empty_sample(target.table, gap, place.base, d.description);
                    t
                }
                Err(_) => close_gap(target.table, end, t),
            },
            Some(t) => close_gap(target.table, end, t),
            None => end,
        },
    };
    let mut next = place.base;
    let mut ticks = 0u64;
    for trun in truns {
        let (after, added) = append_trun(trun, target.table, d, place, next)?;
        next = after;
        ticks += added;
    }
    Ok((next, end + ticks))
}

/// Where the data of a track fragment that is not read ends.
fn data_end(truns: &[Bx<'_>], d: &Defaults, base: u64) -> Result<u64, BoxError> {
    let mut next = base;
    for trun in truns {
        let mut entries = TrunEntries::new(trun, d)?;
        let mut offset = match entries.data_offset {
            Some(delta) => base.saturating_add_signed(i64::from(delta)),
            None => next,
        };
        while let Some(e) = entries.next_entry()? {
            offset = offset.saturating_add(u64::from(e.size));
        }
        next = offset;
    }
    Ok(next)
}

/// Encrypted input: the IV and subsamples of each sample a `traf` added, in sample order.
fn append_aux(
    track: &mut Track,
    before: u32,
    description: u32,
    senc: Option<&(Bx<'_>, bool)>,
    saiz: bool,
    traf: &Bx<'_>,
) -> Result<(), BoxError> {
    let Some(p) = &track.protection else {
        return Ok(());
    };
    let added = u64::from(track.table.count - before);
    // A clear lead: fragments that name the entry in the clear, or that carry
    // no sample auxiliary information at all (as Shaka Packager writes them).
    let clear = Some(description) == p.clear_description || (senc.is_none() && !saiz);
    let aux = match senc {
        _ if clear => vec![
            SampleAux {
                clear: true,
                ..SampleAux::default()
            };
            added as usize
        ],
        Some((b, piff)) => parse_senc(b, *piff, p.protection.iv_size, added)?,
        None => Vec::new(),
    };
    if aux.len() as u64 != added {
        let (path, offset) = senc
            .as_ref()
            .map_or((&traf.path, traf.start), |b| (&b.0.path, b.0.start));
        return Err(BoxError::new(
            path.clone(),
            offset,
            Malformed::CountMismatch {
                table: "senc",
                expected: added,
                found: aux.len() as u64,
            },
        ));
    }
    track.aux.extend(aux);
    Ok(())
}

/// The base media decode time a `tfdt` gives.
fn tfdt_time(tfdt: &Bx<'_>) -> Result<u64, BoxError> {
    let mut r = tfdt.body();
    let (version, _) = r.version_flags()?;
    Ok(if version == 1 {
        r.u64()?
    } else {
        u64::from(r.u32()?)
    })
}

/// The fragment's absolute time a `tfxd` gives, signed: FFmpeg writes an AAC encoder
/// delay as a time below 0.
fn tfxd_time(tfxd: &Bx<'_>) -> Result<i64, BoxError> {
    let mut r = tfxd.body();
    r.skip(16)?; // the uuid
    let (version, _) = r.version_flags()?;
    Ok(if version == 1 {
        r.u64()? as i64
    } else {
        i64::from(r.u32()?)
    })
}

/// A fragment whose `tfdt` lies after the end of the samples so far leaves a gap in
/// decode time: the last sample is lengthened to reach it, so every later sample keeps
/// its time (and its sync with the other tracks). An earlier `tfdt` (an overlap) cannot
/// be represented by durations and is left as the durations say. Returns the new end.
fn close_gap(t: &mut SampleTable, end: u64, tfdt: u64) -> u64 {
    let Some(gap) = tfdt.checked_sub(end).filter(|&g| g > 0) else {
        return end;
    };
    let Some(&(n, d)) = t.stts.last() else {
        return end;
    };
    let Ok(longer) = u32::try_from(u64::from(d) + gap) else {
        return end;
    };
    t.stts.pop();
    if n > 1 {
        t.stts.push((n - 1, d));
    }
    t.stts.push((1, longer));
    tfdt
}

/// Where a track fragment's data is: its base offset, and what the file holds.
struct Place<'m> {
    base: u64,
    file_len: u64,
    media_data: &'m [(u64, u64)],
}

impl Place<'_> {
    /// Whether `start..end` lies inside one media data box. A run that does not was
    /// located by a stale offset (a `base_data_offset` left behind when the file was
    /// rewritten): its bytes are not its samples.
    fn holds(&self, start: u64, end: u64) -> bool {
        let i = self.media_data.partition_point(|&(s, _)| s <= start);
        i > 0 && end <= self.media_data[i - 1].1
    }
}

/// One sample of no bytes lasting `duration`, in a chunk of its own at `at`: a timed-text
/// track's gap between fragments (an empty text sample shows nothing).
fn empty_sample(t: &mut SampleTable, duration: u32, at: u64, description: u32) {
    if let Sizes::Constant(size) = t.sizes {
        t.sizes = Sizes::PerSample(vec![size; t.count as usize]);
    }
    if let Sizes::PerSample(sizes) = &mut t.sizes {
        sizes.push(0);
    }
    t.chunk_offsets.push(at);
    t.stsc.push(StscEntry {
        first_chunk: t.chunk_offsets.len() as u32,
        samples_per_chunk: 1,
        sample_description_index: description.max(1),
    });
    t.stts.push((1, duration));
    if let Some((n, 0)) = t.ctts.last_mut() {
        *n += 1;
    } else if !t.ctts.is_empty() {
        t.ctts.push((1, 0));
    }
    if let Some(list) = &mut t.sync {
        list.push(t.count + 1);
    }
    t.count += 1;
}

/// Append one `trun`; returns the file offset after its data and the ticks it added.
fn append_trun(
    trun: &Bx<'_>,
    t: &mut SampleTable,
    d: &Defaults,
    place: &Place<'_>,
    next: u64,
) -> Result<(u64, u64), BoxError> {
    let (base, file_len) = (place.base, place.file_len);
    let mut entries = TrunEntries::new(trun, d)?;
    let count = entries.count;
    let mut offset = match entries.data_offset {
        Some(delta) => base.checked_add_signed(i64::from(delta)).ok_or_else(|| {
            trun.err(Malformed::InvalidField {
                field: "trun data_offset",
                value: 0,
            })
        })?,
        None => next,
    };
    let total = u64::from(t.count) + u64::from(count);
    if total > file_len {
        return Err(trun.err(Malformed::Limit {
            what: "sample count (more samples than bytes in the file)",
            limit: file_len,
        }));
    }
    if count == 0 {
        return Ok((offset, 0));
    }
    // Sizes become per-sample once fragments add to them.
    if let Sizes::Constant(size) = t.sizes {
        t.sizes = Sizes::PerSample(vec![size; t.count as usize]);
    }
    let Sizes::PerSample(sizes) = &mut t.sizes else {
        unreachable!("sizes were made per-sample above");
    };
    sizes.reserve(count as usize);
    // Each trun is one chunk: its samples are contiguous.
    let start = offset;
    t.chunk_offsets.push(offset);
    let chunk = t.chunk_offsets.len() as u32;
    if t.stsc.last().is_none_or(|e| {
        e.samples_per_chunk != count || e.sample_description_index != d.description.max(1)
    }) {
        t.stsc.push(StscEntry {
            first_chunk: chunk,
            samples_per_chunk: count,
            sample_description_index: d.description.max(1),
        });
    }
    let mut ticks = 0u64;
    while let Some(TrunEntry {
        duration,
        size,
        flags: sample_flags,
        cto,
    }) = entries.next_entry()?
    {
        ticks += u64::from(duration);
        match t.stts.last_mut() {
            Some((n, delta)) if *delta == duration => *n += 1,
            _ => t.stts.push((1, duration)),
        }
        if cto != 0 && t.ctts.is_empty() && t.count > 0 {
            // Offsets appear: the samples before had none.
            t.ctts.push((t.count, 0));
        }
        if cto != 0 || !t.ctts.is_empty() {
            match t.ctts.last_mut() {
                Some((n, o)) if *o == cto => *n += 1,
                _ => t.ctts.push((1, cto)),
            }
        }
        let sync = sample_flags & NON_SYNC == 0;
        match (&mut t.sync, sync) {
            (None, false) => {
                // The first non-sync sample: list every sync sample so far.
                t.sync = Some((1..=t.count).collect());
            }
            (Some(list), true) => list.push(t.count + 1),
            _ => {}
        }
        sizes.push(size);
        t.count += 1;
        offset = offset.saturating_add(u64::from(size));
    }
    if !place.holds(start, offset) {
        return Err(trun.err(Malformed::InvalidField {
            field: "trun data offset (its samples' bytes are not inside one mdat: a stale \
                    base_data_offset?)",
            value: start as i64,
        }));
    }
    Ok((offset, ticks))
}

/// One `trun` sample with the track fragment's defaults applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TrunEntry {
    pub duration: u32,
    pub size: u32,
    pub flags: u32,
    pub cto: i64,
}

/// The samples of one `trun` (14496-12 8.8.8), read in order: the one reader of the
/// box for fragmented input and for the quality report.
pub(crate) struct TrunEntries<'a> {
    r: crate::mp4::header::Reader<'a>,
    version: u8,
    flags: u32,
    first_flags: Option<u32>,
    defaults: Defaults,
    read: u32,
    /// Samples the box declares; the table was checked to hold them.
    pub count: u32,
    /// `data_offset`, when present.
    pub data_offset: Option<i32>,
}

impl<'a> TrunEntries<'a> {
    pub fn new(trun: &Bx<'a>, d: &Defaults) -> Result<Self, BoxError> {
        let mut r = trun.body();
        let (version, flags) = r.version_flags()?;
        let count = r.u32()?;
        let data_offset = if flags & DATA_OFFSET != 0 {
            Some(r.i32()?)
        } else {
            None
        };
        let first_flags = if flags & FIRST_SAMPLE_FLAGS != 0 {
            Some(r.u32()?)
        } else {
            None
        };
        let per_sample = [SAMPLE_DURATION, SAMPLE_SIZE, SAMPLE_FLAGS, SAMPLE_CTO]
            .iter()
            .filter(|&&f| flags & f != 0)
            .count() as u64;
        r.check_table(u64::from(count), per_sample * 4, "trun samples")?;
        Ok(TrunEntries {
            r,
            version,
            flags,
            first_flags,
            defaults: *d,
            read: 0,
            count,
            data_offset,
        })
    }

    pub fn next_entry(&mut self) -> Result<Option<TrunEntry>, BoxError> {
        if self.read == self.count {
            return Ok(None);
        }
        let (f, d) = (self.flags, self.defaults);
        let duration = if f & SAMPLE_DURATION != 0 {
            self.r.u32()?
        } else {
            d.duration
        };
        let size = if f & SAMPLE_SIZE != 0 {
            self.r.u32()?
        } else {
            d.size
        };
        let mut flags = if f & SAMPLE_FLAGS != 0 {
            self.r.u32()?
        } else {
            d.flags
        };
        if self.read == 0
            && let Some(first) = self.first_flags
        {
            flags = first;
        }
        let cto = if f & SAMPLE_CTO == 0 {
            0
        } else if self.version == 0 {
            i64::from(self.r.u32()?)
        } else {
            i64::from(self.r.i32()?)
        };
        self.read += 1;
        Ok(Some(TrunEntry {
            duration,
            size,
            flags,
            cto,
        }))
    }
}

/// A `tfhd` (14496-12 8.8.7): the track, an explicit base offset, and defaults that
/// override the `trex` ones.
pub(crate) struct Tfhd {
    pub flags: u32,
    pub track_id: u32,
    pub base: Option<u64>,
    description: Option<u32>,
    duration: Option<u32>,
    size: Option<u32>,
    sample_flags: Option<u32>,
}

impl Tfhd {
    pub fn read(tfhd: &Bx<'_>) -> Result<Self, BoxError> {
        let mut r = tfhd.body();
        let (_, flags) = r.version_flags()?;
        let track_id = r.u32()?;
        let base = if flags & BASE_DATA_OFFSET != 0 {
            Some(r.u64()?)
        } else {
            None
        };
        let mut opt = |bit: u32| -> Result<Option<u32>, BoxError> {
            Ok(if flags & bit != 0 {
                Some(r.u32()?)
            } else {
                None
            })
        };
        Ok(Tfhd {
            flags,
            track_id,
            base,
            description: opt(SAMPLE_DESCRIPTION_INDEX)?,
            duration: opt(DEFAULT_DURATION)?,
            size: opt(DEFAULT_SIZE)?,
            sample_flags: opt(DEFAULT_FLAGS)?,
        })
    }

    /// `d` (the track's `trex` defaults) with this box's overrides.
    pub fn over(&self, d: Defaults) -> Defaults {
        Defaults {
            description: self.description.unwrap_or(d.description),
            duration: self.duration.unwrap_or(d.duration),
            size: self.size.unwrap_or(d.size),
            flags: self.sample_flags.unwrap_or(d.flags),
        }
    }
}
