//! Timed-text tracks inside the input (`tx3g`, FFmpeg's `mov_text`) and SubRip sidecars:
//! converted to a WebVTT text AdaptationSet whose cues are FFmpeg's own reading of the
//! source (times to the millisecond, text without markup) and which FFmpeg reads back
//! to the same cues; chapter titles left out with a warning.
#![allow(clippy::unwrap_used)]

mod common;

use std::process::Command;

use common::*;
use dashpack::{ContentType, Input, MemorySink, Options, Subtitles};

/// FFmpeg's WebVTT rendering of a subtitle file or stream.
fn ffmpeg_webvtt(input: &std::path::Path, map: Option<&str>) -> String {
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-v", "error", "-i"]).arg(input);
    if let Some(m) = map {
        cmd.args(["-map", m]);
    }
    let out = cmd.args(["-f", "webvtt", "-"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// (start ms, end ms, text) of a WebVTT file, markup removed and entities decoded.
fn cues(vtt: &str) -> Vec<(u64, u64, String)> {
    let ms = |t: &str| {
        let parts: Vec<&str> = t.trim().split(':').collect();
        let (h, m, s) = match parts.as_slice() {
            [h, m, s] => (h.parse::<u64>().unwrap(), m.parse::<u64>().unwrap(), *s),
            [m, s] => (0, m.parse::<u64>().unwrap(), *s),
            _ => panic!("timestamp {t}"),
        };
        let (sec, milli) = s.split_once('.').unwrap();
        ((h * 60 + m) * 60 + sec.parse::<u64>().unwrap()) * 1000 + milli.parse::<u64>().unwrap()
    };
    let plain = |line: &str| {
        let mut out = String::new();
        let mut in_tag = false;
        for c in line.chars() {
            match c {
                '<' => in_tag = true,
                '>' if in_tag => in_tag = false,
                c if !in_tag => out.push(c),
                _ => {}
            }
        }
        out.replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&")
    };
    let mut out = Vec::new();
    for block in vtt.replace("\r\n", "\n").split("\n\n") {
        let lines: Vec<&str> = block.lines().collect();
        let Some(i) = lines.iter().position(|l| l.contains("-->")) else {
            continue;
        };
        let (a, b) = lines[i].split_once("-->").unwrap();
        let b = b.split_whitespace().next().unwrap();
        let text: Vec<String> = lines[i + 1..].iter().map(|l| plain(l)).collect();
        out.push((ms(a), ms(b), text.join("\n")));
    }
    out
}

#[test]
fn tx3g_becomes_webvtt_as_ffmpeg_reads_it() {
    let name = "h264_aac_tx3g.mp4";
    let bytes = std::fs::read(fixture(name)).unwrap();
    let sink = MemorySink::new();
    let p = dashpack::package(
        &[Input::from_bytes(name, bytes)],
        &sink,
        &Options::default(),
        &dashpack::RunControl::default(),
    )
    .unwrap();
    let files = sink.into_files();
    let text: Vec<_> = p
        .representations
        .iter()
        .filter(|r| r.content_type == ContentType::Text)
        .collect();
    assert_eq!(
        text.len(),
        1,
        "one text representation: {:?}",
        p.representations
    );
    assert_eq!(text[0].language, "en");
    let (path, vtt) = files
        .iter()
        .find(|(k, _)| k.ends_with(".vtt"))
        .expect("a WebVTT file");
    let ours = std::str::from_utf8(vtt).unwrap();
    let mpd = std::str::from_utf8(&files[&p.mpd]).unwrap();
    assert!(mpd.contains(path.as_str()), "the MPD names {path}");

    let theirs = ffmpeg_webvtt(&fixture(name), Some("0:s:0"));
    let (a, b) = (cues(ours), cues(&theirs));
    assert_eq!(a.len(), 3, "{ours}");
    assert_eq!(a, b, "ours:\n{ours}\nFFmpeg's:\n{theirs}");
    // FFmpeg reads what we wrote back to the same cues.
    let written = std::env::temp_dir().join(format!("dashpack-tx3g-{}.vtt", std::process::id()));
    std::fs::write(&written, vtt).unwrap();
    assert_eq!(cues(&ffmpeg_webvtt(&written, None)), a);
    let _ = std::fs::remove_file(&written);

    // The styled cue lost its italics (said), the chapter track is left out (said).
    let warned = p.warnings.join("\n");
    assert!(
        warned.contains("converted to WebVTT; its styling is dropped"),
        "{warned}"
    );
    assert!(warned.contains("chapter titles, not subtitles"), "{warned}");
    assert_eq!(
        p.representations
            .iter()
            .filter(|r| r.content_type != ContentType::Text)
            .count(),
        2
    );
}

#[test]
fn srt_sidecars_become_webvtt_as_ffmpeg_reads_them() {
    let dir = std::env::temp_dir().join(format!("dashpack-srt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let srt = dir.join("fr.srt");
    std::fs::write(
        &srt,
        "1\r\n00:00:00,500 --> 00:00:01,250\r\nBonjour <i>à tous</i>\r\n\r\n\
         2\r\n00:00:02,000 --> 00:00:03,999\r\nDeux\r\nlignes & plus\r\n",
    )
    .unwrap();
    let subs = Subtitles::open(&srt, "fr").unwrap();
    let sink = MemorySink::new();
    let bytes = std::fs::read(fixture("h264_aac.mp4")).unwrap();
    let options = Options::default().with_subtitles(vec![subs]);
    let p = dashpack::package(
        &[Input::from_bytes("h264_aac.mp4", bytes)],
        &sink,
        &options,
        &dashpack::RunControl::default(),
    )
    .unwrap();
    let files = sink.into_files();
    let vtt = files.iter().find(|(k, _)| k.ends_with(".vtt")).unwrap().1;
    let written = dir.join("out.vtt");
    std::fs::write(&written, vtt).unwrap();
    let theirs = cues(&ffmpeg_webvtt(&srt, None));
    assert_eq!(theirs.len(), 2);
    assert_eq!(cues(std::str::from_utf8(vtt).unwrap()), theirs);
    assert_eq!(cues(&ffmpeg_webvtt(&written, None)), theirs);
    assert!(
        p.representations
            .iter()
            .any(|r| r.content_type == ContentType::Text && r.language == "fr")
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A box as 14496-30 writes WebVTT samples.
fn vtt_box(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
    let mut b = ((body.len() + 8) as u32).to_be_bytes().to_vec();
    b.extend_from_slice(kind);
    b.extend_from_slice(body);
    b
}

/// The presentation's first text Representation.
fn text_rep(p: &dashpack::Presentation) -> &dashpack::Representation {
    p.representations
        .iter()
        .find(|r| r.content_type == ContentType::Text)
        .expect("a text representation")
}

/// The samples of a text Representation, across its segments: (duration, bytes).
fn text_samples(out: &std::path::Path, r: &dashpack::Representation) -> Vec<(u32, Vec<u8>)> {
    (1..=r.segments)
        .flat_map(|n| {
            let seg = std::fs::read(out.join(&r.id).join(format!("seg-{n}.m4s"))).unwrap();
            read_segment(&seg, 1).samples
        })
        .map(|s| (s.duration, s.data))
        .collect()
}

/// WebVTT in MP4 (`wvtt`, fixtures/make_wvtt.py: cues at 1-3, 5-7 and 9-11 s with
/// `vtte` gaps between, at 1 kHz) is carried sample for sample, cut with the video, in
/// a text AdaptationSet of its own; TTML in MP4 (`stpp`) likewise.
#[test]
fn wvtt_and_stpp_are_carried_as_they_are() {
    let (out, p) = package_into(&fixture("h264_aac_wvtt.mp4"), "wvtt");
    let r = text_rep(&p);
    assert_eq!(
        (r.id.as_str(), r.codecs.as_str(), r.language.as_str()),
        ("text-1", "wvtt", "en")
    );
    assert_eq!(r.segments, 3, "cut at the video's three segments");
    let gap = vtt_box(b"vtte", b"");
    let cue = |t: &str| vtt_box(b"vttc", &vtt_box(b"payl", t.as_bytes()));
    let want = vec![
        (1000, gap.clone()),
        (2000, cue("Hello")),
        (2000, gap.clone()),
        (2000, cue("World")),
        (2000, gap.clone()),
        (2000, cue("Again")),
        (1000, gap),
    ];
    assert_eq!(text_samples(&out, r), want);
    let init = std::fs::read(out.join("text-1/init.mp4")).unwrap();
    assert!(find(&init, b"wvtt") && find(&init, b"vttC") && find(&init, b"nmhd"));
    let mpd = std::fs::read_to_string(out.join(&p.mpd)).unwrap();
    assert!(
        mpd.contains(r#"contentType="text" mimeType="application/mp4" lang="en""#),
        "{mpd}"
    );
    // The track's udta/kind says captions.
    assert!(
        mpd.contains(r#"<Role schemeIdUri="urn:mpeg:dash:role:2011" value="caption"/>"#),
        "{mpd}"
    );
    assert_eq!(mpd_schema_error(&out.join(&p.mpd)), None);

    let (out, p) = package_into(&fixture("h264_aac_stpp.mp4"), "stpp");
    let r = text_rep(&p);
    assert_eq!(r.codecs, "stpp.ttml.im1t");
    // FFmpeg writes the three cues as one TTML document lasting the track.
    let samples = text_samples(&out, r);
    assert_eq!(samples.len(), 1);
    let doc = String::from_utf8(samples[0].1.clone()).unwrap();
    assert!(doc.starts_with("<?xml"), "{doc}");
    for t in ["Hello", "World", "Again"] {
        assert!(doc.contains(t), "{doc}");
    }
    assert_eq!(mpd_schema_error(&out.join(&p.mpd)), None);
}

/// Subtitles stay clear when the audio and video are encrypted: players read them
/// without a key, as they do sidecar files.
#[test]
fn carried_text_stays_clear_when_the_rest_is_encrypted() {
    let key = "00112233445566778899aabbccddeeff:ffeeddccbbaa99887766554433221100";
    let enc = dashpack::Encryption::new(
        dashpack::Scheme::Cenc,
        dashpack::EncryptionKey::parse_list(key).unwrap(),
    );
    let input = Input::open(fixture("h264_aac_wvtt.mp4")).unwrap();
    let sink = MemorySink::new();
    let options = Options::default().with_encryption(Some(enc));
    dashpack::package(&[input], &sink, &options, &dashpack::RunControl::default()).unwrap();
    let files = sink.into_files();
    assert!(find(&files["video-1/init.mp4"], b"encv"));
    let text = &files["text-1/init.mp4"];
    assert!(find(text, b"wvtt") && !find(text, b"enc") && !find(text, b"pssh"));
}

/// Text carried as fMP4 is in the HLS playlists too: WebVTT in MP4 as a WebVTT file
/// of the same cues at the same times (a cue split at a fragment boundary joined
/// again, which FFmpeg reads back), IMSC1 (`stpp`) as a media playlist over the same
/// fMP4 segments, its codec in the variants' CODECS.
#[test]
fn fmp4_text_has_hls_renditions() {
    let options = Options::default().with_hls(true).with_force(true);
    for fixture_name in ["h264_aac_wvtt.mp4", "fragmented_wvtt.mp4"] {
        let out = std::env::temp_dir().join(format!(
            "dashpack-wvtt-hls-{}-{fixture_name}",
            std::process::id()
        ));
        let p = dashpack::package_files(&[fixture(fixture_name)], &out, &options).unwrap();
        assert_eq!(p.representations.len(), 3, "{fixture_name}");
        let master = std::fs::read_to_string(out.join("master.m3u8")).unwrap();
        assert!(
            master.contains(r#"TYPE=SUBTITLES,GROUP-ID="subs",NAME="text-1",LANGUAGE="en""#)
                && master.contains(r#"URI="text-1/playlist.m3u8""#)
                && master.contains(r#"SUBTITLES="subs""#),
            "{master}"
        );
        let playlist = std::fs::read_to_string(out.join("text-1/playlist.m3u8")).unwrap();
        assert!(playlist.contains("\nsubtitles.vtt\n"), "{playlist}");
        let vtt = out.join("text-1/subtitles.vtt");
        let want: Vec<(u64, u64, String)> = [
            (1000, 3000, "Hello"),
            (5000, 7000, "World"),
            (9000, 11000, "Again"),
        ]
        .into_iter()
        .map(|(a, b, t)| (a, b, t.to_string()))
        .collect();
        assert_eq!(
            cues(&std::fs::read_to_string(&vtt).unwrap()),
            want,
            "{fixture_name}"
        );
        assert_eq!(cues(&ffmpeg_webvtt(&vtt, None)), want, "{fixture_name}");
        // DASH keeps the fMP4 segments.
        assert!(out.join("text-1/init.mp4").exists());
        std::fs::remove_dir_all(&out).unwrap();
    }

    let out = std::env::temp_dir().join(format!("dashpack-stpp-hls-{}", std::process::id()));
    dashpack::package_files(&[fixture("h264_aac_stpp.mp4")], &out, &options).unwrap();
    let master = std::fs::read_to_string(out.join("master.m3u8")).unwrap();
    assert!(
        master.contains(r#"URI="text-1/playlist.m3u8""#)
            && master.contains(r#"CODECS="avc1.64000C,mp4a.40.2,stpp.ttml.im1t""#),
        "{master}"
    );
    let playlist = std::fs::read_to_string(out.join("text-1/playlist.m3u8")).unwrap();
    assert!(
        playlist.contains(r#"#EXT-X-MAP:URI="init.mp4""#) && playlist.contains("seg-1.m4s"),
        "{playlist}"
    );
    std::fs::remove_dir_all(&out).unwrap();
}

/// A tx3g track whose sample entry says every sample is forced becomes a forced
/// subtitle: `Role` forced-subtitle in the MPD, FORCED=YES (never the default) in HLS.
#[test]
fn forced_tx3g_is_a_forced_subtitle() {
    let mut bytes = std::fs::read(fixture("h264_aac_tx3g.mp4")).unwrap();
    let at = bytes.windows(4).position(|w| w == b"tx3g").unwrap() + 4 + 8;
    bytes[at..at + 4].copy_from_slice(&0x8000_0000u32.to_be_bytes());
    let input = Input::from_bytes("forced.mp4", bytes);
    let sink = MemorySink::new();
    let options = Options::default().with_hls(true);
    dashpack::package(&[input], &sink, &options, &dashpack::RunControl::default()).unwrap();
    let files = sink.into_files();
    let mpd = String::from_utf8(files["stream.mpd"].clone()).unwrap();
    assert!(
        mpd.contains(r#"<Role schemeIdUri="urn:mpeg:dash:role:2011" value="forced-subtitle"/>"#),
        "{mpd}"
    );
    let master = String::from_utf8(files["master.m3u8"].clone()).unwrap();
    assert!(
        master.contains("TYPE=SUBTITLES")
            && master.contains("DEFAULT=NO,AUTOSELECT=YES,FORCED=YES"),
        "{master}"
    );
}

/// A tx3g entry that puts its text at the top left, in a box inside the picture: each
/// cue gets the WebVTT settings that say so (the box as percentages of the 320x180
/// video), and FFmpeg reads them back from the output.
#[test]
fn tx3g_positions_become_cue_settings() {
    let mut bytes = std::fs::read(fixture("h264_aac_tx3g.mp4")).unwrap();
    let fields = bytes.windows(4).position(|w| w == b"tx3g").unwrap() + 4 + 8;
    // horizontal and vertical justification (left, top), then after the background
    // colour the box: top 18, left 48, bottom 60, right 272.
    bytes[fields + 4] = 0;
    bytes[fields + 5] = 0;
    for (i, v) in [18i16, 48, 60, 272].into_iter().enumerate() {
        let at = fields + 10 + 2 * i;
        bytes[at..at + 2].copy_from_slice(&v.to_be_bytes());
    }
    let sink = MemorySink::new();
    let options = Options::default().with_hls(true);
    let input = Input::from_bytes("placed.mp4", bytes);
    dashpack::package(&[input], &sink, &options, &dashpack::RunControl::default()).unwrap();
    let files = sink.into_files();
    let (_, vtt) = files.iter().find(|(k, _)| k.ends_with(".vtt")).unwrap();
    let vtt = std::str::from_utf8(vtt).unwrap();
    let settings = "line:10% position:15%,line-left size:70% align:left";
    let timings: Vec<&str> = vtt.lines().filter(|l| l.contains("-->")).collect();
    assert_eq!(timings.len(), 3, "{vtt}");
    for t in &timings {
        assert!(t.ends_with(settings), "{t}");
    }
    let written = std::env::temp_dir().join(format!("dashpack-placed-{}.vtt", std::process::id()));
    std::fs::write(&written, vtt).unwrap();
    // Copied, not transcoded: FFmpeg's WebVTT reader keeps the settings for its writer.
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(&written)
        .args(["-c", "copy", "-f", "webvtt", "-"])
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&written);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let again = String::from_utf8(out.stdout).unwrap();
    let read_back: Vec<&str> = again.lines().filter(|l| l.contains("-->")).collect();
    assert_eq!(read_back.len(), 3, "{again}");
    for t in read_back {
        for s in settings.split(' ') {
            assert!(t.contains(s), "FFmpeg's reading {t:?} lacks {s}");
        }
    }
    assert_eq!(cues(&again), cues(vtt));
}

/// The WebVTT file a package of `input` wrote for its one converted text track.
fn converted_webvtt(input: &str, folder: &str) -> (String, dashpack::Presentation) {
    let (out, p) = package_into(&fixture(input), folder);
    let r = text_rep(&p);
    let vtt = std::fs::read_dir(out.join(&r.id))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|f| f.extension().is_some_and(|x| x == "vtt"))
        .expect("a WebVTT file");
    (std::fs::read_to_string(vtt).unwrap(), p)
}

/// tx3g in movie fragments (FFmpeg's fragmented copy of the tx3g clip, without edit
/// lists: every track moved by the video's 80 ms composition delay) is converted like
/// the progressive track: the cues start where FFmpeg reads them in the fragments and
/// last as long as in the progressive clip (FFmpeg reads fragmented text with no
/// duration); the chapter track in the fragments is still left out.
#[test]
fn tx3g_in_movie_fragments_becomes_webvtt() {
    let (ours, p) = converted_webvtt("fragmented_tx3g.mp4", "fragmented-tx3g");
    let progressive = cues(&ffmpeg_webvtt(&fixture("h264_aac_tx3g.mp4"), Some("0:s:0")));
    let fragments = cues(&ffmpeg_webvtt(
        &fixture("fragmented_tx3g.mp4"),
        Some("0:s:0"),
    ));
    let ours = cues(&ours);
    assert_eq!(ours.len(), 3, "{ours:?}");
    for ((ours, frag), prog) in ours.iter().zip(&fragments).zip(&progressive) {
        assert_eq!(ours.2, prog.2);
        assert_eq!(ours.0, frag.0, "start of {:?}", ours.2);
        assert_eq!(ours.1 - ours.0, prog.1 - prog.0, "duration of {:?}", ours.2);
    }
    assert_eq!(ours[0].0, progressive[0].0 + 80);
    let warned = p.warnings.join("\n");
    assert!(warned.contains("chapter titles, not subtitles"), "{warned}");
}

/// wvtt in every movie fragment (fixtures/make_fragmented_wvtt.py: the 1-3, 5-7 and
/// 9-11 s cues split at the 2 s fragment boundaries) is carried sample for sample.
#[test]
fn wvtt_in_movie_fragments_is_carried() {
    let (out, p) = package_into(&fixture("fragmented_wvtt.mp4"), "fragmented-wvtt");
    let r = text_rep(&p);
    assert_eq!((r.codecs.as_str(), r.language.as_str()), ("wvtt", "en"));
    let gap = vtt_box(b"vtte", b"");
    let cue = |t: &str| vtt_box(b"vttc", &vtt_box(b"payl", t.as_bytes()));
    let mut want = Vec::new();
    for t in ["Hello", "World"] {
        want.extend([
            (1000, gap.clone()),
            (1000, cue(t)),
            (1000, cue(t)),
            (1000, gap.clone()),
        ]);
    }
    want.extend([(1000, gap), (1000, cue("Again")), (1000, cue("Again"))]);
    assert_eq!(text_samples(&out, r), want);
    assert_eq!(mpd_schema_error(&out.join(&p.mpd)), None);
}

/// `bytes` with the `tfdt` (version 1) of track `track`'s fragments from the `from`th
/// (0-based) on moved `ticks` later; `fragments` says how many the track has.
fn delay_fragments(bytes: &mut [u8], track: u32, fragments: usize, from: usize, ticks: u64) {
    let tfhds: Vec<usize> = (0..bytes.len() - 16)
        .filter(|&i| &bytes[i..i + 4] == b"tfhd" && bytes[i + 8..i + 12] == track.to_be_bytes())
        .collect();
    assert_eq!(tfhds.len(), fragments);
    for &tfhd in &tfhds[from..] {
        let tfdt = tfhd
            + 4
            + bytes[tfhd + 4..]
                .windows(4)
                .position(|w| w == b"tfdt")
                .unwrap();
        assert_eq!(bytes[tfdt + 4], 1, "tfdt version 1");
        let at = tfdt + 8;
        let t = u64::from_be_bytes(bytes[at..at + 8].try_into().unwrap());
        bytes[at..at + 8].copy_from_slice(&(t + ticks).to_be_bytes());
    }
}

/// A gap between text fragments (the second text `tfdt` 1 s later than the first
/// fragment's samples reach) is time with no text: the cue before it keeps its own
/// duration, the cues after it move by the gap.
#[test]
fn a_gap_between_text_fragments_is_no_text() {
    let mut bytes = std::fs::read(fixture("fragmented_tx3g.mp4")).unwrap();
    // The text track (ID 3), at 1 MHz.
    delay_fragments(&mut bytes, 3, 2, 1, 1_000_000);
    let sink = MemorySink::new();
    let input = Input::from_bytes("gap.mp4", bytes);
    dashpack::package(
        &[input],
        &sink,
        &Options::default(),
        &dashpack::RunControl::default(),
    )
    .unwrap();
    let files = sink.into_files();
    let (_, vtt) = files.iter().find(|(k, _)| k.ends_with(".vtt")).unwrap();
    let got = cues(std::str::from_utf8(vtt).unwrap());
    let times: Vec<(u64, u64)> = got.iter().map(|c| (c.0, c.1)).collect();
    assert_eq!(times, [(580, 1580), (1830, 2980), (4080, 4880)], "{got:?}");
}

/// Carried WebVTT likewise: a gap after a cue (the fourth text fragment on 1 s later)
/// is a `vtte` sample of its length, and the cue keeps its duration.
#[test]
fn a_gap_between_wvtt_fragments_is_a_vtte_sample() {
    let mut bytes = std::fs::read(fixture("fragmented_wvtt.mp4")).unwrap();
    // The text track (ID 3), at 1 kHz: [gap, Hello] [Hello, gap] [gap, World] [World,
    // gap] [gap, Again] [Again].
    delay_fragments(&mut bytes, 3, 6, 3, 1000);
    let input = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("wvtt-gap.mp4");
    std::fs::write(&input, &bytes).unwrap();
    let (out, p) = package_into(&input, "wvtt-gap");
    let r = text_rep(&p);
    let gap = (1000, vtt_box(b"vtte", b""));
    let cue = |t: &str| (1000, vtt_box(b"vttc", &vtt_box(b"payl", t.as_bytes())));
    let want = vec![
        gap.clone(),
        cue("Hello"),
        cue("Hello"),
        gap.clone(),
        gap.clone(),
        cue("World"),
        gap.clone(),
        cue("World"),
        gap.clone(),
        gap.clone(),
        cue("Again"),
        cue("Again"),
    ];
    assert_eq!(text_samples(&out, r), want);
}
