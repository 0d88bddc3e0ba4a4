//! The ABR ladder: a video track decoded once (`decode`) and encoded to H.264 renditions
//! in parallel (`rung`), each a track of its own that is written as it is encoded.
//!
//! Planned before anything is decoded, so the segment plan, the init segments and the
//! MPD are known up front: every rung keeps the source's frames and their presentation
//! times (so its frame rate, variable or not, and its edit), an IDR frame starts every
//! segment (the first frame at or after each multiple of the segment duration, counted
//! from the edit's start, the same in every rung), and the GOPs are closed. Decode
//! times are the presentation times `d` frames earlier, `d` being the encoder's reorder
//! depth, so no sample is shown before it is decoded whatever order the encoder picks;
//! the edit moves by the same amount. Sizes, composition offsets and keyframe flags are
//! learnt as the samples are encoded.

mod decode;
mod rung;
mod thumbnails;

use std::sync::{Arc, Mutex};

use dashpack_av::{H264Encoder, H264Settings, Turn, VideoCodec};

use super::{box_err, first_entry};
use crate::Result;
use crate::carriage::CheckedTrack;
use crate::codec::legacy::Legacy;
use crate::codec::{self, Family, annexb};
use crate::described::Thumbnails;
use crate::ladder::{Ladder, Rendition};
use crate::mp4::file::sample_stats;
use crate::mp4::header::{fourcc_str, whole_box};
use crate::mp4::moov::Track;
use crate::mp4::sample_table::{SampleTable, Sizes, StscEntry};
use crate::mp4::write::video_entry::avc1_stsd;
use crate::source::Input;
use decode::SharedDecode;
use rung::{Frames, RungSamples};

/// A video track's ladder, planned.
#[derive(Debug)]
pub(crate) struct Planned {
    /// The renditions as tracks to write, largest first.
    pub rungs: Vec<CheckedTrack>,
    /// A note for each rung left out.
    pub notes: Vec<String>,
    /// Made from the same decode, ready when the rungs are written.
    pub thumbnails: Arc<Thumbnails>,
}

/// The ladder of `source`'s video. `target` is the segment duration (num / den
/// seconds).
pub(crate) fn ladder_tracks(
    input: &Input,
    source: &CheckedTrack,
    ladder: &Ladder,
    target: (i128, i128),
) -> Result<Planned> {
    let t = &source.track;
    let mut frames = Frames {
        shown: Vec::new(),
        idr: Vec::new(),
        base: 0,
        turn: turn_of(&t.tkhd),
        file: input.name().to_string(),
        track: t.id,
        fourcc: fourcc_str(&t.codec.fourcc),
    };
    if t.protection.is_some() {
        return Err(frames.fail("the track is encrypted"));
    }
    let decoder = decoder_config(t).map_err(|why| frames.fail(why))?;
    let (shown, last_duration) = shown_times(&t.table).map_err(|why| frames.fail(why))?;
    frames.shown = shown;
    frames.idr = segment_starts(&frames.shown, t.edit.media_time, t.timescale, target);
    // The picture as decoded: its size and pixel aspect win over the sample entry's.
    let picture = decode::first_picture(
        input,
        &t.table,
        (decoder.0, &decoder.1),
        t.timescale,
        &t.inband,
    )
    .map_err(|why| frames.fail(format!("decoding: {why}")))?
    .ok_or_else(|| frames.fail("the decoder gives no picture"))?;
    let (width, height) = display_size(picture, t.codec.sar, frames.turn);
    let (renditions, notes) = ladder.renditions(width, height);
    let rate = frame_rate(&frames.shown, last_duration, t.timescale);
    let gop = longest_run(&frames.idr);

    let reorder = steady(&frames.shown);
    let (timescale, preset) = (t.timescale, ladder.preset());
    let planned = open_encoders(&renditions, timescale, rate, gop, preset, reorder)
        .map_err(|e| frames.fail(e))?;
    let delay = planned
        .iter()
        .map(|(_, e)| e.reorder_delay())
        .max()
        .unwrap_or(0);
    let first = *frames
        .shown
        .first()
        .ok_or_else(|| frames.fail("no frames"))?;
    let step = frames.shown.get(1).map_or(1, |s| s - first).max(1);
    frames.base = first - i64::from(delay) * step;
    let table = rung_table(&frames, delay, step, last_duration);

    let (thumbnails, thumbnail_maker) = thumbnails::plan(
        &frames,
        t.edit.media_time,
        t.timescale,
        target,
        (width, height),
    );
    let frames = Arc::new(frames);
    let shared = Arc::new(SharedDecode::new(
        input,
        t,
        decoder,
        planned.len(),
        thumbnail_maker,
    ));
    let out = rung_tracks(input, t, planned, &table, &frames, &shared, rate)?;
    Ok(Planned {
        rungs: out,
        notes,
        thumbnails,
    })
}

