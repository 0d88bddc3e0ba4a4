//! Edit-list shapes of ISO/IEC 14496-12 8.6.6 on the H.264 + AAC clip
//! (`fixtures/make_edits.py`): an end trim publishes only what is presented and the MPD
//! lasts exactly as long as the edits; contiguous media edits are one timeline, the same
//! presentation as the clip; media edits that skip media are joined, each sample at the
//! time its edit gives it; a dwell and a skip into the middle of a GOP are refused, naming
//! the track and the entry; a zero last-sample duration is repaired and said so.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;

use dashpack::{Error, Input, MemorySink, Options};

fn edits(name: &str) -> PathBuf {
    common::fixtures_dir().join("edits").join(name)
}

fn package(path: &std::path::Path) -> (dashpack::Presentation, BTreeMap<String, Vec<u8>>) {
    let sink = MemorySink::new();
    let p = dashpack::package(
        &[Input::open(path).unwrap()],
        &sink,
        &Options::default(),
        &dashpack::RunControl::default(),
    )
    .unwrap();
    (p, sink.into_files())
}

fn samples(files: &BTreeMap<String, Vec<u8>>, rep: &str) -> Vec<common::OutSample> {
    files
        .iter()
        .filter(|(k, _)| k.starts_with(&format!("{rep}/seg-")))
        .flat_map(|(_, b)| common::read_segment(b, 1).samples)
        .collect()
}

#[test]
fn an_end_trim_publishes_only_what_is_presented() {
    let path = edits("edit_end_trim.mp4");
    // Exact by FFmpeg's reading, with the trim applied from the packets' own times.
    let (out, p) = common::package_into(&path, "edit-end-trim");
    common::exact::check("edit_end_trim.mp4", "", &path, &out, &p).unwrap();

    let (p, files) = package(&path);
    let mpd = dash_mpd::parse(std::str::from_utf8(&files[&p.mpd]).unwrap()).unwrap();
    let duration = mpd.mediaPresentationDuration.unwrap().as_secs_f64();
    assert!((duration - 8.0).abs() < 0.001, "MPD duration {duration}");
    // 25 fps video: 200 frames start before 8 s; AAC at 48 kHz: frames start every
    // 1024 samples after the 1024-sample priming, 376 of them before the end.
    let input = common::read_input(&std::fs::read(&path).unwrap());
    for (rep, track, want) in [("video-1", 1, 200), ("audio-1", 2, 376)] {
        let out = samples(&files, rep);
        assert_eq!(out.len(), want, "{rep}");
        let t = input.iter().find(|t| t.id == track).unwrap();
        assert!(t.samples.len() > want, "the input has more");
        let end = t.media_time + 8 * i64::from(t.timescale);
        // Every presented input sample is there; none that starts at or after the end,
        // except what decoding needs (none here: B-frames refer back only).
        let presented = t.samples.iter().filter(|s| s.cts < end).count();
        assert_eq!(presented, want, "{rep}");
    }
}

#[test]
fn contiguous_media_edits_are_one_timeline() {
    let (p, files) = package(&edits("edit_contiguous.mp4"));
    let (q, reference) = package(&common::fixture("h264_aac.mp4"));
    assert_eq!(p.duration, q.duration);
    assert_eq!(
        files, reference,
        "the same presentation as the clip, byte for byte"
    );
}

#[test]
fn unrepresentable_edit_lists_are_refused() {
    for (name, what) in [
        (
            "edit_dwell.mp4",
            "track 1: edit list entry 1 plays at rate 0 (a dwell)",
        ),
        (
            "edit_skip_mid_gop.mp4",
            "track 1: media edit 2 starts at media time",
        ),
    ] {
        let sink = MemorySink::new();
        let err = dashpack::package(
            &[Input::open(edits(name)).unwrap()],
            &sink,
            &Options::default(),
            &dashpack::RunControl::default(),
        )
        .unwrap_err();
        assert!(matches!(err, Error::Unsupported { .. }), "{name}: {err}");
        assert!(err.to_string().contains(what), "{name}: {err}");
        assert!(sink.into_files().is_empty(), "{name}: nothing written");
    }
}

