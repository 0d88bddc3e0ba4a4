//! HLS playlists beside the MPD, over the same segments: every media playlist lists
//! exactly the Representation's segments with their durations (as the segments
//! themselves say, read with mp4-atom), the multivariant playlist names the right
//! codecs, resolution and bandwidth, and FFmpeg's HLS reader decodes the input's frames
//! from it. WebVTT sidecars appear in both manifests, byte for byte.
#![allow(clippy::unwrap_used)]

#[macro_use]
mod common;

use std::path::{Path, PathBuf};

use common::*;
use dashpack::{Options, Subtitles};

fn package(name: &str, subtitles: Vec<Subtitles>) -> (PathBuf, dashpack::Presentation) {
    package_as(name, name, subtitles)
}

/// The same into a folder of its own, for tests that package the same fixture at once.
fn package_as(
    folder: &str,
    name: &str,
    subtitles: Vec<Subtitles>,
) -> (PathBuf, dashpack::Presentation) {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("hls-{folder}"));
    let options = Options::default()
        .with_force(true)
        .with_hls(true)
        .with_subtitles(subtitles);
    let p = dashpack::package_files(&[fixture(name)], &dir, &options).unwrap();
    (dir, p)
}

/// `#EXTINF` durations and URIs of a media playlist, after checking its header.
fn media_playlist(path: &Path) -> Vec<(f64, String)> {
    let text = std::fs::read_to_string(path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "#EXTM3U");
    assert!(lines.contains(&"#EXT-X-PLAYLIST-TYPE:VOD"));
    assert_eq!(lines.last(), Some(&"#EXT-X-ENDLIST"));
    let target: f64 = lines
        .iter()
        .find_map(|l| l.strip_prefix("#EXT-X-TARGETDURATION:"))
        .unwrap()
        .parse()
        .unwrap();
    let mut out = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        if let Some(d) = l.strip_prefix("#EXTINF:") {
            let d: f64 = d.trim_end_matches(',').parse().unwrap();
            assert!(
                d.round() <= target,
                "EXTINF {d} rounds above the target {target}"
            );
            // The URI: the next line that is not a tag (EXT-X-BYTERANGE may come first).
            let uri = lines[i + 1..].iter().find(|l| !l.starts_with('#')).unwrap();
            out.push((d, uri.to_string()));
        }
    }
    out
}

/// The first frame FFmpeg decodes from `bytes` (an init segment and what follows), as
/// its `framemd5` hash. FFmpeg is told to be quiet: an I-frame's byte range ends inside
/// the `mdat` its header announces.
fn first_frame(dir: &Path, bytes: &[u8]) -> String {
    let file = dir.join("first-frame.tmp.mp4");
    std::fs::write(&file, bytes).unwrap();
    let out = std::process::Command::new("ffmpeg")
        .args(["-nostdin", "-v", "fatal", "-i"])
        .arg(&file)
        .args(["-map", "0:v:0", "-frames:v", "1", "-f", "framemd5", "-"])
        .output()
        .unwrap();
    std::fs::remove_file(&file).unwrap();
    let hashes = framemd5_sizes_and_hashes(&out.stdout);
    assert_eq!(hashes.len(), 1, "{}", String::from_utf8_lossy(&out.stderr));
    hashes[0].clone()
}

/// The I-frame playlist of a video Representation: listed in the multivariant
/// playlist, one entry per segment, each a byte range from the segment's start that
/// decodes alone (after the init segment) to the same picture as the whole segment's
/// first frame.
fn iframes_decode_alone(dir: &Path, rep: &dashpack::Representation, master: &str) {
    let uri = format!("{}/iframes.m3u8", rep.id);
    let listed = master
        .lines()
        .find(|l| l.starts_with("#EXT-X-I-FRAME-STREAM-INF:") && l.contains(&uri))
        .unwrap_or_else(|| panic!("{uri} not in {master}"));
    assert!(
        listed.contains(&format!("CODECS=\"{}\"", rep.codecs)),
        "{listed}"
    );
    let text = std::fs::read_to_string(dir.join(&uri)).unwrap();
    assert!(text.contains("\n#EXT-X-I-FRAMES-ONLY\n"), "{text}");
    let entries = media_playlist(&dir.join(&uri));
    assert_eq!(entries.len(), rep.segments as usize, "{uri}");
    let init = std::fs::read(dir.join(&rep.id).join("init.mp4")).unwrap();
    let ranges: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("#EXT-X-BYTERANGE:"))
        .collect();
    assert_eq!(ranges.len(), entries.len(), "{uri}: a byte range per entry");
    for ((_, file), range) in entries.iter().zip(ranges) {
        let (len, at) = range.split_once('@').unwrap();
        let (len, at): (usize, usize) = (len.parse().unwrap(), at.parse().unwrap());
        let segment = std::fs::read(dir.join(&rep.id).join(file)).unwrap();
        assert!(at + len < segment.len(), "{uri}: {range} inside {file}");
        let whole = [&init[..], &segment[..]].concat();
        let iframe = [&init[..], &segment[at..at + len]].concat();
        assert_eq!(
            first_frame(dir, &iframe),
            first_frame(dir, &whole),
            "{uri}: {file} {range}"
        );
    }
}