/// Each rung as a track to write: the source track with the rung's sample entry and
/// table, its samples made by the rung's encoder from the shared decode.
fn rung_tracks(
    input: &Input,
    t: &Track,
    planned: Vec<(H264Settings, H264Encoder)>,
    table: &SampleTable,
    frames: &Arc<Frames>,
    shared: &Arc<SharedDecode>,
    rate: (i32, i32),
) -> Result<Vec<CheckedTrack>> {
    let mut out = Vec::with_capacity(planned.len());
    for (i, (settings, enc)) in planned.into_iter().enumerate() {
        let config = annexb::avc_config(enc.parameter_sets())
            .ok_or_else(|| frames.fail("the encoder gave no SPS and PPS"))?;
        let mut track = t.clone();
        rewrite_track(&mut track, &settings, &config, table.clone(), frames.base)
            .map_err(|why| frames.fail(why))?;
        let nominal = settings.bit_rate / 8 * u64::from(track.table.count) * rate.1 as u64
            / rate.0.max(1) as u64;
        let stats = sample_stats(&track, nominal.max(1)).map_err(|e| e.in_file(input.name()))?;
        out.push(CheckedTrack {
            track,
            stats,
            made: Some(Box::new(RungSamples {
                decode: Arc::clone(shared),
                frames: Arc::clone(frames),
                rung: i,
                settings,
                encoder: Mutex::new(Some(enc)),
            })),
        });
    }
    Ok(out)
}

/// Every rung's encoder, opened. The rungs encode side by side: the cores are shared
/// between them, not each encoder taking them all.
fn open_encoders(
    renditions: &[Rendition],
    timescale: u32,
    rate: (i32, i32),
    gop: u32,
    preset: &str,
    reorder: bool,
) -> std::result::Result<Vec<(H264Settings, H264Encoder)>, dashpack_av::Error> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = cores.div_ceil(renditions.len()).max(1) as u32;
    renditions
        .iter()
        .map(|r| {
            let mut settings = settings(r, timescale, rate, gop, preset);
            settings.threads = threads;
            settings.reorder = reorder;
            let enc = H264Encoder::new(&settings)?;
            Ok((settings, enc))
        })
        .collect()
}

fn settings(
    r: &Rendition,
    timescale: u32,
    rate: (i32, i32),
    gop: u32,
    preset: &str,
) -> H264Settings {
    H264Settings {
        width: r.width,
        height: r.height,
        timescale,
        frame_rate: rate,
        bit_rate: r.bit_rate,
        max_rate: 2 * r.bit_rate,
        buffer: 2 * r.bit_rate,
        preset: preset.to_string(),
        gop,
        threads: 0,
        reorder: true,
    }
}

