//! Exactness by FFmpeg's reading, which nobody here wrote: every Representation's init
//! and segments, read by FFmpeg's MP4 demuxer, give the same packets (count, size and
//! MD5, in order) as the input's track read with its edit list ignored, less what an edit
//! list ends before (by the packets' own times); FFmpeg decodes
//! the MPD without an error line wherever it decodes the input itself without one; every
//! audio and video track of the input is in the output, or `reason` names it. When
//! FFmpeg cannot read an input at all, mp4-atom's strict reading stands in for it.

use std::path::Path;
use std::process::Command;

/// Size and MD5 of each packet FFmpeg's demuxer reads from the stream with MP4 track ID
/// `track` (`i:` stream specifier), or FFmpeg's complaint.
fn packets(file: &Path, track: u32, ignore_editlist: bool) -> Result<Vec<String>, String> {
    packets_with(file, track, ignore_editlist, &[])
}

/// FFmpeg's bitstream filter that drops H.264 SEI NAL units.
const NO_SEI: &[&str] = &["-bsf:v", "filter_units=remove_types=6"];

/// [`packets`] through FFmpeg options such as a bitstream filter.
fn packets_with(
    file: &Path,
    track: u32,
    ignore_editlist: bool,
    filter: &[&str],
) -> Result<Vec<String>, String> {
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-nostdin", "-v", "error"]);
    if ignore_editlist {
        cmd.args(["-ignore_editlist", "1"]);
    }
    let out = cmd
        .arg("-i")
        .arg(file)
        .args(["-map", &format!("0:i:{track}"), "-c", "copy"])
        .args(filter)
        .args(["-f", "framemd5", "-"])
        .output()
        .expect("ffmpeg must be installed (scripts/test installs it)");
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let mut packets = super::framemd5_sizes_and_hashes(&out.stdout);
    if ignore_editlist && let Some((end, slack)) = edit_end(file, track) {
        // What the edit list ends before is not presented (ISO/IEC 14496-12 8.6.6): keep
        // the packets in decode order through the last one that starts before the end;
        // unless the edit ends where decoding ends (to a movie tick): written as the
        // whole media, it cuts nothing.
        let fields: Vec<Vec<i64>> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| {
                l.split(',')
                    .skip(1)
                    .take(3)
                    .map(|f| f.trim().parse().unwrap())
                    .collect()
            })
            .collect();
        let decode_end = fields.last().map_or(0, |f| f[0] + f[2]);
        if (end - decode_end).abs() > slack {
            let keep = fields.iter().rposition(|f| f[1] < end).map_or(0, |i| i + 1);
            packets.truncate(keep);
        }
    }
    Ok(packets)
}

/// Where the edit list of track `track` ends, in media time, when it is one media edit
/// (after any empty ones) that ends before the media does, with one movie tick in media
/// time (the rounding of its duration); read here box by box.
fn edit_end(file: &Path, track: u32) -> Option<(i64, i64)> {
    let data = std::fs::read(file).ok()?;
    let boxes = |d: &[u8]| -> Vec<([u8; 4], std::ops::Range<usize>)> {
        let mut out = Vec::new();
        let mut pos = 0;
        while pos + 8 <= d.len() {
            let size = u32::from_be_bytes(d[pos..pos + 4].try_into().unwrap()) as usize;
            let kind: [u8; 4] = d[pos + 4..pos + 8].try_into().unwrap();
            if size < 8 || pos + size > d.len() {
                break;
            }
            out.push((kind, pos + 8..pos + size));
            pos += size;
        }
        out
    };
    let child = |d: &[u8], kind: &[u8; 4]| {
        boxes(d)
            .into_iter()
            .find(|b| &b.0 == kind)
            .map(|b| d[b.1].to_vec())
    };
    let be32 = |d: &[u8], at: usize| u32::from_be_bytes(d[at..at + 4].try_into().unwrap());
    let moov = child(&data, b"moov")?;
    let mvhd = child(&moov, b"mvhd")?;
    let movie_ts = be32(&mvhd, if mvhd[0] == 1 { 20 } else { 12 });
    for (kind, range) in boxes(&moov) {
        if &kind != b"trak" {
            continue;
        }
        let trak = &moov[range];
        let tkhd = child(trak, b"tkhd")?;
        if be32(&tkhd, if tkhd[0] == 1 { 20 } else { 12 }) != track {
            continue;
        }
        let mdhd = child(&child(trak, b"mdia")?, b"mdhd")?;
        let media_ts = be32(&mdhd, if mdhd[0] == 1 { 20 } else { 12 });
        let elst = child(&child(trak, b"edts")?, b"elst")?;
        let v1 = elst[0] == 1;
        let n = be32(&elst, 4) as usize;
        let mut media = Vec::new();
        for k in 0..n {
            let at = 8 + k * if v1 { 20 } else { 12 };
            let (duration, time) = if v1 {
                let d = u64::from_be_bytes(elst[at..at + 8].try_into().unwrap());
                (
                    d,
                    i64::from_be_bytes(elst[at + 8..at + 16].try_into().unwrap()),
                )
            } else {
                (
                    u64::from(be32(&elst, at)),
                    i64::from(be32(&elst, at + 4) as i32),
                )
            };
            if time != -1 {
                media.push((duration, time));
            }
        }
        return match media[..] {
            [(duration, time)] if duration > 0 => Some((
                time + (u128::from(duration) * u128::from(media_ts) / u128::from(movie_ts)) as i64,
                i64::from(media_ts.div_ceil(movie_ts.max(1))),
            )),
            _ => None,
        };
    }
    None
}