fn check(name: &str) {
    let (dir, p) = package(name, Vec::new());
    let master = std::fs::read_to_string(dir.join("master.m3u8")).unwrap();
    assert!(master.starts_with("#EXTM3U\n"));
    for rep in &p.representations {
        let playlist = dir.join(&rep.id).join("playlist.m3u8");
        let text = std::fs::read_to_string(&playlist).unwrap();
        assert!(text.contains("#EXT-X-MAP:URI=\"init.mp4\""));
        let entries = media_playlist(&playlist);
        assert_eq!(
            entries.len(),
            rep.segments as usize,
            "{}: one entry per segment",
            rep.id
        );
        for (k, (d, uri)) in entries.iter().enumerate() {
            let bytes = std::fs::read(dir.join(&rep.id).join(uri)).unwrap();
            let init = read_init(&std::fs::read(dir.join(&rep.id).join("init.mp4")).unwrap());
            let seg = read_segment(&bytes, 1);
            let ticks: u64 = seg.samples.iter().map(|s| u64::from(s.duration)).sum();
            let secs = ticks as f64 / f64::from(init.trak[0].mdia.mdhd.timescale);
            assert!(
                (d - secs).abs() < 1e-5,
                "{}: segment {k}: EXTINF {d} vs {secs} in the segment",
                rep.id
            );
        }
        // The multivariant playlist names this Representation with its codecs.
        assert!(master.contains(&format!("{}/playlist.m3u8", rep.id)));
        assert!(master.contains(&rep.codecs), "{} in {master}", rep.codecs);
        if let (Some(w), Some(h)) = (rep.width, rep.height) {
            assert!(master.contains(&format!("RESOLUTION={w}x{h}")));
            iframes_decode_alone(&dir, rep, &master);
        }
    }
    // BANDWIDTH covers the peak segment rate of the variant (video plus audio).
    let peak = |rep: &dashpack::Representation| -> f64 {
        let entries = media_playlist(&dir.join(&rep.id).join("playlist.m3u8"));
        entries
            .iter()
            .map(|(d, uri)| {
                std::fs::metadata(dir.join(&rep.id).join(uri))
                    .unwrap()
                    .len() as f64
                    * 8.0
                    / d
            })
            .fold(0.0, f64::max)
    };
    let audio_peak = p
        .representations
        .iter()
        .filter(|r| r.width.is_none())
        .map(peak)
        .fold(0.0, f64::max);
    for line in master
        .lines()
        .filter(|l| l.starts_with("#EXT-X-STREAM-INF:"))
    {
        let bw: f64 = line
            .split([':', ','])
            .find_map(|kv| kv.strip_prefix("BANDWIDTH="))
            .unwrap()
            .parse()
            .unwrap();
        let video = p.representations.iter().find(|r| r.width.is_some());
        let need = video.map_or(audio_peak, |v| peak(v) + audio_peak);
        assert!(
            bw >= need.floor(),
            "{line}: BANDWIDTH below the peak {need}"
        );
    }
    // FFmpeg's HLS reader decodes exactly the input's frames from the playlists.
    let input = fixture(name);
    let tracks = read_input(&std::fs::read(&input).unwrap());
    let master_path = dir.join("master.m3u8");
    if tracks.iter().any(|t| t.video) {
        assert_eq!(
            frame_hashes(&master_path, "0:v:0"),
            frame_hashes(&input, "0:v:0"),
            "{name}: video frames"
        );
    }
    // Every audio sample decodes. HLS has no presentationTimeOffset, so the encoder
    // priming the input's edit list hides is decoded too: compare with the samples.
    if let Some(audio) = tracks.iter().find(|t| !t.video) {
        assert_eq!(
            frame_hashes(&master_path, "0:a:0").len(),
            audio.samples.len(),
            "{name}: audio frames"
        );
    }
}

