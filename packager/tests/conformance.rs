//! Every fixture is packaged in memory and every output file is re-read with
//! `mp4-atom` (strict) and `dash-mpd`, then checked against the packaging rules:
//! box layout, tfdt continuity, data offsets, sync flags, every input sample exactly
//! once with its bytes, timing against the input's edit lists, and an MPD whose
//! timeline matches the segments.
#![allow(clippy::unwrap_used)]

#[macro_use]
mod common;

use std::collections::BTreeMap;

use common::*;
use dashpack::{ContentType, Input, MemorySink, Options, Timeline};

struct Checked {
    /// Per representation: segment start times in seconds (period time).
    starts: Vec<(ContentType, Vec<f64>, f64)>,
    /// Per representation: output minus input presentation time of the first sample.
    sync_offsets: Vec<f64>,
    max_sap: u64,
}

fn package(
    name: &str,
    options: &Options,
) -> (
    Vec<InTrack>,
    Vec<u8>,
    dashpack::Presentation,
    BTreeMap<String, Vec<u8>>,
) {
    let bytes = std::fs::read(fixture(name)).unwrap();
    let input = Input::from_bytes(name, bytes.clone());
    let sink = MemorySink::new();
    let p = dashpack::package(&[input], &sink, options, &dashpack::RunControl::default()).unwrap();
    (read_input(&bytes), bytes, p, sink.into_files())
}