/// The decoder for the track's codec and its configuration record (the body of
/// `avcC`, `hvcC`, `av1C`; VP9 needs none).
fn decoder_config(t: &Track) -> std::result::Result<(VideoCodec, Vec<u8>), String> {
    let stsd = whole_box(&t.stsd).ok_or("no sample description")?;
    let entry = first_entry(&stsd)?;
    if t.codec.family == Family::Legacy {
        let (kind, config) = codec::legacy::decoder(&entry)
            .map_err(box_err)?
            .ok_or("no decoder for this codec here")?;
        let codec = match kind {
            Legacy::Mpeg4Part2 => VideoCodec::Mpeg4,
            Legacy::Mpeg2 => VideoCodec::Mpeg2,
            Legacy::Mpeg1 => VideoCodec::Mpeg1,
            Legacy::H263 => VideoCodec::H263,
            Legacy::ProRes => VideoCodec::ProRes,
            Legacy::Dv => VideoCodec::Dv,
        };
        return Ok((codec, config));
    }
    let (codec, config): (VideoCodec, &[u8; 4]) = match t.codec.family {
        Family::Avc => (VideoCodec::H264, b"avcC"),
        Family::Hevc => (VideoCodec::Hevc, b"hvcC"),
        Family::Av1 => (VideoCodec::Av1, b"av1C"),
        Family::Vp9 => (VideoCodec::Vp9, b"vpcC"),
        _ => return Err("no decoder for this codec here".into()),
    };
    let found = codec::find_child(&entry, codec::VISUAL_FIELDS, config).map_err(box_err)?;
    let body = match (codec, found) {
        (VideoCodec::Vp9, _) => Vec::new(),
        (_, Some(b)) => b.raw.get(b.header_len..).unwrap_or_default().to_vec(),
        (_, None) => return Err(format!("no {} box", fourcc_str(config))),
    };
    Ok((codec, body))
}

/// Every sample's presentation time, ascending; two frames shown at one time cannot
/// be encoded as a stream.
/// Also the last sample's duration (at least 1), from the same walk of the table.
fn shown_times(table: &SampleTable) -> std::result::Result<(Vec<i64>, u32), String> {
    let mut last = 1;
    let mut shown: Vec<i64> = table
        .cursor()
        .map(|s| {
            last = s.duration.max(1);
            s.dts as i64 + s.cto
        })
        .collect();
    shown.sort_unstable();
    if let Some(w) = shown.windows(2).find(|w| w[0] == w[1]) {
        return Err(format!("two frames are shown at media time {}", w[0]));
    }
    if shown.len() != table.count as usize {
        return Err("the sample table ends early".into());
    }
    Ok((shown, last))
}

/// IDR positions: the first frame, and the first at or after each multiple of the
/// segment duration from the edit's start.
fn segment_starts(
    shown: &[i64],
    edit_start: i64,
    timescale: u32,
    target: (i128, i128),
) -> Vec<bool> {
    let (num, den) = target;
    let ts = i128::from(timescale);
    let mut next: i128 = 1;
    shown
        .iter()
        .enumerate()
        .map(|(i, &t)| {
            let rel = i128::from(t - edit_start);
            if i == 0 {
                return true;
            }
            // rel >= next * num / den seconds
            if rel * den >= next * num * ts {
                next = (rel * den).div_euclid(num * ts) + 1;
                true
            } else {
                false
            }
        })
        .collect()
}

/// Whether the frames are shown at a steady rate (every interval within 10% of the
/// shortest). Reordered frames (B-frames) then keep their times; at an unsteady rate
/// they are not encoded: a sample's duration is a decode interval, which with
/// reordering and irregular intervals overlaps other frames' presentation, and
/// Chromium's MSE then drops frames others depend on.
fn steady(shown: &[i64]) -> bool {
    let gaps = shown.windows(2).map(|w| w[1] - w[0]);
    let (least, most) = gaps.fold((i64::MAX, 0), |(l, m), g| (l.min(g), m.max(g)));
    most <= least.saturating_add(least / 10)
}