#[test]
fn h264_aac() {
    check("h264_aac.mp4");
}

#[test]
fn hevc_aac() {
    check("hevc_aac.mp4");
}

#[test]
fn audio_only() {
    check("audio_only.m4a");
}

#[test]
fn av1_opus() {
    check("av1_opus.mp4");
}

#[test]
fn subtitles_in_both_manifests() {
    let vtt = "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nHello\n";
    let subs = vec![
        Subtitles::from_text("en.vtt", "eng", vtt.into()).unwrap(),
        Subtitles::from_text("de.vtt", "de", vtt.replace("Hello", "Hallo")).unwrap(),
    ];
    let (dir, p) = package_as("subtitles", "h264_aac.mp4", subs);
    let mpd = dash_mpd::parse(&std::fs::read_to_string(dir.join(&p.mpd)).unwrap()).unwrap();
    // The file as given, with the one header line HLS needs: cue time 0 is the media
    // time where the audio and video start the presentation (their DASH
    // presentationTimeOffset), in 90 kHz.
    let (start, tick) = media_start(&mpd);
    assert!(
        start > 0.0,
        "h264_aac's AAC priming is hidden by a shared offset"
    );
    let written = std::fs::read_to_string(dir.join("text-1/subtitles.vtt")).unwrap();
    let (head, rest) = written.split_once("\n\n").unwrap();
    assert_eq!(format!("\n\n{rest}"), vtt.strip_prefix("WEBVTT").unwrap());
    let mpegts: f64 = head
        .strip_prefix("WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:")
        .and_then(|m| m.strip_suffix(",LOCAL:00:00:00.000"))
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (mpegts / 90_000.0 - start).abs() <= tick,
        "{head}: the media start is {start} s"
    );
    let texts: Vec<_> = mpd.periods[0]
        .adaptations
        .iter()
        .filter(|a| a.contentType.as_deref() == Some("text"))
        .collect();
    assert_eq!(texts.len(), 2);
    assert_eq!(texts[0].lang.as_deref(), Some("en"));
    assert_eq!(texts[0].mimeType.as_deref(), Some("text/vtt"));
    assert_eq!(
        texts[0].representations[0].BaseURL[0].base,
        "text-1/subtitles.vtt"
    );
    assert_eq!(texts[1].lang.as_deref(), Some("de"));
    let master = std::fs::read_to_string(dir.join("master.m3u8")).unwrap();
    assert!(master.contains("TYPE=SUBTITLES,GROUP-ID=\"subs\",NAME=\"text-1\",LANGUAGE=\"en\""));
    assert!(master.contains("SUBTITLES=\"subs\""));
    let entries = media_playlist(&dir.join("text-1/playlist.m3u8"));
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].1, "subtitles.vtt");
    assert!((entries[0].0 - p.duration).abs() < 1e-5);
}