/// Two media edits 4 s long, the second from 6 s of media (`edit_skip*`) or from the
/// start again (`edit_repeat`): every sample each edit presents is published (once per
/// edit), in decode order, at the time the edits give it (presentation time offset
/// included), and nothing else is, except what decoding needs before the first edit (the
/// AAC priming frame). Video cuts on closed-GOP keyframes keep every frame; audio joints
/// fall inside AAC frames, whose straddling frames are left out (the edit list presents
/// only part of them).
#[test]
fn media_edits_that_skip_or_repeat_media_are_joined() {
    // (file, tracks edited, second edit's media start in seconds, MPD duration)
    for (name, ids, second, length) in [
        ("edit_skip.mp4", &[1u32][..], 6, 12.0),
        ("edit_skip_av.mp4", &[1, 2][..], 6, 8.0),
        ("edit_repeat.mp4", &[1, 2][..], 0, 8.0),
    ] {
        let path = edits(name);
        let (p, files) = package(&path);
        assert!(
            p.warnings.iter().any(|w| w.contains("are joined")),
            "{name}: {:?}",
            p.warnings
        );
        let bytes = std::fs::read(&path).unwrap();
        let input = common::read_input(&bytes);
        let mpd = dash_mpd::parse(std::str::from_utf8(&files[&p.mpd]).unwrap()).unwrap();
        for &id in ids {
            let t = input.iter().find(|t| t.id == id).unwrap();
            let rep = if t.video { "video-1" } else { "audio-1" };
            let ts = i64::from(t.timescale);
            let m = t.media_time;
            // (media start, media end, presentation start) of each edit.
            let from = m + second * ts;
            let spans = [(m, m + 4 * ts, 0), (from, from + 4 * ts, 4 * ts)];
            let mut want: Vec<(Vec<u8>, i64)> = Vec::new();
            for (k, &(start, end, at)) in spans.iter().enumerate() {
                for s in &t.samples {
                    let inside = if t.video {
                        s.cts >= start && s.cts < end
                    } else {
                        // Whole frames at the joint; the priming frame before the first
                        // edit (decoded, not presented); the last edit ends as one edit.
                        let ends_inside = if k == 1 {
                            s.cts < end
                        } else {
                            s.cts + i64::from(s.duration) <= end
                        };
                        (k == 0 || s.cts >= start) && ends_inside
                    };
                    if inside {
                        let data = bytes[s.offset as usize..][..s.size as usize].to_vec();
                        want.push((data, at + s.cts - start));
                    }
                }
            }
            let got = samples(&files, rep);
            assert_eq!(got.len(), want.len(), "{name} {rep}: samples");
            let pto = pto(&mpd, rep);
            for (k, (o, (data, pt))) in got.iter().zip(&want).enumerate() {
                assert!(&o.data == data, "{name} {rep}: sample {k} bytes");
                assert_eq!(o.pt() - pto, *pt, "{name} {rep}: sample {k} presented at");
            }
        }
        // The presentation lasts as the edits do.
        let duration = mpd.mediaPresentationDuration.unwrap().as_secs_f64();
        assert!(
            (duration - length).abs() < 0.001,
            "{name}: MPD duration {duration}"
        );
    }
}

/// An edits fixture packaged, with its MPD parsed and its input tracks read.
fn packaged_with_input(
    name: &str,
) -> (
    dashpack::Presentation,
    BTreeMap<String, Vec<u8>>,
    dash_mpd::MPD,
    Vec<common::InTrack>,
) {
    let path = edits(name);
    let (p, files) = package(&path);
    let mpd = dash_mpd::parse(std::str::from_utf8(&files[&p.mpd]).unwrap()).unwrap();
    let input = common::read_input(&std::fs::read(&path).unwrap());
    (p, files, mpd, input)
}

/// Presentation time offset of a Representation.
fn pto(mpd: &dash_mpd::MPD, rep: &str) -> i64 {
    mpd.periods
        .iter()
        .flat_map(|p| &p.adaptations)
        .flat_map(|a| &a.representations)
        .find(|r| r.id.as_deref() == Some(rep))
        .and_then(|r| r.SegmentTemplate.as_ref())
        .and_then(|t| t.presentationTimeOffset)
        .unwrap_or(0) as i64
}

