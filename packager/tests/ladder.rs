//! The ABR ladder (the `transcode` feature): each rung, read strictly by mp4-atom and
//! decoded by FFmpeg, holds every frame of the source in order, at its size, close to
//! the source (PSNR against the source scaled the same way); every segment of every
//! rung starts with an IDR frame at the same time as the audio's; a source stored
//! sideways (HEVC from a phone) comes out upright; a cancelled ladder stops.
#![cfg(feature = "transcode")]
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use dashpack::{ContentType, Error, Input, Ladder, MemorySink, Options, RunControl};

fn out_dir(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name)
}

fn ladder(spec: &str) -> Ladder {
    spec.parse::<Ladder>()
        .unwrap()
        .with_preset("veryfast")
        .unwrap()
}

/// Frames FFmpeg decodes from a file.
fn frame_count(file: &Path) -> u64 {
    let out = common::run(
        Command::new("ffprobe")
            .args(["-v", "error", "-count_frames"])
            .args([
                "-select_streams",
                "v:0",
                "-show_entries",
                "stream=nb_read_frames",
                "-of",
                "csv=p=0",
            ])
            .arg(file),
    );
    // Side data (a rotation) may follow the count on its line.
    let text = String::from_utf8_lossy(&out);
    let digits: String = text
        .trim()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits
        .parse()
        .unwrap_or_else(|_| panic!("no frame count in {text}"))
}

/// Average PSNR (dB) of `rung` against `source` decoded (and turned upright) by FFmpeg
/// and scaled to the rung's size, frame by frame in order.
fn psnr(rung: &Path, source: &Path, width: u32, height: u32) -> f64 {
    let graph = format!(
        "[1:v]scale={width}:{height}:flags=bicubic,setpts=N[ref];[0:v]setpts=N[out];[out][ref]psnr"
    );
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "info", "-i"])
        .arg(rung)
        .arg("-i")
        .arg(source)
        .args(["-lavfi", &graph, "-f", "null", "-"])
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    let avg = log
        .split("average:")
        .nth(1)
        .unwrap_or_else(|| panic!("no PSNR in {log}"));
    avg.split_whitespace().next().unwrap().parse().unwrap()
}

#[test]
fn every_rung_holds_every_frame_close_to_the_source_with_aligned_idr_segments() {
    let source = common::fixture("h264_aac.mp4");
    let out = out_dir("ladder_h264");
    let options = Options::default()
        .with_force(true)
        .with_segment_duration(2.0)
        .with_ladder(ladder("180:400k,120:150k"));
    let p = dashpack::package_files(&[&source], &out, &options).unwrap();
    let videos: Vec<_> = p
        .representations
        .iter()
        .filter(|r| r.content_type == ContentType::Video)
        .collect();
    let sizes: Vec<(u32, u32)> = videos
        .iter()
        .map(|r| (r.width.unwrap(), r.height.unwrap()))
        .collect();
    assert_eq!(sizes, [(320, 180), (214, 120)]);
    let audio = p
        .representations
        .iter()
        .find(|r| r.content_type == ContentType::Audio)
        .unwrap();
    let source_frames = frame_count(&source);
    let mut starts: Vec<Vec<f64>> = Vec::new();
    for r in &videos {
        assert!(r.codecs.starts_with("avc1.64"), "{}", r.codecs);
        let init = std::fs::read(out.join(&r.id).join("init.mp4")).unwrap();
        let moov = common::read_init(&init);
        let timescale = f64::from(moov.trak[0].mdia.mdhd.timescale);
        let mut times = Vec::new();
        for n in 1..=r.segments {
            let bytes = std::fs::read(out.join(&r.id).join(format!("seg-{n}.m4s"))).unwrap();
            let seg = common::read_segment(&bytes, 1);
            assert!(
                seg.samples[0].is_sync(),
                "{} segment {n} starts with a keyframe",
                r.id
            );
            let first = seg.samples.iter().map(|s| s.pt()).min().unwrap();
            assert_eq!(first, seg.samples[0].pt(), "the keyframe is shown first");
            times.push(first as f64 / timescale);
        }
        starts.push(times);
        let joined = common::exact::joined(&out, r).unwrap();
        assert_eq!(frame_count(&joined), source_frames, "{}", r.id);
        let db = psnr(&joined, &source, r.width.unwrap(), r.height.unwrap());
        assert!(db > 32.0, "{}: PSNR {db:.2} dB", r.id);
    }
    assert_eq!(starts[0], starts[1], "rungs cut at the same times");
    assert_eq!(
        starts[0].len(),
        6,
        "2 s segments of a 12 s source: {:?}",
        starts[0]
    );
    assert_eq!(
        audio.segments, videos[0].segments,
        "audio follows the video's cuts"
    );
    assert!(common::mpd_schema_error(&out.join(&p.mpd)).is_none());
}