fn check(name: &str, options: &Options) -> Checked {
    let (tracks, input, p, files) = package(name, options);
    let mpd_xml = std::str::from_utf8(&files[&p.mpd]).unwrap();
    let mpd = dash_mpd::parse(mpd_xml).unwrap();
    assert_eq!(mpd.periods.len(), 1);
    assert_eq!(
        p.representations.len(),
        tracks.len(),
        "one representation per track"
    );
    let mut checked = Checked {
        starts: Vec::new(),
        sync_offsets: Vec::new(),
        max_sap: 0,
    };
    let mut expected_files = 1;
    let mut max_end = 0f64;
    let mut max_d = 0f64;
    for rep in &p.representations {
        let track = tracks.iter().find(|t| t.id == rep.track_id).unwrap();
        assert_eq!(
            rep.codecs, track.codecs,
            "{name}: codecs from the config record"
        );

        // Init segment.
        let init_bytes = &files[&format!("{}/init.mp4", rep.id)];
        let init = read_init(init_bytes);
        assert_eq!(init.trak.len(), 1);
        let trak = &init.trak[0];
        let trex = &init.mvex.as_ref().expect("mvex").trex;
        assert_eq!(trex.len(), 1);
        assert_eq!(trex[0].track_id, trak.tkhd.track_id);
        assert_eq!(trak.mdia.mdhd.timescale, track.timescale);
        let stbl = &trak.mdia.minf.stbl;
        assert!(stbl.stts.entries.is_empty() && stbl.stsc.entries.is_empty());
        let stsd = raw_box(init_bytes, b"stsd");
        if !find(&input, stsd) {
            // Only AAC entries in QuickTime form or naming MPEG-2 AAC are rewritten: to
            // a version 0 ISO AudioSampleEntry whose esds says MPEG-4 audio, as the MPD.
            let mp4_atom::Codec::Mp4a(m) = &stbl.stsd.codecs[0] else {
                panic!("{name}: stsd changed for a track that is not AAC");
            };
            assert_eq!(m.esds.es_desc.dec_config.object_type_indication, 0x40);
            assert_eq!(&stsd[32..34], [0, 0], "{name}: sound description version 0");
            assert!(!find(stsd, b"wave"), "{name}: no QuickTime wave box");
            assert_eq!(
                expected_codecs(&stbl.stsd.codecs[0]),
                rep.codecs,
                "{name}: init = MPD"
            );
        }
        assert!(
            trak.edts.is_none(),
            "timing is in the segments, not an edit list"
        );

        // Segments, read back in order.
        let mut out_samples: Vec<OutSample> = Vec::new();
        let mut segment_bounds = Vec::new();
        let mut next_tfdt = None;
        for n in 1..=rep.segments {
            let bytes = &files[&format!("{}/seg-{n}.m4s", rep.id)];
            let seg = read_segment(bytes, trak.tkhd.track_id);
            assert_eq!(seg.sequence, n);
            if let Some(t) = next_tfdt {
                assert_eq!(
                    seg.tfdt, t,
                    "{name} {} segment {n}: tfdt continues exactly",
                    rep.id
                );
            }
            next_tfdt = Some(
                seg.samples
                    .iter()
                    .map(|s| u64::from(s.duration))
                    .sum::<u64>()
                    + seg.tfdt,
            );
            assert!(!seg.samples.is_empty());
            if track.video {
                let f = seg.samples[0].flags;
                assert_eq!(
                    (f >> 24) & 3,
                    2,
                    "{name} segment {n}: first sample depends on nothing"
                );
                assert_eq!(
                    f & 0x0001_0000,
                    0,
                    "{name} segment {n}: first sample is sync"
                );
            } else {
                assert!(
                    seg.samples.iter().all(OutSample::is_sync),
                    "audio samples are all sync"
                );
            }
            let ept = seg.samples.iter().map(OutSample::pt).min().unwrap();
            let end = seg
                .samples
                .iter()
                .map(|s| s.pt() + i64::from(s.duration))
                .max()
                .unwrap();
            segment_bounds.push((ept, end));
            out_samples.extend(seg.samples);
        }
        expected_files += 1 + rep.segments as usize;

        // Every input sample exactly once: bytes, sync flag, duration, timing.
        assert_eq!(
            out_samples.len(),
            track.samples.len(),
            "{name} {}: sample count",
            rep.id
        );
        // Video that starts after the presentation shows its first frame from the start:
        // that one sample is longer, and shown earlier, by the lead (a warning says so).
        let lead = if track.video {
            i64::from(out_samples[0].duration) - i64::from(track.samples[0].duration)
        } else {
            0
        };
        if lead != 0 {
            assert!(
                lead > 0
                    && p.warnings
                        .iter()
                        .any(|w| w.contains("its first frame is shown from the start")),
                "{name} {}: first sample {lead} ticks longer, no warning: {:?}",
                rep.id,
                p.warnings
            );
        }
        let shift = out_samples[0].pt() + lead - track.samples[0].cts;
        for (i, (o, s)) in out_samples.iter().zip(&track.samples).enumerate() {
            let lead = if i == 0 { lead } else { 0 };
            let data = &input[s.offset as usize..s.offset as usize + s.size as usize];
            let written = if track.video && WITH_CAPTION_TRACK.contains(&name) {
                without_caption_sei(&o.data)
            } else {
                o.data.clone()
            };
            assert!(
                written == data,
                "{name} {} sample {i}: bytes differ",
                rep.id
            );
            assert_eq!(
                o.is_sync(),
                s.sync || !track.video,
                "{name} sample {i}: sync flag"
            );
            assert_eq!(
                i64::from(o.duration),
                i64::from(s.duration) + lead,
                "{name} sample {i}: duration"
            );
            assert_eq!(
                o.pt() + lead - s.cts,
                shift,
                "{name} sample {i}: presentation time shifted by one constant"
            );
        }

        // MPD: this representation and its timeline.
        let (set, r) = mpd.periods[0]
            .adaptations
            .iter()
            .find_map(|a| {
                a.representations
                    .iter()
                    .find(|r| r.id.as_deref() == Some(&rep.id))
                    .map(|r| (a, r))
            })
            .unwrap();
        checked.max_sap = checked.max_sap.max(set.startWithSAP.unwrap());
        assert_eq!(r.codecs.as_deref(), Some(rep.codecs.as_str()));
        assert_eq!(r.bandwidth, Some(rep.bandwidth));
        let tpl = r.SegmentTemplate.as_ref().unwrap();
        assert_eq!(tpl.timescale, Some(u64::from(track.timescale)));
        let pto = tpl.presentationTimeOffset.unwrap_or(0) as i64;
        let mut times = Vec::new();
        let mut t = 0u64;
        for s in &tpl.SegmentTimeline.as_ref().unwrap().segments {
            if let Some(st) = s.t {
                t = st;
            }
            for _ in 0..=s.r.unwrap_or(0) {
                times.push((t, s.d));
                t += s.d;
            }
        }
        assert_eq!(
            times.len(),
            segment_bounds.len(),
            "{name} {}: S elements = segments",
            rep.id
        );
        for (i, ((t, d), (ept, end))) in times.iter().zip(&segment_bounds).enumerate() {
            assert_eq!(
                *t as i64,
                *ept,
                "{name} {} segment {}: S@t is the earliest presentation time",
                rep.id,
                i + 1
            );
            let next = segment_bounds.get(i + 1).map_or(*end, |b| b.0);
            assert_eq!(
                *d as i64,
                next - ept,
                "{name} {} segment {}: S@d",
                rep.id,
                i + 1
            );
        }
        // Bandwidth: no less than the largest segment spread over minBufferTime + its duration.
        let ts = f64::from(track.timescale);
        let (last_t, last_d) = *times.last().unwrap();
        max_end = max_end.max((last_t + last_d) as f64 / ts - pto as f64 / ts);
        max_d = max_d.max(times.iter().map(|x| x.1).max().unwrap() as f64 / ts);

        // Timing against the input's edit lists, in period time.
        let first_out = (out_samples[0].pt() + lead - pto) as f64 / ts;
        checked
            .sync_offsets
            .push(first_out - track.presentation(track.samples[0].cts));
        let kind = if track.video {
            ContentType::Video
        } else {
            ContentType::Audio
        };
        let frame = f64::from(track.samples[0].duration) / ts;
        checked.starts.push((
            kind,
            segment_bounds
                .iter()
                .map(|b| (b.0 - pto) as f64 / ts)
                .collect(),
            frame,
        ));
    }
    assert_eq!(files.len(), expected_files, "{name}: no stray files");
    let secs = |d: &Option<std::time::Duration>| d.unwrap().as_secs_f64();
    assert!(
        (secs(&mpd.mediaPresentationDuration) - max_end).abs() < 0.002,
        "{name}: mediaPresentationDuration"
    );
    assert!(
        secs(&mpd.maxSegmentDuration) >= max_d - 1e-9,
        "{name}: maxSegmentDuration"
    );
    assert!(
        secs(&mpd.minBufferTime) >= max_d - 1e-9,
        "{name}: minBufferTime covers a segment"
    );

    // Audio and video keep their relative timing within a millisecond.
    let lo = checked
        .sync_offsets
        .iter()
        .cloned()
        .fold(f64::MAX, f64::min);
    let hi = checked
        .sync_offsets
        .iter()
        .cloned()
        .fold(f64::MIN, f64::max);
    assert!(
        hi - lo < 0.001,
        "{name}: A/V offset changed by {} s",
        hi - lo
    );

    // Video boundaries are the cut points; audio within one audio frame of them.
    if let Some((_, video, _)) = checked.starts.iter().find(|s| s.0 == ContentType::Video) {
        for (kind, starts, frame) in &checked.starts {
            if *kind == ContentType::Audio {
                // Audio that ends before the video does has no segments after its end
                // (every sample is checked above to be in exactly one).
                assert!(
                    starts.len() <= video.len()
                        && (starts.len() == video.len() || name.contains("late_video")),
                    "{name}: audio and video segment counts {} and {}",
                    starts.len(),
                    video.len()
                );
                for (a, v) in starts.iter().zip(video).skip(1) {
                    assert!(
                        (a - v).abs() <= *frame,
                        "{name}: audio cut {a} vs video cut {v}"
                    );
                }
            }
        }
    }
    checked
}