/// Most frames from one IDR to the next: the encoder's keyframe interval, so it adds
/// none of its own.
fn longest_run(idr: &[bool]) -> u32 {
    let mut longest = 1;
    let mut run = 0u32;
    for &k in idr {
        if k {
            run = 0;
        }
        run += 1;
        longest = longest.max(run);
    }
    longest
}

/// The average frame rate, as a fraction that fits FFmpeg's.
fn frame_rate(shown: &[i64], last_duration: u32, timescale: u32) -> (i32, i32) {
    let last = i64::from(last_duration);
    let span =
        (shown.last().copied().unwrap_or(0) - shown.first().copied().unwrap_or(0) + last).max(1);
    let (mut num, mut den) = (
        shown.len() as i128 * i128::from(timescale),
        i128::from(span),
    );
    let g = gcd(num, den);
    (num, den) = (num / g, den / g);
    while num > i128::from(i32::MAX) || den > i128::from(i32::MAX) {
        (num, den) = ((num / 2).max(1), (den / 2).max(1));
    }
    (num as i32, den as i32)
}

fn gcd(a: i128, b: i128) -> i128 {
    if b == 0 { a.max(1) } else { gcd(b, a % b) }
}

/// The rung's sample table: decode time `i` is presentation time `i - delay` (before
/// the first, `step` apart from 0), less `base`; composition offsets as if shown in
/// decode order (the encoder's are set as it writes); a keyframe at each IDR.
fn rung_table(frames: &Frames, delay: u32, step: i64, last_duration: u32) -> SampleTable {
    let (shown, idr, base) = (&frames.shown, &frames.idr, frames.base);
    let n = shown.len();
    let d = delay as usize;
    // `base` is the first frame's time less `delay` steps: the first `delay` decode
    // times are 0, step, 2 step, ...
    let dts = |i: usize| -> i64 {
        if i < d {
            i as i64 * step
        } else {
            shown[i - d] - base
        }
    };
    let mut stts: Vec<(u32, u32)> = Vec::new();
    let mut ctts: Vec<(u32, i64)> = Vec::new();
    for (i, &at) in shown.iter().enumerate() {
        // The last sample lasts as the source's last does: decode times then span the
        // frames' presentation (the frames shown after the last decode time are the
        // last `delay`, reordered).
        let duration = if i + 1 < n {
            u32::try_from(dts(i + 1) - dts(i)).unwrap_or(u32::MAX)
        } else {
            last_duration
        };
        push_run(&mut stts, duration);
        push_run(&mut ctts, at - base - dts(i));
    }
    if ctts.iter().all(|e| e.1 == 0) {
        ctts.clear();
    }
    SampleTable {
        count: n as u32,
        stts,
        ctts,
        sizes: Sizes::Constant(0),
        stsc: vec![StscEntry {
            first_chunk: 1,
            samples_per_chunk: (n as u32).max(1),
            sample_description_index: 1,
        }],
        chunk_offsets: vec![0],
        // Decode order equals presentation order at an IDR: GOPs are closed.
        sync: Some(
            (1..=n as u32)
                .zip(idr)
                .filter_map(|(i, &k)| k.then_some(i))
                .collect(),
        ),
    }
}

fn push_run<T: PartialEq + Copy>(runs: &mut Vec<(u32, T)>, v: T) {
    match runs.last_mut() {
        Some((count, last)) if *last == v => *count += 1,
        _ => runs.push((1, v)),
    }
}

