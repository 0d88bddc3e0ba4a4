//! The top level of an input file: find `moov` by reading box headers at offsets (never
//! the media data), parse it with the fragments after it, and check a track's sample
//! table against the file (`sample_stats`) before anything is written.

use crate::error::{BoxError, Malformed};
use crate::mp4::cenc::AuxAt;
use crate::mp4::fragments;
use crate::mp4::header::{Bx, FourCC, fourcc_str, parse_header};
use crate::mp4::moov::{self, Movie, Track};
use crate::source::Input;
use crate::{Error, Result};

use crate::limits::MAX_MOOV;

/// Facts about a track found while checking its tables in one pass.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Stats {
    /// Smallest composition time (DTS + offset).
    pub min_cts: i64,
    /// Composition offset of the sample with the smallest composition time.
    pub first_presented_cto: i64,
    /// Largest composition time plus duration.
    pub end_cts: i64,
    /// Decode time after the last sample.
    pub end_dts: u64,
    pub bytes: u64,
    pub sync_count: u32,
    /// Largest sample, in bytes.
    pub max_size: u32,
}

/// Read the movie of one input: `moov`, the auxiliary information its tracks point to,
/// and the samples of any movie fragments after it.
pub(crate) fn read(input: &Input) -> Result<Movie> {
    let name = input.name();
    let src = input.source();
    let file_len = src.len();
    if file_len < 8 {
        return Err(BoxError::new(
            "file",
            0,
            Malformed::Truncated {
                needed: 8,
                available: file_len,
            },
        )
        .in_file(name));
    }
    let mut pos = 0u64;
    let mut moov: Option<(u64, Vec<u8>)> = None;
    let mut moofs: Vec<(u64, u64)> = Vec::new();
    // Where media data may lie: each `mdat`'s (or `imda`'s) payload, as declared.
    let mut media_data: Vec<(u64, u64)> = Vec::new();
    let mut first = true;
    while pos < file_len {
        let avail = file_len - pos;
        let mut head = [0u8; 16];
        let n = avail.min(16) as usize;
        src.read_exact_at(&mut head[..n], pos)
            .map_err(|e| Error::io(format!("{name}: read at byte {pos}"), e))?;
        let (kind, size, header_len) = parse_header(&head[..n], avail).map_err(|k| {
            let k = if first && n < 8 {
                not_mp4(&head[..n])
            } else {
                k
            };
            BoxError::new("file", pos, k).in_file(name)
        })?;
        if first && !plausible(&kind) {
            return Err(BoxError::new("file", 0, not_mp4(&head[..n])).in_file(name));
        }
        first = false;
        let kind_s = fourcc_str(&kind);
        if matches!(&kind, b"mdat" | b"imda") {
            media_data.push((pos + header_len as u64, pos.saturating_add(size)));
        }
        if size > avail {
            if &kind == b"moov" || moov.is_none() {
                return Err(BoxError::new(
                    kind_s,
                    pos,
                    Malformed::PastEndOfFile { size, file_len },
                )
                .in_file(name));
            }
            // A truncated box after the movie: the sample check below says whether any
            // sample lies in the missing part.
            break;
        }
        match &kind {
            b"moov" => {
                if moov.is_some() {
                    return Err(
                        BoxError::new("moov[2]", pos, Malformed::Duplicate("moov")).in_file(name)
                    );
                }
                moov = Some((pos, read_box(input, "moov", pos, size)?));
            }
            b"moof" => moofs.push((pos, size)),
            _ => {}
        }
        pos += size;
    }
    let Some((moov_pos, moov_bytes)) = moov else {
        return Err(BoxError::new("file", file_len, Malformed::Missing("moov")).in_file(name));
    };
    read_movie(input, moov_pos, &moov_bytes, &moofs, &media_data)
}