#[test]
fn a_sideways_hevc_source_becomes_upright_h264() {
    // HEVC stored 320x180 with a quarter turn in its track matrix.
    let source = common::fixture("phone.mov");
    let out = out_dir("ladder_phone");
    let options = Options::default()
        .with_force(true)
        .with_ladder(ladder("auto"));
    let p = dashpack::package_files(&[&source], &out, &options).unwrap();
    let video = p
        .representations
        .iter()
        .find(|r| r.content_type == ContentType::Video)
        .unwrap();
    assert_eq!((video.width, video.height), (Some(180), Some(320)));
    assert!(video.codecs.starts_with("avc1."), "{}", video.codecs);
    let init = std::fs::read(out.join(&video.id).join("init.mp4")).unwrap();
    let moov = common::read_init(&init);
    let tkhd = &moov.trak[0].tkhd;
    assert_eq!(
        (tkhd.matrix.a, tkhd.matrix.b, tkhd.matrix.c, tkhd.matrix.d),
        (0x10000, 0, 0, 0x10000),
        "no turn left for the player"
    );
    let joined = common::exact::joined(&out, video).unwrap();
    assert_eq!(frame_count(&joined), frame_count(&source));
    // FFmpeg turns the source by its matrix: the rung must match it upright.
    let db = psnr(&joined, &source, 180, 320);
    assert!(
        db > 30.0,
        "PSNR {db:.2} dB against the source turned upright"
    );
}

#[test]
fn a_cancelled_ladder_stops_with_its_decoder() {
    let input = Input::open(common::fixture("hevc_aac.mp4")).unwrap();
    let cancel = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&cancel);
    let run = RunControl::default()
        .with_progress(move |_| flag.store(true, Ordering::SeqCst))
        .with_cancel(Arc::clone(&cancel));
    let sink = MemorySink::new();
    let options = Options::default().with_ladder(ladder("180:300k,120:100k"));
    let err = dashpack::package(&[input], &sink, &options, &run).unwrap_err();
    assert!(matches!(err, Error::Cancelled), "{err}");
    assert!(
        !sink.into_files().keys().any(|k| k.ends_with(".mpd")),
        "no MPD for a cancelled call"
    );
}

#[test]
fn video_no_player_decodes_is_carried_only_through_the_ladder() {
    // H.263's QCIF has 12:11 pixels (in its picture headers, not in the sample entry):
    // square-pixel rungs are 192 wide.
    for (file, size) in [("mpeg4_aac.mp4", (320, 180)), ("h263_aac.3gp", (192, 144))] {
        let source = common::fixture(file);
        let out = out_dir(&format!("ladder_legacy_{file}"));
        // Without a ladder: refused by name, nothing published.
        let plain = Options::default().with_force(true);
        let err = dashpack::package_files(&[&source], &out, &plain).unwrap_err();
        assert!(
            matches!(&err, Error::UncarriedTrack { track: 1, .. })
                && err.to_string().contains("carried only encoded to H.264"),
            "{file}: {err}"
        );
        let options = plain.with_ladder(ladder("auto"));
        let p = dashpack::package_files(&[&source], &out, &options).unwrap();
        let video = p
            .representations
            .iter()
            .find(|r| r.content_type == ContentType::Video)
            .unwrap();
        assert!(
            video.codecs.starts_with("avc1."),
            "{file}: {}",
            video.codecs
        );
        assert_eq!((video.width, video.height), (Some(size.0), Some(size.1)));
        let joined = common::exact::joined(&out, video).unwrap();
        assert_eq!(frame_count(&joined), frame_count(&source), "{file}");
        let db = psnr(&joined, &source, size.0, size.1);
        assert!(db > 28.0, "{file}: PSNR {db:.2} dB");
    }
}