/// The source track as one rung: H.264 of the rung's size, its sample table, the edit
/// moved by `base`, upright (identity matrix), in the clear.
fn rewrite_track(
    t: &mut Track,
    s: &H264Settings,
    avc_config: &[u8],
    mut table: SampleTable,
    base: i64,
) -> std::result::Result<(), String> {
    let (w, h) = (
        u16::try_from(s.width).map_err(|_| "too wide")?,
        u16::try_from(s.height).map_err(|_| "too tall")?,
    );
    t.stsd = avc1_stsd(w, h, avc_config);
    let stsd = whole_box(&t.stsd).ok_or("no sample description")?;
    let entry = first_entry(&stsd)?;
    t.codec = codec::parse_sample_entry(&entry)
        .map_err(box_err)?
        .ok_or("the encoder's sample entry does not read back")?;
    table.sizes = Sizes::Constant(
        u32::try_from(s.bit_rate / 8 * s.frame_rate.1 as u64 / s.frame_rate.0.max(1) as u64)
            .unwrap_or(u32::MAX)
            .max(1),
    );
    t.table = table;
    t.edit.media_time -= base;
    t.edit.end = t.edit.end.map(|e| e - base);
    for j in &mut t.edit.joins {
        j.media_time -= base;
        j.end = j.end.map(|e| e - base);
    }
    t.tkhd = upright_tkhd(&t.tkhd, s.width, s.height);
    t.inband.clear();
    t.protection = None;
    t.aux.clear();
    t.aux_at = None;
    t.usable_entries = 1;
    Ok(())
}

/// Where the `tkhd` matrix (36 bytes) starts, by version.
fn matrix_at(tkhd: &[u8]) -> Option<usize> {
    match tkhd.get(8)? {
        0 => Some(8 + 40),
        1 => Some(8 + 52),
        _ => None,
    }
}

/// Quarter turns the `tkhd` matrix asks for (ISO/IEC 14496-12 8.3.2): {a, b, c, d} of
/// (0, 1, -1, 0) is a turn clockwise.
fn turn_of(tkhd: &[u8]) -> Turn {
    let Some(m) = matrix_at(tkhd).and_then(|at| tkhd.get(at..at + 20)) else {
        return Turn::None;
    };
    let v = |i: usize| i32::from_be_bytes([m[i], m[i + 1], m[i + 2], m[i + 3]]).signum();
    // a, b, c, d: the matrix's first two rows, less their third columns.
    match (v(0), v(4), v(12), v(16)) {
        (0, 1, -1, 0) => Turn::Right,
        (0, -1, 1, 0) => Turn::Left,
        (-1, 0, 0, -1) => Turn::Half,
        _ => Turn::None,
    }
}

/// The `tkhd` with the identity matrix and the rung's size.
fn upright_tkhd(tkhd: &[u8], width: u32, height: u32) -> Vec<u8> {
    let mut out = tkhd.to_vec();
    if let Some(at) = matrix_at(tkhd).filter(|at| out.len() >= at + 44) {
        let identity: [u32; 9] = [0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x4000_0000];
        for (k, v) in identity.iter().enumerate() {
            out[at + 4 * k..at + 4 * k + 4].copy_from_slice(&v.to_be_bytes());
        }
        out[at + 36..at + 40].copy_from_slice(&(width << 16).to_be_bytes());
        out[at + 40..at + 44].copy_from_slice(&(height << 16).to_be_bytes());
    }
    out
}

/// The picture as shown: its size stretched by the pixel aspect ratio (the bitstream's,
/// else the `pasp` box's), turned.
fn display_size((w, h, aspect): decode::Shown, pasp: Option<(u32, u32)>, turn: Turn) -> (u32, u32) {
    let mut w = w;
    if let Some((hs, vs)) = aspect.or(pasp).filter(|&(h, v)| h > 0 && v > 0) {
        w = u32::try_from(u64::from(w) * u64::from(hs) / u64::from(vs)).unwrap_or(w);
    }
    match turn {
        Turn::Right | Turn::Left => (h, w),
        _ => (w, h),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reordering_is_kept_for_a_steady_rate_only() {
        assert!(steady(&[0, 1001, 2002, 3003]));
        assert!(steady(&[0, 20, 41, 61, 82])); // 29.97 at a timescale of 600
        assert!(!steady(&[0, 36, 108, 144, 240]));
        assert!(steady(&[5]));
    }
}