/// Parse `moov`, read the auxiliary information outside it and append the fragments.
fn read_movie(
    input: &Input,
    moov_pos: u64,
    moov_bytes: &[u8],
    moofs: &[(u64, u64)],
    media_data: &[(u64, u64)],
) -> Result<Movie> {
    let name = input.name();
    let file_len = input.source().len();
    let root = top_box(input, *b"moov", "moov".into(), moov_pos, moov_bytes)?;
    let mut movie = moov::parse_moov(&root).map_err(|e| e.in_file(name))?;
    let tracks = &mut movie.tracks;
    for t in tracks.iter_mut() {
        if let Some(at) = t.aux_at.take() {
            let iv_size = t.protection.as_ref().map_or(0, |p| p.protection.iv_size);
            let mut runs = Vec::with_capacity(at.runs.len());
            for &(offset, bytes, _) in &at.runs {
                runs.push(read_aux(input, &at, offset, bytes)?);
            }
            t.aux = at.records(iv_size, &runs).map_err(|e| e.in_file(name))?;
        }
    }
    if !moofs.is_empty() {
        let trex = fragments::parse_trex(&root).map_err(|e| e.in_file(name))?;
        let mut appender = fragments::Appender::new(tracks.len() + movie.texts.len(), media_data);
        for (i, &(pos, size)) in moofs.iter().enumerate() {
            let path = format!("moof[{}]", i + 1);
            let buf = read_box(input, &path, pos, size)?;
            let moof = top_box(input, *b"moof", path, pos, &buf)?;
            appender
                .append(&moof, tracks, &mut movie.texts, &trex, file_len)
                .map_err(|e| e.in_file(name))?;
        }
        appender.finish(tracks);
    }
    Ok(movie)
}

/// Read a whole top-level box (`moov`, `moof`) into memory, within [`MAX_MOOV`].
fn read_box(input: &Input, path: &str, pos: u64, size: u64) -> Result<Vec<u8>> {
    let name = input.name();
    if size > MAX_MOOV {
        return Err(BoxError::new(
            path,
            pos,
            Malformed::Limit {
                what: "top-level box size (moov, moof)",
                limit: MAX_MOOV,
            },
        )
        .in_file(name));
    }
    read_bytes(input, path, pos, size)
}

/// `len` bytes at `pos`, for a part of the file read whole (`what` names it).
fn read_bytes(input: &Input, what: &str, pos: u64, len: u64) -> Result<Vec<u8>> {
    let mut buf = vec![0u8; len as usize];
    input
        .source()
        .read_exact_at(&mut buf, pos)
        .map_err(|e| Error::io(format!("{}: read {what} at byte {pos}", input.name()), e))?;
    Ok(buf)
}

/// One run of a progressive file's sample auxiliary information (`saio`), which must
/// lie in the file; its size is bounded by the sample count (at most 255 bytes each).
fn read_aux(input: &Input, at: &AuxAt, offset: u64, bytes: u64) -> Result<Vec<u8>> {
    let name = input.name();
    if offset.saturating_add(bytes) > input.source().len() {
        return Err(BoxError::new(
            at.path.clone(),
            at.at,
            Malformed::InvalidField {
                field: "saio offset (auxiliary information past the end of the file)",
                value: offset as i64,
            },
        )
        .in_file(name));
    }
    read_bytes(input, "saio data", offset, bytes)
}

/// A top-level box held in memory, as the root of its box tree.
fn top_box<'a>(
    input: &Input,
    kind: FourCC,
    path: String,
    pos: u64,
    raw: &'a [u8],
) -> Result<Bx<'a>> {
    let (_, _, header_len) = parse_header(raw, raw.len() as u64)
        .map_err(|k| BoxError::new(path.clone(), pos, k).in_file(input.name()))?;
    Ok(Bx {
        kind,
        start: pos,
        raw,
        header_len,
        path,
        depth: 1,
    })
}

/// Box types an ISO BMFF or QuickTime file can start with. Anything else (a text file
/// whose first bytes happen to read as a size and a printable type) is not an MP4.
fn plausible(kind: &[u8; 4]) -> bool {
    matches!(
        kind,
        b"ftyp"
            | b"styp"
            | b"moov"
            | b"mdat"
            | b"free"
            | b"skip"
            | b"wide"
            | b"pdin"
            | b"uuid"
            | b"pnot"
            | b"sidx"
            | b"moof"
            | b"meta"
            | b"junk"
    )
}

fn not_mp4(head: &[u8]) -> Malformed {
    let found = head
        .get(4..8)
        .map(|k| String::from_utf8_lossy(k).into_owned())
        .unwrap_or_default();
    Malformed::NotMp4 { found }
}