#[test]
fn a_tiny_rung_never_gets_a_level_browsers_refuse() {
    // x264 gives 120x90 level 1b, which High profile writes as level_idc 9: Chromium
    // refuses `avc1.640009`, so dash.js and Shaka would not play the rung.
    let out = out_dir("ladder_tiny");
    let options = Options::default()
        .with_force(true)
        .with_ladder(ladder("90:80k"));
    let p = dashpack::package_files(&[common::fixture("h263_aac.3gp")], &out, &options).unwrap();
    let video = p
        .representations
        .iter()
        .find(|r| r.content_type == ContentType::Video)
        .unwrap();
    assert_eq!((video.width, video.height), (Some(120), Some(90)));
    assert_eq!(video.codecs, "avc1.64000B", "level 1.1");
}

#[test]
fn compat_encodes_only_what_a_browser_may_not_play_and_keeps_hevc_beside() {
    let compat = ladder("compat");
    // HEVC: H.264 rungs, and the HEVC itself in an AdaptationSet of its own.
    let sink = MemorySink::new();
    let input = Input::open(common::fixture("hevc_aac.mp4")).unwrap();
    let options = Options::default().with_ladder(compat.clone());
    let p = dashpack::package(&[input], &sink, &options, &RunControl::default()).unwrap();
    let codecs: Vec<&str> = p
        .representations
        .iter()
        .filter(|r| r.content_type == ContentType::Video)
        .map(|r| &r.codecs[..4])
        .collect();
    assert_eq!(codecs, ["avc1", "hvc1"]);
    let files = sink.into_files();
    let mpd = String::from_utf8(files[&p.mpd].clone()).unwrap();
    assert_eq!(mpd.matches("contentType=\"video\"").count(), 2, "{mpd}");
    // H.264: published exactly as without a ladder.
    let plain = MemorySink::new();
    let with = MemorySink::new();
    for (sink, options) in [
        (&plain, Options::default()),
        (&with, Options::default().with_ladder(compat)),
    ] {
        let input = Input::open(common::fixture("h264_aac.mp4")).unwrap();
        dashpack::package(&[input], sink, &options, &RunControl::default()).unwrap();
    }
    assert_eq!(plain.into_files(), with.into_files());
}

/// A picture as 8-bit grey pixels, from FFmpeg: `filter` picks and shapes it.
fn grey(file: &Path, filter: &str) -> Vec<u8> {
    common::run(
        Command::new("ffmpeg")
            .args(["-nostdin", "-v", "error", "-i"])
            .arg(file)
            .args(["-vf", filter, "-frames:v", "1"])
            .args(["-pix_fmt", "gray", "-f", "rawvideo", "-"]),
    )
}

fn psnr_of(a: &[u8], b: &[u8]) -> f64 {
    assert_eq!(a.len(), b.len());
    let mse = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| (f64::from(x) - f64::from(y)).powi(2))
        .sum::<f64>()
        / a.len() as f64;
    10.0 * (255.0f64 * 255.0 / mse.max(1e-9)).log10()
}

#[test]
fn thumbnail_tiles_show_the_picture_at_each_segment_start() {
    let source = common::fixture("h264_aac.mp4");
    let out = out_dir("ladder_thumbnails");
    let options = Options::default()
        .with_force(true)
        .with_segment_duration(2.0)
        .with_ladder(ladder("120:150k"));
    let p = dashpack::package_files(&[&source], &out, &options).unwrap();
    let image = p
        .representations
        .iter()
        .find(|r| r.content_type == ContentType::Image)
        .expect("a thumbnail Representation");
    // 320x180 shown: 256x144 thumbnails, 5x5 to a tile; 12 s every 2 s is 6, one tile.
    assert_eq!((image.width, image.height), (Some(1280), Some(720)));
    assert_eq!(image.segments, 1);
    assert!(image.bandwidth > 0);
    let mpd = std::fs::read_to_string(out.join(&p.mpd)).unwrap();
    for want in [
        r#"contentType="image" mimeType="image/jpeg""#,
        r#"<EssentialProperty schemeIdUri="http://dashif.org/thumbnail_tile" value="5x5"/>"#,
        r#"media="image-1/tile-$Number$.jpg""#,
        r#"duration="50""#,
    ] {
        assert!(mpd.contains(want), "{want} in\n{mpd}");
    }
    let tile = out.join("image-1/tile-1.jpg");
    assert!(!out.join("image-1/tile-2.jpg").exists());
    // Each thumbnail against the source's frame at its time (every 50th at 25 fps) and
    // against the frame a second later: it is the right picture, not just a picture.
    for k in 0..6u32 {
        let (x, y) = (k % 5 * 256, k / 5 * 144);
        let thumb = grey(&tile, &format!("crop=256:144:{x}:{y}"));
        let frame = |n: u32| {
            grey(
                &source,
                &format!("select=eq(n\\,{n}),scale=256:144:flags=bicubic"),
            )
        };
        let right = psnr_of(&thumb, &frame(50 * k));
        let wrong = psnr_of(&thumb, &frame(50 * k + 25));
        assert!(
            right > 30.0 && right > wrong + 3.0,
            "thumbnail {k}: {right:.1} dB against its frame, {wrong:.1} dB a second later"
        );
    }
    // The cells after the last thumbnail stay black.
    let empty = grey(&tile, "crop=256:144:1024:144");
    assert!(empty.iter().all(|&v| v < 24), "an empty cell is black");
}