macro_rules! fixture_tests {
    ($($test:ident => $file:literal),* $(,)?) => {$(
        #[test]
        fn $test() {
            let c = check($file, &Options::default());
            // x265 writes open GOPs by default (CRA with RASL pictures), as does x264
            // with open-gop=1: SAP type 3. Everything else starts with SAP 1.
            let expected_sap = if matches!($file, "h264_open_gop.mp4" | "hevc_aac.mp4" | "phone.mov") { 3 } else { 1 };
            assert_eq!(c.max_sap, expected_sap, "startWithSAP");
        }
    )*};
}

for_each_fixture!(fixture_tests);

#[test]
fn every_fixture_is_listed() {
    let mut on_disk: Vec<String> = std::fs::read_dir(fixtures_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".mp4") || n.ends_with(".m4a") || n.ends_with(".mov"))
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = FIXTURES
        .iter()
        .chain(PASSTHROUGH)
        .chain(TRANSCODED)
        .chain(TEXT)
        .chain(LADDER_ONLY)
        .map(|s| s.to_string())
        .collect();
    listed.sort();
    assert_eq!(on_disk, listed);
}

#[test]
fn cuts_follow_the_target_grid() {
    // 2 s keyframes: a 2 s target cuts at every keyframe, 3 s at 4, 6, 10 (first
    // keyframe at or after 3, 6, 9) and the first segment is never shorter.
    for (target, expected) in [
        (2.0, vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0]),
        (3.0, vec![0.0, 4.0, 6.0, 10.0]),
    ] {
        let c = check(
            "video_only.mp4",
            &Options::default().with_segment_duration(target),
        );
        let (_, starts, _) = &c.starts[0];
        assert_eq!(starts, &expected, "target {target}");
    }
}