/// Both tracks' edits start 1 s into the media, inside the first GOP. The 25 video frames
/// from the keyframe to the edit start are decoded but not shown: they are published one
/// tick each in the 25 ticks before the first presented frame, in their order, so none
/// is before the Period start (where MSE players would drop them, and every frame after
/// them up to the next keyframe). The audio starts those 25 ticks later too: every
/// sample of both tracks is where the edit lists put it, plus one shared offset.
#[test]
fn an_edit_inside_a_gop_keeps_the_frames_it_needs_at_the_start() {
    let (_, files, mpd, input) = packaged_with_input("edit_start_mid_gop.mp4");
    let mut offsets = Vec::new();
    for t in &input {
        let rep = if t.video { "video-1" } else { "audio-1" };
        let got = samples(&files, rep);
        assert_eq!(got.len(), t.samples.len(), "{rep}: every sample");
        let pto = pto(&mpd, rep);
        let ts = i64::from(t.timescale);
        // Where the edit start is on the Period timeline, from each presented sample.
        let mut at = std::collections::BTreeSet::new();
        let mut shown_early = Vec::new();
        for (o, i) in got.iter().zip(&t.samples) {
            let period = o.pt() - pto;
            if i.cts >= t.media_time {
                at.insert(period - (i.cts - t.media_time));
            } else if t.video {
                shown_early.push(period);
            }
        }
        assert_eq!(at.len(), 1, "{rep}: one offset for every presented sample");
        let at = *at.first().unwrap();
        if t.video {
            shown_early.sort_unstable();
            assert_eq!(
                shown_early,
                (0..25).collect::<Vec<_>>(),
                "{rep}: a tick each"
            );
            assert_eq!(at, 25, "{rep}: first shown frame after them");
        }
        offsets.push(at as f64 / ts as f64);
    }
    assert!(
        (offsets[0] - offsets[1]).abs() < 0.001,
        "audio and video start together: {offsets:?}"
    );
}

/// A video track's frames before its first keyframe: left out, said in a warning, the
/// output starting with a sync sample; returns how many (0 for audio, which has none).
fn left_out_before_first_keyframe(
    p: &dashpack::Presentation,
    t: &common::InTrack,
    got: &[common::OutSample],
) -> usize {
    if !t.video {
        return 0;
    }
    let lead = t.samples.iter().position(|s| s.sync).unwrap();
    assert!(lead > 0, "the fixture starts before a keyframe");
    assert_eq!(got.len(), t.samples.len() - lead, "video: samples");
    assert!(got[0].is_sync(), "video: starts with a sync sample");
    assert!(p.warnings.iter().any(|w| w.contains(&format!(
        "the {lead} frames before its first sync sample cannot be decoded"
    ))));
    lead
}

/// Period time less the input's presentation time (seconds) of each output sample
/// against its input sample, from input sample `from` on, for those `which` picks: the
/// same for all of them, returned.
fn one_offset(
    rep: &str,
    t: &common::InTrack,
    got: &[common::OutSample],
    from: usize,
    pto: i64,
    which: impl Fn(&common::InSample) -> bool,
) -> f64 {
    let ts = f64::from(t.timescale);
    let at: Vec<f64> = got
        .iter()
        .zip(&t.samples[from..])
        .filter(|(_, i)| which(i))
        .map(|(o, i)| (o.pt() - pto) as f64 / ts - t.presentation(i.cts))
        .collect();
    let spread =
        at.iter().cloned().fold(f64::MIN, f64::max) - at.iter().cloned().fold(f64::MAX, f64::min);
    assert!(
        spread < 1e-6,
        "{rep}: one offset for every sample ({spread} s)"
    );
    at[0]
}

/// The clip cut at 1.5 s, inside a GOP, with its leading frames kept
/// (`make_non_sync_start.py`): the edits start at the first keyframe. The frames before
/// it can never be decoded and are not shown: they are left out (said in a warning), the
/// first video sample is a sync sample, and every other sample of both tracks is
/// presented where the edit lists put it, plus one shared offset.
#[test]
fn frames_before_the_first_keyframe_that_the_edit_hides_are_left_out() {
    let (p, files, mpd, input) = packaged_with_input("edit_after_non_sync_start.mp4");
    let mut offsets = Vec::new();
    for t in &input {
        let rep = if t.video { "video-1" } else { "audio-1" };
        let got = samples(&files, rep);
        let lead = left_out_before_first_keyframe(&p, t, &got);
        assert_eq!(got.len(), t.samples.len() - lead, "{rep}: samples");
        offsets.push(one_offset(rep, t, &got, lead, pto(&mpd, rep), |_| true));
    }
    assert!(
        (offsets[0] - offsets[1]).abs() < 0.001,
        "audio and video start together: {offsets:?}"
    );
}