/// Mono 16-bit samples FFmpeg decodes from `file`'s first audio stream at `rate`.
fn mono_pcm(file: &Path, rate: u32) -> Vec<f64> {
    let out = common::run(
        Command::new("ffmpeg")
            .args(["-nostdin", "-v", "error", "-i"])
            .arg(file)
            .args(["-map", "0:a:0", "-ac", "1", "-ar", &rate.to_string()])
            .args(["-f", "s16le", "-"]),
    );
    out.chunks_exact(2)
        .map(|b| f64::from(i16::from_le_bytes([b[0], b[1]])))
        .collect()
}

/// The normalised correlation of two signals at lag 0 (1: the same wave, in time).
fn correlation(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    let dot: f64 = a[..n].iter().zip(&b[..n]).map(|(x, y)| x * y).sum();
    let ea: f64 = a[..n].iter().map(|x| x * x).sum();
    let eb: f64 = b[..n].iter().map(|x| x * x).sum();
    dot / (ea * eb).sqrt().max(1e-9)
}

/// A Representation's init and media segments as one file.
fn joined(out: &Path, rep: &dashpack::Representation) -> PathBuf {
    let mut bytes = std::fs::read(out.join(&rep.id).join("init.mp4")).unwrap();
    for n in 1..=rep.segments {
        bytes.extend(std::fs::read(out.join(&rep.id).join(format!("seg-{n}.m4s"))).unwrap());
    }
    let file = out.join(format!("{}-joined.mp4", rep.id));
    std::fs::write(&file, bytes).unwrap();
    file
}

/// `presentationTimeOffset` of the AdaptationSet holding `rep` (0 when absent).
fn pto(mpd: &str, rep: &str) -> usize {
    let at = mpd.find(&format!("<Representation id=\"{rep}\"")).unwrap();
    let set = &mpd[..at];
    let set = &set[set.rfind("<AdaptationSet").unwrap()..];
    let rest = &mpd[at..];
    [set, &rest[..rest.find("</Representation>").unwrap()]]
        .iter()
        .find_map(|s| {
            let i = s.find("presentationTimeOffset=\"")? + 24;
            s[i..].split('"').next()?.parse().ok()
        })
        .unwrap_or(0)
}

/// The first audio track's samples as a raw AMR file (RFC 4867 5.1), read by mp4-atom:
/// FFmpeg's MP4 reader joins a 3GP chunk's AMR samples into one packet and decodes only
/// its first frame, so it cannot be the reference for such a file.
fn raw_amr(source: &Path, out: &Path) -> PathBuf {
    let bytes = std::fs::read(source).unwrap();
    let moov = common::read_input_moov(&bytes);
    let trak = moov
        .trak
        .iter()
        .find(|t| t.mdia.hdlr.handler == b"soun".into())
        .unwrap();
    let (offsets, sizes) = common::sample_offsets(&trak.mdia.minf.stbl);
    let mut amr = b"#!AMR\n".to_vec();
    for (&at, &size) in offsets.iter().zip(&sizes) {
        amr.extend_from_slice(&bytes[at as usize..at as usize + size as usize]);
    }
    let file = out.join("source.amr");
    std::fs::write(&file, amr).unwrap();
    file
}