#[test]
fn encrypted_playlists_name_the_method_and_key_id() {
    let widevine =
        dashpack::Pssh::from_base64("AAAAJHBzc2gAAAAA7e+LqXnWSs6jyCfc1R0h7QAAAAQBAgME").unwrap();
    for (scheme, method) in [
        (dashpack::Scheme::Cenc, "SAMPLE-AES-CTR"),
        (dashpack::Scheme::Cbcs, "SAMPLE-AES"),
    ] {
        let options = Options::default()
            .with_hls(true)
            .with_force(true)
            .with_encryption(Some(
                dashpack::Encryption::new(
                    scheme,
                    vec![
                        "0123456789abcdef0123456789abcdef:00112233445566778899aabbccddeeff"
                            .parse()
                            .unwrap(),
                    ],
                )
                .with_pssh(vec![widevine.clone()]),
            ));
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("hls-enc-{method}"));
        dashpack::package_files(&[fixture("h264_aac.mp4")], &dir, &options).unwrap();
        for rep in ["video-1", "audio-1"] {
            let text = std::fs::read_to_string(dir.join(rep).join("playlist.m3u8")).unwrap();
            let lines: Vec<&str> = text.lines().collect();
            let keys: Vec<usize> = (0..lines.len())
                .filter(|&i| lines[i].starts_with("#EXT-X-KEY:"))
                .collect();
            let map = lines
                .iter()
                .position(|l| l.starts_with("#EXT-X-MAP:"))
                .unwrap();
            assert_eq!(keys.len(), 2, "{text}");
            assert!(
                keys.iter().all(|&i| i < map),
                "keys cover the init segment too"
            );
            let clearkey = lines[keys[0]];
            assert!(
                clearkey.contains(&format!("METHOD={method},")),
                "{clearkey}"
            );
            assert!(clearkey.contains("KEYFORMAT=\"org.w3.clearkey\""));
            assert!(clearkey.contains("KEYID=0x0123456789abcdef0123456789abcdef"));
            assert!(clearkey.contains("URI=\"data:text/plain;base64,ASNFZ4mrze8BI0VniavN7w==\""));
            let wv = lines[keys[1]];
            assert!(wv.contains("KEYFORMAT=\"urn:uuid:edef8ba9-79d6-4ace-a3c8-27dcd51d21ed\""));
            assert!(wv.contains(&widevine_b64()));
            assert!(
                !text.contains("00112233445566778899aabbccddeeff"),
                "no key in a playlist"
            );
        }
    }
}

fn widevine_b64() -> String {
    "AAAAJHBzc2gAAAAA7e+LqXnWSs6jyCfc1R0h7QAAAAQBAgME".to_string()
}

#[test]
fn a_ttml_file_is_imsc1_in_fmp4_for_hls() {
    let ttml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<tt xmlns=\"http://www.w3.org/ns/ttml\" \
                xml:lang=\"de\"><body><div><p begin=\"00:00:02.000\" end=\"00:00:04.000\">Hallo</p>\
                </div></body></tt>\n";
    let subs = vec![Subtitles::from_bytes("de.ttml", "de", ttml.into()).unwrap()];
    let (dir, p) = package_as("ttml", "h264_aac.mp4", subs);
    // DASH: the file as it is.
    assert_eq!(
        std::fs::read_to_string(dir.join("text-1/subtitles.ttml")).unwrap(),
        ttml
    );
    let mpd = std::fs::read_to_string(dir.join(&p.mpd)).unwrap();
    assert!(mpd.contains("application/ttml+xml"), "{mpd}");
    // HLS: IMSC1 in fMP4, one segment of the whole document over the presentation.
    let master = std::fs::read_to_string(dir.join("master.m3u8")).unwrap();
    assert!(
        master.contains("TYPE=SUBTITLES,GROUP-ID=\"subs\",NAME=\"text-1\",LANGUAGE=\"de\""),
        "{master}"
    );
    assert!(master.contains(",stpp.ttml.im1t\""), "{master}");
    let playlist = std::fs::read_to_string(dir.join("text-1/playlist.m3u8")).unwrap();
    assert!(
        playlist.contains("#EXT-X-MAP:URI=\"init.mp4\""),
        "{playlist}"
    );
    let entries = media_playlist(&dir.join("text-1/playlist.m3u8"));
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].1, "seg-1.m4s");
    assert!((entries[0].0 - p.duration).abs() < 1e-5);
    // mp4-atom reads both strictly: one sample, the document, over the presentation.
    let init = read_init(&std::fs::read(dir.join("text-1/init.mp4")).unwrap());
    assert_eq!(init.trak[0].mdia.mdhd.timescale, 1000);
    let seg = read_segment(&std::fs::read(dir.join("text-1/seg-1.m4s")).unwrap(), 1);
    assert_eq!(seg.samples.len(), 1);
    assert_eq!(seg.samples[0].data, ttml.as_bytes());
    assert_eq!(
        u64::from(seg.samples[0].duration),
        (p.duration * 1000.0).ceil() as u64
    );
    // FFmpeg reads one packet, the document, from init + segment.
    let mut joined = std::fs::read(dir.join("text-1/init.mp4")).unwrap();
    joined.extend(std::fs::read(dir.join("text-1/seg-1.m4s")).unwrap());
    let one = dir.join("text-1.mp4");
    std::fs::write(&one, &joined).unwrap();
    let probe = common::run(
        std::process::Command::new("ffprobe")
            .args([
                "-v",
                "error",
                "-show_entries",
                "stream=codec_name,codec_tag_string:stream_tags=language",
            ])
            .args([
                "-show_entries",
                "packet=pts_time,duration_time",
                "-of",
                "csv=p=0",
            ])
            .arg(&one),
    );
    let probe = String::from_utf8(probe).unwrap();
    // FFmpeg 5.1 names no decoder for `stpp`; its tag and language it reads.
    assert!(probe.contains(",stpp,deu"), "{probe}");
    let data = common::run(
        std::process::Command::new("ffmpeg")
            .args(["-nostdin", "-v", "error", "-i"])
            .arg(&one)
            .args(["-map", "0", "-c", "copy", "-f", "data", "-"]),
    );
    assert_eq!(String::from_utf8(data).unwrap(), ttml);
}