/// FFmpeg's own cut of the 29.97 fps clip at 1.5 s with `-copyinkf`
/// (`non_sync_start_shown.mp4`): the video's edit, after an empty edit, shows the frames
/// before the first keyframe and hides two B-frames among them. No decoder can decode
/// those frames, so they are left out although the edit shows them: the first segment
/// starts on the keyframe (`startWithSAP` 1), no hidden frame lands after the Period
/// start, and every kept sample of both tracks is presented where the edit lists put it,
/// plus one shared offset. FFmpeg agrees: the first picture it decodes from the input is
/// as far from the audio's start as the output's first frame is.
#[test]
fn frames_before_the_first_keyframe_are_left_out_when_the_edit_shows_them() {
    let name = "non_sync_start_shown.mp4";
    let (p, files, mpd, input) = packaged_with_input(name);
    let (mut offsets, mut firsts) = (Vec::new(), Vec::new());
    for t in &input {
        let rep = if t.video { "video-1" } else { "audio-1" };
        let got = samples(&files, rep);
        let lead = left_out_before_first_keyframe(&p, t, &got);
        assert_eq!(got.len(), t.samples.len() - lead, "{rep}: samples");
        let pto = pto(&mpd, rep);
        if t.video {
            assert!(
                t.samples[..lead]
                    .iter()
                    .any(|s| t.presentation(s.cts) > 0.0 && s.cts >= t.media_time),
                "the fixture's edit shows frames before the keyframe"
            );
            for (o, i) in got.iter().zip(&t.samples[lead..]) {
                assert!(
                    i.cts >= t.media_time || o.pt() < pto,
                    "{rep}: a frame the edit hides is shown"
                );
            }
        }
        offsets.push(one_offset(rep, t, &got, lead, pto, |_| true));
        let first = got.iter().map(|o| o.pt()).min().unwrap() - pto;
        firsts.push((t.video, first as f64 / f64::from(t.timescale)));
    }
    assert!(
        (offsets[0] - offsets[1]).abs() < 0.001,
        "audio and video start together: {offsets:?}"
    );
    let sets = mpd.periods.iter().flat_map(|p| &p.adaptations);
    let video_sap = sets
        .filter(|a| a.contentType.as_deref() == Some("video"))
        .map(|a| a.startWithSAP)
        .collect::<Vec<_>>();
    assert_eq!(video_sap, [Some(1)], "startWithSAP");

    // FFmpeg's reading of the input: its first decoded picture, and the audio's first
    // packet it does not discard.
    let probe = |what: &[&str]| {
        let out = common::run(
            std::process::Command::new("ffprobe")
                .args(["-v", "error", "-of", "csv=p=0"])
                .args(what)
                .arg(edits(name)),
        );
        String::from_utf8_lossy(&out)
            .lines()
            .filter_map(|l| {
                let mut f = l.split(',');
                let t: f64 = f.next()?.parse().ok()?;
                (!f.next().unwrap_or("").contains('D')).then_some(t)
            })
            .fold(f64::MAX, f64::min)
    };
    let picture = probe(&["-select_streams", "v", "-show_entries", "frame=pts_time"]);
    let audio = probe(&[
        "-select_streams",
        "a",
        "-show_entries",
        "packet=pts_time,flags",
    ]);
    let first = |video: bool| firsts.iter().find(|f| f.0 == video).unwrap().1;
    let (theirs, ours) = (picture - audio, first(true) - first(false));
    assert!(
        (theirs - ours).abs() < 0.001,
        "video against audio: FFmpeg decodes the input's first picture {theirs} s after \
         its audio starts, the output's first frame is {ours} s after"
    );
}