#[test]
fn delayed_audio_keeps_its_offset() {
    let (tracks, _, p, _) = package("audio_delayed.mp4", &Options::default());
    let audio = tracks.iter().find(|t| !t.video).unwrap();
    assert!(audio.empty > 0, "fixture has an empty edit on audio");
    assert_eq!(p.representations.len(), 2);
    // The general check asserts the offset is preserved; here also that it is real.
    let c = check("audio_delayed.mp4", &Options::default());
    let audio_start = c
        .starts
        .iter()
        .find(|s| s.0 == ContentType::Audio)
        .unwrap()
        .1[0];
    assert!(
        (audio_start - (0.3 - 1024.0 / 48000.0)).abs() < 0.001,
        "audio starts at {audio_start}"
    );
}

#[test]
fn time_addressing_names_segments_by_start() {
    // With HLS, the video starts the presentation at the audio's media time: later by the
    // AAC priming (274 ticks of 12800 Hz, rounded up from 1024/48000 s). Without, each
    // track keeps its own presentationTimeOffset and the video starts at 0.
    for (hls, first_video) in [(false, 0), (true, 274)] {
        let options = Options::default()
            .with_timeline(Timeline::Time)
            .with_hls(hls);
        let (_, _, p, files) = package("h264_aac.mp4", &options);
        let mpd = std::str::from_utf8(&files[&p.mpd]).unwrap();
        assert!(mpd.contains("seg-$Time$.m4s"));
        assert!(!mpd.contains("startNumber"));
        // Each segment is named by its decode time.
        let mut named = 0;
        for (name, bytes) in files.iter().filter(|(k, _)| k.contains("/seg-")) {
            let time = name.rsplit_once("seg-").unwrap().1.strip_suffix(".m4s");
            let time: u64 = time.unwrap().parse().unwrap();
            assert_eq!(read_segment(bytes, 1).tfdt, time, "{name}");
            named += 1;
        }
        assert_eq!(
            named,
            p.representations.iter().map(|r| r.segments).sum::<u32>()
        );
        assert!(files.contains_key(&format!("video-1/seg-{first_video}.m4s")));
        assert!(files.contains_key(&format!("video-1/seg-{}.m4s", first_video + 51200)));
        assert!(files.contains_key("audio-1/seg-0.m4s"));
        let pto = format!("presentationTimeOffset=\"{first_video}\"");
        assert_eq!(mpd.contains(&pto), hls, "{mpd}");
    }
}