#[test]
fn audio_that_is_not_aac_becomes_aac_lc_in_time_with_the_source() {
    let scratch = out_dir("ladder_audio_inputs");
    std::fs::create_dir_all(&scratch).unwrap();
    // 5.1 AC-3: mixed down to stereo AAC, and kept beside it.
    let surround = scratch.join("ac3_51.mp4");
    common::run(
        Command::new("ffmpeg")
            .args(["-nostdin", "-v", "error", "-y", "-f", "lavfi"])
            .args([
                "-i",
                "sine=frequency=440:beep_factor=4:sample_rate=48000:duration=6",
            ])
            .args(["-ac", "6", "-c:a", "ac3", "-b:a", "384k"])
            .arg(&surround),
    );
    let cases: Vec<(PathBuf, u32, u16, usize)> = vec![
        (common::fixture("h264_mp3.mp4"), 48_000, 1, 1),
        (common::fixture("vp9_flac.mp4"), 48_000, 1, 1),
        (common::fixture("av1_opus.mp4"), 48_000, 1, 1),
        (common::fixture("h264_alac.mp4"), 48_000, 1, 1),
        (common::fixture("audio_eac3.mp4"), 48_000, 2, 1),
        (surround, 48_000, 2, 2),
        // A phone's 3GP: H.263 video, AMR-NB audio at 8 kHz.
        (
            common::fixture("realworld/mp4parser__MOV00006.3gp"),
            8_000,
            1,
            1,
        ),
    ];
    for (source, rate, channels, audio_reps) in cases {
        let name = source.file_stem().unwrap().to_string_lossy().to_string();
        let out = out_dir(&format!("ladder_audio_{name}"));
        let options = Options::default()
            .with_force(true)
            .with_ladder(ladder("90:80k"));
        let p = dashpack::package_files(&[&source], &out, &options).unwrap();
        let audio: Vec<_> = p
            .representations
            .iter()
            .filter(|r| r.content_type == ContentType::Audio)
            .collect();
        assert_eq!(audio.len(), audio_reps, "{name}: {audio:?}");
        let aac = audio[0];
        assert_eq!(aac.codecs, "mp4a.40.2", "{name}");
        assert_eq!(
            (aac.sample_rate, aac.channels),
            (Some(rate), Some(channels)),
            "{name}"
        );
        if audio_reps == 2 {
            assert_eq!(audio[1].codecs, "ac-3", "{name}: the source kept");
            assert_eq!(audio[1].channels, Some(6), "{name}");
        }
        // Decoded, less the priming the MPD's offset hides, the AAC is the source's
        // wave at the same times, for its whole length.
        let mpd = std::fs::read_to_string(out.join(&p.mpd)).unwrap();
        let skip = pto(&mpd, &aac.id);
        assert!(
            skip >= 1024,
            "{name}: the encoder's priming is hidden ({skip})"
        );
        let decoded = mono_pcm(&joined(&out, aac), rate);
        let decoded = &decoded[skip..];
        // As long as the source presents (its edit list applied), within two AAC
        // packets (the last is padded).
        let presented = common::run(
            Command::new("ffprobe")
                .args(["-v", "error", "-select_streams", "a:0"])
                .args(["-show_entries", "stream=duration", "-of", "csv=p=0"])
                .arg(&source),
        );
        // Side data may follow on the line (`4.000000,`).
        let text = String::from_utf8_lossy(&presented);
        let seconds: f64 = text.trim().split(',').next().unwrap().parse().unwrap();
        let want_len = (seconds * f64::from(rate)).round() as usize;
        assert!(
            decoded.len() >= want_len && decoded.len() <= want_len + 2048,
            "{name}: {} samples decoded for {want_len} presented",
            decoded.len()
        );
        let want = if name.ends_with("MOV00006") {
            mono_pcm(&raw_amr(&source, &out), rate)
        } else {
            mono_pcm(&source, rate)
        };
        let rms = |v: &[f64]| (v.iter().map(|x| x * x).sum::<f64>() / v.len().max(1) as f64).sqrt();
        if rms(&want) < 30.0 {
            // This phone clip's AMR is silence (DTX frames) throughout: so is the AAC.
            assert!(rms(decoded) < 30.0, "{name}: {} from silence", rms(decoded));
            continue;
        }
        let r = correlation(decoded, &want);
        let shifted = correlation(&decoded[rate as usize / 100..], &want);
        assert!(
            r > 0.9 && r > shifted + 0.2,
            "{name}: correlation {r:.3} in time, {shifted:.3} 10 ms off"
        );
    }
}