/// The audio starts 500 ms late (an empty edit) and 1 s into its media
/// (`edit_audio_delayed_cut.mp4`). The audio the edit hides is not presented; as it is,
/// some of it would sit after the Period start, in the empty edit, where players play
/// it. Those samples are written as silent AAC frames (said in a warning) and every
/// sample keeps its time, so the audio still starts with the video (an AdaptationSet
/// that starts late makes players skip the others' start). FFmpeg decodes silence from
/// the output there, up to the one frame of decoder pre-roll before the edit start.
#[test]
fn audio_an_edit_hides_is_silent_during_an_empty_edit() {
    let (p, files, mpd, input) = packaged_with_input("edit_audio_delayed_cut.mp4");
    let mut offsets = Vec::new();
    for t in &input {
        let rep = if t.video { "video-1" } else { "audio-1" };
        let got = samples(&files, rep);
        assert_eq!(got.len(), t.samples.len(), "{rep}: every sample");
        let (pto, ts) = (pto(&mpd, rep), f64::from(t.timescale));
        let period = |o: &common::OutSample| (o.pt() - pto) as f64 / ts;
        let at = one_offset(rep, t, &got, 0, pto, |i| i.cts >= t.media_time);
        offsets.push(at);
        if t.video {
            continue;
        }
        // The hidden samples after the Period start, but the last (pre-roll), are the
        // silent ones: a mono silent frame is 4 bytes.
        let hidden_after_start = got
            .iter()
            .zip(&t.samples)
            .filter(|(o, i)| {
                i.cts + i64::from(i.duration) <= t.media_time
                    && period(o) + i.duration as f64 / ts > 0.0
            })
            .count();
        let silent = got.iter().filter(|o| o.data.len() == 4).count();
        assert!(silent > 20, "{rep}: {silent} silent frames");
        assert_eq!(
            silent,
            hidden_after_start - 1,
            "{rep}: all but the pre-roll"
        );
        assert!(
            p.warnings.iter().any(|w| w.contains(&format!(
                "track {}: its edit list hides {silent} audio frames that its empty edit puts \
                 after the presentation start; written as silent frames",
                t.id
            ))),
            "{:?}",
            p.warnings
        );
        // FFmpeg decodes the Representation (its media time: the Period's plus the
        // offset): silence from the second frame of the empty edit (the first overlaps
        // the frame before) to two frames before the edit start.
        let joined = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("delayed_audio.mp4");
        let mut bytes = files["audio-1/init.mp4"].clone();
        let mut segments: Vec<(u32, &Vec<u8>)> = files
            .iter()
            .filter_map(|(k, v)| {
                let n = k.strip_prefix("audio-1/seg-")?.strip_suffix(".m4s")?;
                Some((n.parse().ok()?, v))
            })
            .collect();
        segments.sort_by_key(|s| s.0);
        for (_, v) in segments {
            bytes.extend_from_slice(v);
        }
        std::fs::write(&joined, bytes).unwrap();
        let pcm = common::run(
            std::process::Command::new("ffmpeg")
                .args(["-nostdin", "-v", "error", "-i"])
                .arg(&joined)
                .args(["-f", "s16le", "-ac", "1", "-ar", "48000", "-"]),
        );
        let level: Vec<i16> = pcm
            .chunks_exact(2)
            .map(|b| i16::from_le_bytes([b[0], b[1]]))
            .collect();
        let frame = 1024.0 / 48_000.0;
        let media = |period_s: f64| ((period_s + pto as f64 / ts) * 48_000.0) as usize;
        let edit_start = t.presentation(t.media_time) + at;
        let quiet = &level[media(2.0 * frame)..media(edit_start - 2.0 * frame)];
        assert!(quiet.len() > 15_000, "{} samples checked", quiet.len());
        assert!(
            quiet.iter().all(|&v| v == 0),
            "{rep}: sound during the empty edit"
        );
        let after = &level[media(edit_start + frame)..media(edit_start + 1.0)];
        assert!(
            after.iter().any(|&v| v.unsigned_abs() > 1000),
            "{rep}: sound after it"
        );
    }
    assert!(
        (offsets[0] - offsets[1]).abs() < 0.001,
        "audio and video together: {offsets:?}"
    );
}