#[test]
fn output_is_deterministic() {
    let (_, _, _, a) = package("hevc_aac.mp4", &Options::default());
    let (_, _, _, b) = package("hevc_aac.mp4", &Options::default());
    assert_eq!(a, b);
}

#[test]
fn mpd_attributes() {
    let (_, _, p, files) = package("h264_ntsc.mp4", &Options::default());
    let xml = std::str::from_utf8(&files[&p.mpd]).unwrap();
    assert_eq!(p.mpd, "stream.mpd");
    assert!(xml.contains(r#"frameRate="30000/1001""#), "{xml}");
    assert!(xml.contains(r#"audioSamplingRate="44100""#));
    assert!(xml.contains(r#"sar="1:1""#));
    assert!(xml.contains(r#"profiles="urn:mpeg:dash:profile:isoff-live:2011""#));
    assert!(xml.contains("urn:mpeg:dash:23003:3:audio_channel_configuration:2011"));
    assert!(xml.contains(r#"type="static""#));
    let video = &p.representations[0];
    assert_eq!((video.width, video.height), (Some(320), Some(180)));
}

/// A phone upload (QuickTime, rotated 90 degrees, HDR10 colour, variable frame rate):
/// the display matrix and the colour description reach the init segment unchanged, as
/// mp4-atom reads them from input and output.
#[test]
fn phone_upload_keeps_rotation_and_colour() {
    let (_, input, _, files) = package("phone.mov", &Options::default());
    let moov_in = read_input_moov(&input);
    let video_in = moov_in
        .trak
        .iter()
        .find(|t| t.mdia.hdlr.handler == b"vide".into())
        .unwrap();
    let init = read_init(&files["video-1/init.mp4"]);
    let video_out = &init.trak[0];
    assert_eq!(
        video_in.tkhd.matrix.b.abs(),
        0x0001_0000,
        "the input is rotated by 90 degrees"
    );
    assert_eq!(
        video_out.tkhd.matrix, video_in.tkhd.matrix,
        "display matrix"
    );
    let colr = |t: &mp4_atom::Trak| match &t.mdia.minf.stbl.stsd.codecs[0] {
        mp4_atom::Codec::Hvc1(h) => h.colr.clone(),
        other => panic!("{other:?}"),
    };
    let c = colr(video_in).expect("the input has colr");
    assert_eq!(colr(video_out), Some(c.clone()), "colour description");
    assert!(format!("{c:?}").contains("16"), "PQ transfer (16) in {c:?}");
    // Variable frame rate: the input's frame durations differ, and so do the output's.
    let durations: std::collections::BTreeSet<u32> = files
        .iter()
        .filter(|(k, _)| k.starts_with("video-1/seg-"))
        .flat_map(|(_, b)| read_segment(b, 1).samples.into_iter().map(|s| s.duration))
        .collect();
    assert!(durations.len() > 1, "frame durations {durations:?}");
    // @frameRate is the average over the Representation (ISO/IEC 23009-1 5.3.7.2), as
    // FFmpeg's avg_frame_rate gives it for the input, not the most common rate.
    let probe = std::process::Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v", "-show_entries"])
        .args(["stream=avg_frame_rate", "-of", "csv=p=0"])
        .arg(fixture("phone.mov"))
        .output()
        .unwrap();
    let average = String::from_utf8(probe.stdout)
        .unwrap()
        .trim()
        .trim_end_matches(',')
        .to_string();
    assert_eq!(average, "103/4", "the fixture's average frame rate");
    let (.., p, mpd_files) = package("phone.mov", &Options::default());
    let xml = std::str::from_utf8(&mpd_files[&p.mpd]).unwrap();
    assert!(xml.contains(&format!("frameRate=\"{average}\"")), "{xml}");
}