/// A table that describes another number of samples than the track has.
fn count_mismatch(track: &Track, table: &'static str, found: u64) -> BoxError {
    BoxError::new(
        format!("{}/mdia/minf/stbl/{table}", track.path),
        track.offset,
        Malformed::CountMismatch {
            table,
            expected: u64::from(track.table.count),
            found,
        },
    )
}

/// Check that the tables agree with each other and with the file, in one pass.
pub(crate) fn check_track(track: &Track, file_len: u64) -> Result<Stats, BoxError> {
    let t = &track.table;
    let stbl = format!("{}/mdia/minf/stbl", track.path);
    let mismatch = |table, found| count_mismatch(track, table, found);
    let count = u64::from(t.count);
    if count > file_len {
        return Err(BoxError::new(
            format!("{stbl}/stsz"),
            track.offset,
            Malformed::Limit {
                what: "sample count (more samples than bytes in the file)",
                limit: file_len,
            },
        ));
    }
    let stts_total: u64 = t.stts.iter().map(|e| u64::from(e.0)).sum();
    if stts_total != count {
        return Err(mismatch("stts", stts_total));
    }
    // A sample of zero duration would decode at the same time as the next one; only the
    // last sample may have it (repaired by `repair_last_duration`).
    let mut before = 0u64;
    for &(n, delta) in &t.stts {
        if delta == 0 && (n > 1 || (n == 1 && before + 1 < count)) {
            return Err(BoxError::new(
                format!("{stbl}/stts"),
                track.offset,
                Malformed::InvalidField {
                    field: "stts sample_delta 0 (sample decodes at the same time as the next), at sample",
                    value: (before + 1) as i64,
                },
            ));
        }
        before += u64::from(n);
    }
    if !t.ctts.is_empty() {
        let total: u64 = t.ctts.iter().map(|e| u64::from(e.0)).sum();
        if total != count {
            return Err(mismatch("ctts", total));
        }
    }
    let chunks = t.chunk_offsets.len() as u64;
    let mut capacity = 0u64;
    for (i, e) in t.stsc.iter().enumerate() {
        let end = t
            .stsc
            .get(i + 1)
            .map_or(chunks + 1, |n| u64::from(n.first_chunk));
        let n = end.saturating_sub(u64::from(e.first_chunk));
        capacity = capacity.saturating_add(n.saturating_mul(u64::from(e.samples_per_chunk)));
    }
    if capacity < count {
        return Err(mismatch("stsc", capacity));
    }
    if let Some(&last) = t.sync.as_ref().and_then(|s| s.last())
        && u64::from(last) > count
    {
        return Err(BoxError::new(
            format!("{stbl}/stss"),
            track.offset,
            Malformed::InvalidField {
                field: "stss sample_number (past the last sample)",
                value: i64::from(last),
            },
        ));
    }
    let stats = sample_stats(track, file_len)?;
    Ok(stats)
}

/// Walks the samples: each one inside the file, and the facts the planner needs. After
/// an end trim (`count` lowered) it is run again on its own.
pub(crate) fn sample_stats(track: &Track, file_len: u64) -> Result<Stats, BoxError> {
    let t = &track.table;
    let stbl = format!("{}/mdia/minf/stbl", track.path);
    let count = u64::from(t.count);
    let mut stats = Stats {
        min_cts: i64::MAX,
        end_cts: i64::MIN,
        ..Stats::default()
    };
    let mut seen = 0u64;
    for s in t.cursor() {
        seen += 1;
        s.check_in_file(format!("{stbl}/stco"), file_len)?;
        let cts = s.dts as i64 + s.cto;
        if cts < stats.min_cts {
            stats.min_cts = cts;
            stats.first_presented_cto = s.cto;
        }
        stats.end_cts = stats.end_cts.max(cts + i64::from(s.duration));
        stats.end_dts = s.dts + u64::from(s.duration);
        stats.bytes += u64::from(s.size);
        stats.sync_count += u32::from(s.sync);
        stats.max_size = stats.max_size.max(s.size);
    }
    if seen != count {
        return Err(count_mismatch(track, "stsc", seen));
    }
    if stats.end_dts > i64::MAX as u64 / 2 {
        return Err(BoxError::new(
            format!("{stbl}/stts"),
            track.offset,
            Malformed::Limit {
                what: "track duration",
                limit: i64::MAX as u64 / 2,
            },
        ));
    }
    Ok(stats)
}