/// FFmpeg's cuts of open-GOP clips (`open_gop_cut.mp4`, `open_gop_cavlc_cut.mp4`, and the
/// interlaced, captioned `broadcast_cut.mp4` from MPEG-TS): once
/// the frames before the first keyframe are left out, they start on a recovery point,
/// not an IDR picture, and later pictures release pictures from before the cut. FFmpeg's
/// decoder with errors made fatal (as in Chromium, docs/formats.md) stops on them. The
/// output starts on an IDR picture instead and decodes with errors fatal, and every
/// frame FFmpeg decodes from the input is there, pixel for pixel. The clip itself
/// starts on an IDR picture: nothing is rewritten.
#[test]
fn a_cut_inside_an_open_gop_is_rewritten_to_start_on_an_idr_picture() {
    let rewritten = |p: &dashpack::Presentation| {
        p.warnings
            .iter()
            .find(|w| w.contains("rewritten to start on an IDR picture"))
            .cloned()
    };
    for name in [
        "open_gop_cut.mp4",
        "open_gop_cavlc_cut.mp4",
        "broadcast_cut.mp4",
    ] {
        let (out, p) = common::package_into(&edits(name), &format!("idr-start-{name}"));
        let warning = rewritten(&p).unwrap_or_else(|| panic!("{name}: {:?}", p.warnings));
        assert!(
            warning.contains("the 1 frames shown before it"),
            "{name}: the one leading picture is left out: {warning}"
        );
        // The video alone, as one fragmented file.
        let dir = out.join("video-1");
        let mut video = std::fs::read(dir.join("init.mp4")).unwrap();
        let (mut n, mut samples) = (1, 0);
        while let Ok(seg) = std::fs::read(dir.join(format!("seg-{n}.m4s"))) {
            samples += common::read_segment(&seg, 1).samples.len();
            video.extend_from_slice(&seg);
            n += 1;
        }
        let first =
            &common::read_segment(&std::fs::read(dir.join("seg-1.m4s")).unwrap(), 1).samples[0];
        assert_eq!(
            first_slice_type(&first.data),
            5,
            "{name}: starts on an IDR picture"
        );
        let joined = out.join("video.mp4");
        std::fs::write(&joined, &video).unwrap();
        let decoded = |file: &std::path::Path, strict: bool| {
            let mut cmd = std::process::Command::new("ffmpeg");
            cmd.args(["-nostdin", "-v", "error"]);
            if strict {
                cmd.args(["-err_detect", "explode", "-xerror"]);
            }
            let out = cmd
                .arg("-i")
                .arg(file)
                .args([
                    "-map",
                    "0:v",
                    "-fps_mode",
                    "passthrough",
                    "-f",
                    "framemd5",
                    "-",
                ])
                .output()
                .unwrap();
            let errors = String::from_utf8_lossy(&out.stderr).to_string();
            (common::framemd5_sizes_and_hashes(&out.stdout), errors)
        };
        let (output, errors) = decoded(&joined, true);
        assert!(errors.trim().is_empty(), "{name}: errors fatal: {errors}");
        assert_eq!(output.len(), samples, "{name}: every frame decodes");
        // FFmpeg reads the input leniently (skipping what it cannot decode) and applies
        // its edit: its frames are the output's from the I picture on.
        let (input, _) = decoded(&edits(name), false);
        let at = output.iter().position(|f| *f == input[0]).unwrap();
        assert_eq!(&output[at..], &input[..], "{name}: the same pictures");
        if name == "broadcast_cut.mp4" {
            let mpd = std::fs::read_to_string(out.join("stream.mpd")).unwrap();
            assert!(
                mpd.contains("urn:scte:dash:cc:cea-608:2015"),
                "captions: {mpd}"
            );
        }
    }
    let (clip, _) = package(&common::fixture("h264_open_gop.mp4"));
    assert_eq!(rewritten(&clip), None);
}

/// The NAL unit type of a sample's first slice (4-byte lengths).
fn first_slice_type(sample: &[u8]) -> u8 {
    let mut at = 0;
    loop {
        let len = u32::from_be_bytes(sample[at..at + 4].try_into().unwrap()) as usize;
        let kind = sample[at + 4] & 0x1f;
        if (1..=5).contains(&kind) {
            return kind;
        }
        at += 4 + len;
    }
}

#[test]
fn a_zero_last_duration_is_repaired() {
    let (p, files) = package(&edits("last_zero_duration.mp4"));
    assert!(
        p.warnings
            .iter()
            .any(|w| w.contains("track 1: the last sample had no duration")),
        "{:?}",
        p.warnings
    );
    let video = samples(&files, "video-1");
    assert!(
        video.iter().all(|s| s.duration == 512),
        "every frame lasts 1/25 s"
    );
    let (_, reference) = package(&common::fixture("h264_aac.mp4"));
    assert_eq!(
        files.keys().collect::<Vec<_>>(),
        reference.keys().collect::<Vec<_>>()
    );
}