/// Size and hash of a sample's bytes.
fn digest(data: &[u8]) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    data.hash(&mut h);
    format!("{},{:016x}", data.len(), h.finish())
}

/// Each sample of track `track` as mp4-atom (strict) reads the input; `None` when it
/// cannot read the file.
fn atom_input_samples(file: &Path, track: u32) -> Option<Vec<String>> {
    let bytes = std::fs::read(file).ok()?;
    let tracks = std::panic::catch_unwind(|| super::read_input(&bytes)).ok()?;
    let t = tracks.iter().find(|t| t.id == track)?;
    Some(
        t.samples
            .iter()
            .map(|s| digest(&bytes[s.offset as usize..s.offset as usize + s.size as usize]))
            .collect(),
    )
}

/// The CEA-608 caption texts FFmpeg decodes, in order, from a file's caption track or
/// from the SEI of its video's pictures (times differ by the presentation's shift).
fn caption_texts(file: &str, in_pictures: bool) -> Vec<String> {
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-nostdin", "-v", "error"]);
    if in_pictures {
        cmd.args(["-f", "lavfi", "-i", &format!("movie={file}[out+subcc]")]);
    } else {
        cmd.args(["-i", file]);
    }
    let srt = super::run(cmd.args(["-map", "0:s", "-f", "srt", "-"]));
    String::from_utf8_lossy(&srt)
        .lines()
        .filter(|l| !l.is_empty() && !l.contains("-->") && l.parse::<u32>().is_err())
        .map(str::to_string)
        .collect()
}

/// Each sample's bytes in a Representation's segments, by mp4-atom's reading.
fn segment_samples(out: &Path, r: &dashpack::Representation) -> Vec<Vec<u8>> {
    let mut got = Vec::new();
    for n in 1..=r.segments {
        let seg = std::fs::read(out.join(&r.id).join(format!("seg-{n}.m4s"))).unwrap();
        got.extend(
            super::read_segment(&seg, 1)
                .samples
                .into_iter()
                .map(|s| s.data),
        );
    }
    got
}

/// FFmpeg's error lines while decoding every stream of `file` (empty: clean).
fn decode_errors(file: &Path) -> String {
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-i"])
        .arg(file)
        .args(["-map", "0:v?", "-map", "0:a?", "-f", "null", "-"])
        .output()
        .unwrap();
    let mut text = String::from_utf8_lossy(&out.stderr).into_owned();
    if !out.status.success() && text.is_empty() {
        text = format!("exit {}", out.status);
    }
    text
}

/// Audio and video track IDs of an input, by FFmpeg's reading.
fn av_tracks(file: &Path) -> Vec<u32> {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "stream=id,codec_type",
            "-of",
            "csv=p=0",
        ])
        .arg(file)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let (kind, id) = l.split_once(',')?;
            let id = u32::from_str_radix(id.trim().trim_start_matches("0x"), 16).ok()?;
            // ID 0: a picture from iTunes metadata (`covr`), not a track.
            (matches!(kind, "video" | "audio") && id > 0).then_some(id)
        })
        .collect()
}