/// The one presentationTimeOffset (seconds) of every audio and video Representation,
/// each within a tick (of the coarsest timescale, returned too) of the others.
fn media_start(mpd: &dash_mpd::MPD) -> (f64, f64) {
    let mut starts = Vec::new();
    for a in &mpd.periods[0].adaptations {
        let kind = a.contentType.as_deref();
        if !matches!(kind, Some("audio" | "video")) {
            continue;
        }
        for r in &a.representations {
            let t = r.SegmentTemplate.as_ref().or(a.SegmentTemplate.as_ref());
            let t = t.unwrap();
            let ts = t.timescale.unwrap() as f64;
            starts.push((t.presentationTimeOffset.unwrap_or(0) as f64 / ts, 1.0 / ts));
        }
    }
    let (first, _) = starts[0];
    let tick = starts.iter().map(|s| s.1).fold(0.0, f64::max);
    for (s, _) in &starts {
        assert!((s - first).abs() <= tick, "one media start: {starts:?}");
    }
    (first, tick)
}

/// HLS has no presentationTimeOffset: players line tracks up by the media times in the
/// segments. So every presented sample of every audio and video track is at its
/// input's presentation time (as the edit lists place it) plus one offset that all the
/// tracks share, within a tick of each track. Fails when the AAC priming, or the frames
/// kept before a video edit's start, move one track against another.
#[test]
fn audio_and_video_keep_their_sync_in_hls() {
    for name in [
        "h264_aac.mp4",
        "edits/edit_start_mid_gop.mp4",
        "edits/edit_audio_delayed_cut.mp4",
        "audio_delayed.mp4",
    ] {
        let (dir, p) = package_as(
            &format!("sync-{}", name.replace('/', "-")),
            name,
            Vec::new(),
        );
        let input = read_input(&std::fs::read(fixture(name)).unwrap());
        let mut offsets: Vec<(f64, f64)> = Vec::new();
        for (k, t) in input.iter().enumerate() {
            let same_kind = input[..k].iter().filter(|u| u.video == t.video).count();
            let rep = p
                .representations
                .iter()
                .filter(|r| r.width.is_some() == t.video)
                .nth(same_kind)
                .unwrap();
            let folder = dir.join(&rep.id);
            let got: Vec<OutSample> = media_playlist(&folder.join("playlist.m3u8"))
                .iter()
                .flat_map(|(_, uri)| {
                    read_segment(&std::fs::read(folder.join(uri)).unwrap(), 1).samples
                })
                .collect();
            assert_eq!(
                got.len(),
                t.samples.len(),
                "{name} {}: every sample",
                rep.id
            );
            let ts = f64::from(t.timescale);
            let at: Vec<f64> = got
                .iter()
                .zip(&t.samples)
                .filter(|(_, i)| i.cts >= t.media_time)
                .map(|(o, i)| o.pt() as f64 / ts - t.presentation(i.cts))
                .collect();
            let (lo, hi) = at
                .iter()
                .fold((f64::MAX, f64::MIN), |(lo, hi), &x| (lo.min(x), hi.max(x)));
            assert!(hi - lo < 1e-6, "{name} {}: one offset ({lo}..{hi})", rep.id);
            offsets.push((lo, 1.0 / ts));
        }
        assert!(offsets.len() >= 2, "{name}: audio and video");
        let tolerance = offsets.iter().map(|o| o.1).fold(0.0, f64::max) * 1.5;
        for o in &offsets {
            assert!(
                (o.0 - offsets[0].0).abs() <= tolerance,
                "{name}: tracks moved against each other in HLS: {offsets:?}"
            );
        }
    }
}