#[test]
fn a_zero_duration_in_the_middle_is_refused() {
    // The video-only clip has one stts run; its delta set to 0, every sample would
    // decode at the same time.
    let mut bytes = std::fs::read(common::fixture("video_only.mp4")).unwrap();
    let at = bytes.windows(4).position(|w| w == b"stts").unwrap() + 4;
    let runs = u32::from_be_bytes(bytes[at + 4..at + 8].try_into().unwrap());
    assert_eq!(runs, 1, "one stts run in the fixture");
    bytes[at + 12..at + 16].copy_from_slice(&0u32.to_be_bytes());
    let err = dashpack::package(
        &[Input::from_bytes("zero.mp4", bytes)],
        &MemorySink::new(),
        &Options::default(),
        &dashpack::RunControl::default(),
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("stts sample_delta 0") && err.to_string().contains("zero.mp4"),
        "{err}"
    );
}

#[test]
fn identical_sample_entries_are_carried_as_they_are() {
    // The video entry twice, the second half of the chunks naming the second one.
    let path = edits("two_entries.mp4");
    let (out, p) = common::package_into(&path, "two-entries");
    common::exact::check("two_entries.mp4", "", &path, &out, &p).unwrap();
    let (_, files) = package(&path);
    let (_, reference) = package(&common::fixture("h264_aac.mp4"));
    for (name, bytes) in files.iter().filter(|(n, _)| n.ends_with(".m4s")) {
        assert!(
            bytes == &reference[name],
            "{name}: the same segments as the clip"
        );
    }
}

/// The picture size of each frame FFmpeg decodes from `file`'s first video stream.
fn frame_sizes(file: &std::path::Path) -> Vec<String> {
    let mut cmd = std::process::Command::new("ffprobe");
    cmd.args(["-v", "error", "-select_streams", "v:0", "-show_entries"])
        .args(["frame=width,height", "-of", "csv=p=0"])
        .arg(file);
    String::from_utf8_lossy(&common::run(&mut cmd))
        .lines()
        .map(|l| l.trim_end_matches(',').to_string())
        .filter(|l| l.split(',').count() == 2)
        .collect()
}

/// Different H.264 sample entries (another level; another SPS and PPS with another
/// picture size from 6 s) are published as one `avc3` entry: each keyframe carries its
/// entry's parameter sets in band, every other sample is as it was, and FFmpeg decodes
/// every frame at the input's picture size, the change included.
#[test]
fn different_sample_entries_are_carried_with_parameter_sets_in_band() {
    for (name, sizes) in [
        ("two_different_entries.mp4", 1),
        ("resolution_change.mp4", 2),
    ] {
        let path = edits(name);
        let (out, p) = common::package_into(&path, &format!("inband-{name}"));
        let r = p
            .representations
            .iter()
            .find(|r| r.id == "video-1")
            .unwrap();
        assert!(r.codecs.starts_with("avc3."), "{name}: {}", r.codecs);
        assert_eq!(
            (r.width, r.height),
            (Some(320), Some(180)),
            "{name}: the largest"
        );
        let init = std::fs::read(out.join("video-1/init.mp4")).unwrap();
        assert!(
            common::find(&init, b"avc3") && !common::find(&init, b"avc1"),
            "{name}"
        );

        let bytes = std::fs::read(&path).unwrap();
        let input = common::read_input(&bytes);
        let t = input.iter().find(|t| t.video).unwrap();
        let got: Vec<common::OutSample> = (1..=r.segments)
            .flat_map(|n| {
                let seg = std::fs::read(out.join(format!("video-1/seg-{n}.m4s"))).unwrap();
                common::read_segment(&seg, 1).samples
            })
            .collect();
        assert_eq!(got.len(), t.samples.len(), "{name}");
        for (k, (o, i)) in got.iter().zip(&t.samples).enumerate() {
            let data = &bytes[i.offset as usize..][..i.size as usize];
            if i.sync {
                let prefix = &o.data[..o.data.len() - data.len()];
                assert!(
                    o.data.ends_with(data),
                    "{name}: keyframe {k} keeps its bytes"
                );
                // The SPS first: a 4-byte length, then NAL unit type 7.
                assert_eq!(
                    prefix.get(4).map(|b| b & 0x1f),
                    Some(7),
                    "{name}: sample {k}"
                );
            } else {
                assert!(o.data == data, "{name}: sample {k} as it was");
            }
        }
        let want = frame_sizes(&path);
        let joined = common::exact::joined(&out, r).unwrap();
        assert_eq!(
            frame_sizes(&joined),
            want,
            "{name}: FFmpeg decodes each frame"
        );
        let mut distinct = want.clone();
        distinct.dedup();
        assert_eq!(distinct.len(), sizes, "{name}: {distinct:?}");
    }
}