/// Checks one packaged file; `Err` says what is not exact.
/// One Representation against its input track: the same packets by FFmpeg's reading.
pub fn same_packets(
    input: &Path,
    out: &Path,
    rep: &dashpack::Representation,
) -> Result<(), String> {
    let one = joined(out, rep)?;
    let want = packets(input, rep.track_id, true)?;
    let got = packets(&one, 1, false)?;
    if want != got {
        return Err(format!(
            "{}: {} packets in, {} out, or their bytes differ",
            rep.id,
            want.len(),
            got.len()
        ));
    }
    Ok(())
}

/// The Representation's init and segments as one fragmented file beside the output.
pub fn joined(out: &Path, r: &dashpack::Representation) -> Result<std::path::PathBuf, String> {
    let mut joined = std::fs::read(out.join(&r.id).join("init.mp4")).map_err(|e| e.to_string())?;
    for n in 1..=r.segments {
        joined.extend(
            std::fs::read(out.join(&r.id).join(format!("seg-{n}.m4s")))
                .map_err(|e| e.to_string())?,
        );
    }
    let one = out.join(format!("{}.mp4", r.id));
    std::fs::write(&one, &joined).map_err(|e| e.to_string())?;
    Ok(one)
}

pub fn check(
    name: &str,
    reason: &str,
    input: &Path,
    out: &Path,
    p: &dashpack::Presentation,
) -> Result<(), String> {
    let carried: Vec<u32> = p.representations.iter().map(|r| r.track_id).collect();
    for id in av_tracks(input) {
        // Cover art and the like FFmpeg lists as video; the reason must name what is left.
        if !carried.contains(&id) && !reason.contains(&format!("track {id} ")) {
            return Err(format!(
                "track {id} is not in the output and the reason does not say why"
            ));
        }
    }
    for r in &p.representations {
        // The Representation as one fragmented file: init + every segment.
        let one = joined(out, r)?;
        let captions_added =
            reason.contains("c608") && r.content_type == dashpack::ContentType::Video;
        let (want, got) = match packets(input, r.track_id, true) {
            // A caption track's pairs are added to the pictures as SEI: without SEI, the
            // pictures are the input's (the captions are compared below).
            Ok(_) if captions_added => (
                packets_with(input, r.track_id, true, NO_SEI)?,
                packets_with(&one, 1, false, NO_SEI)?,
            ),
            Ok(want) => {
                let got = packets(&one, 1, false)
                    .map_err(|e| format!("FFmpeg cannot read {}: {e}", r.id))?;
                (want, got)
            }
            // FFmpeg 5.1 cannot read some inputs at all: then mp4-atom's strict reading
            // of the input and of the segments gives the samples.
            Err(e) => {
                let want = atom_input_samples(input, r.track_id).ok_or_else(|| {
                    format!(
                        "neither FFmpeg nor mp4-atom reads the input's track {}: {e}",
                        r.track_id
                    )
                })?;
                let got = segment_samples(out, r).iter().map(|d| digest(d)).collect();
                (want, got)
            }
        };
        if want.len() != got.len() {
            return Err(format!(
                "{}: {} packets in, {} out",
                r.id,
                want.len(),
                got.len()
            ));
        }
        if let Some(i) = (0..want.len()).find(|&i| want[i] != got[i]) {
            return Err(format!(
                "{}: packet {i} differs: {} in, {} out",
                r.id, want[i], got[i]
            ));
        }
    }
    if reason.contains("c608") {
        let video = p
            .representations
            .iter()
            .find(|r| r.content_type == dashpack::ContentType::Video)
            .ok_or("no video to carry the captions")?;
        let (from_track, from_pictures) = (
            caption_texts(&format!("{}", input.display()), false),
            caption_texts(&format!("{}", joined(out, video)?.display()), true),
        );
        if from_track.is_empty() || from_track != from_pictures {
            return Err(format!(
                "captions: {from_track:?} from the input's track, {from_pictures:?} from the output's pictures"
            ));
        }
    }
    let mpd_errors = decode_errors(&out.join(&p.mpd));
    if !mpd_errors.is_empty() {
        let input_errors = decode_errors(input);
        if input_errors.is_empty() {
            return Err(format!(
                "FFmpeg decodes the input cleanly but not the MPD: {mpd_errors}"
            ));
        }
        eprintln!("{name}: FFmpeg reports errors decoding the input too; not compared");
    }
    Ok(())
}
