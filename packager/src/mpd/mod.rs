//! The MPD: a static presentation, `isoff-live` with one SegmentTemplate and
//! SegmentTimeline per Representation (ISO/IEC 23009-1 5.3.9) or `isoff-on-demand` with
//! SegmentBase byte ranges (5.3.9.2), built as a typed model and serialised with
//! quick-xml.

mod bandwidth;
pub(crate) mod model;
mod thumbnails;

use model::{
    AdaptationSet, ContentProtection, Descriptor, Initialization, Mpd, Period, Representation, S,
    SegmentBase, SegmentTemplate, SegmentTimeline,
};
use serde::Serialize;

use crate::crypt::{self, CLEARKEY_UUID, COMMON_SYSTEM_ID};
use crate::described::{BuiltSegment, ImageInput, RepInput, RepProtection, TextInput};
use crate::layout::ContentType;
use crate::layout::Timeline;
use crate::layout::{FileKind, init_path, media_template, on_demand_path};
pub(crate) use bandwidth::bandwidth;
pub(crate) use thumbnails::image_bandwidth;

impl RepProtection<'_> {
    /// `mp4protection` with the default KID, then one element per DRM system.
    fn descriptors(&self) -> Vec<ContentProtection> {
        let mut out = vec![ContentProtection {
            scheme_id_uri: "urn:mpeg:dash:mp4protection:2011".into(),
            value: Some(self.scheme.as_str().into()),
            default_kid: Some(crypt::uuid_string(&self.kid)),
            laurl: None,
            pssh: None,
        }];
        for p in self.pssh {
            if p.system_id() == COMMON_SYSTEM_ID {
                // No `cenc:pssh` here: players then ask ClearKey for the default KID
                // ("keyids" init data), which dash.js and Shaka both support.
                if let Some(url) = &self.clearkey_laurl {
                    out.push(ContentProtection {
                        scheme_id_uri: format!("urn:uuid:{CLEARKEY_UUID}"),
                        value: Some("ClearKey1.0".into()),
                        default_kid: None,
                        laurl: Some(url.clone()),
                        pssh: None,
                    });
                }
                continue;
            }
            out.push(ContentProtection {
                scheme_id_uri: format!("urn:uuid:{}", p.system_uuid()),
                value: p.system_name().map(str::to_string),
                default_kid: None,
                laurl: None,
                pssh: Some(p.base64()),
            });
        }
        out
    }
}

impl RepInput<'_> {
    fn seconds(&self, media_time: u64) -> f64 {
        (media_time as f64 - self.pto as f64) / f64::from(self.timescale)
    }

    /// End of the last segment in period time, seconds, or earlier where the edit list
    /// ends the track inside the last segment.
    pub fn end(&self) -> f64 {
        self.segments.last().map_or(0.0, |s| {
            let end = s.time + s.duration;
            let end = match self.until {
                Some(u) if u > s.time => end.min(u),
                _ => end,
            };
            self.seconds(end)
        })
    }

    pub fn max_segment_duration(&self) -> f64 {
        self.segments
            .iter()
            .map(|s| s.duration as f64 / f64::from(self.timescale))
            .fold(0.0, f64::max)
    }
}

/// The written MPD and the per-Representation bandwidths, in the order given.
pub(crate) struct Written {
    pub xml: String,
    pub bandwidths: Vec<u64>,
    pub duration: f64,
    pub min_buffer_time: f64,
}

pub(crate) fn timeline(segments: &[BuiltSegment]) -> Vec<S> {
    let mut out: Vec<S> = Vec::new();
    let mut expected: Option<u64> = None;
    for seg in segments {
        let contiguous = expected == Some(seg.time);
        if let Some(last) = out.last_mut()
            && contiguous
            && last.d == seg.duration
        {
            *last.r.get_or_insert(0) += 1;
            expected = Some(seg.time + seg.duration);
            continue;
        }
        out.push(S {
            t: (!contiguous).then_some(seg.time),
            d: seg.duration,
            r: None,
        });
        expected = Some(seg.time + seg.duration);
    }
    out
}

/// `xs:duration` in seconds with millisecond precision, rounded up so that durations
/// are never understated.
pub(crate) fn xs_duration(seconds: f64) -> String {
    let ms = (seconds.max(0.0) * 1000.0 - 1e-6).ceil() as u64;
    if ms.is_multiple_of(1000) {
        format!("PT{}S", ms / 1000)
    } else {
        let frac = format!("{:03}", ms % 1000);
        format!("PT{}.{}S", ms / 1000, frac.trim_end_matches('0'))
    }
}

fn ratio(num: u64, den: u64) -> String {
    if den == 1 {
        num.to_string()
    } else {
        format!("{num}/{den}")
    }
}

fn aligned(reps: &[&RepInput<'_>]) -> bool {
    let Some(first) = reps.first() else {
        return true;
    };
    reps.iter().all(|r| {
        r.segments.len() == first.segments.len()
            && r.segments.iter().zip(first.segments).all(|(a, b)| {
                (r.seconds(a.time) - first.seconds(b.time)).abs()
                    <= r.tolerance.max(first.tolerance)
            })
    })
}

/// The AdaptationSet of group `set_id`: its Representations, and what they share.
fn media_set(
    reps: &[RepInput<'_>],
    groups: &[Vec<usize>],
    set_id: usize,
    bandwidths: &[u64],
    timeline_kind: Timeline,
) -> AdaptationSet {
    let group = &groups[set_id];
    let members: Vec<&RepInput<'_>> = group.iter().map(|&i| &reps[i]).collect();
    let first = members[0];
    let video = first.kind == ContentType::Video;
    let several = groups
        .iter()
        .filter(|g| reps[g[0]].kind == first.kind)
        .count()
        > 1;
    let is_first_of_kind =
        groups.iter().position(|g| reps[g[0]].kind == first.kind) == Some(set_id);
    let on_demand = first.on_demand.is_some();
    let sap = members.iter().map(|r| r.sap).max().unwrap_or(1);
    // One protection for the whole set when every member shares it.
    let shared = members.iter().all(|r| r.protection == first.protection);
    let set_protection = if shared {
        first
            .protection
            .as_ref()
            .map(RepProtection::descriptors)
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    let representations = group
        .iter()
        .map(|&i| {
            let r = &reps[i];
            let protection = if shared { None } else { r.protection.as_ref() };
            representation(r, bandwidths[i], protection, timeline_kind)
        })
        .collect();
    AdaptationSet {
        id: set_id as u32,
        content_type: first.kind.as_str(),
        mime_type: FileKind::Media(first.kind).content_type(),
        lang: (!video || first.language != "und").then(|| first.language.to_string()),
        segment_alignment: (!on_demand && aligned(&members)).then_some(true),
        start_with_sap: (!on_demand).then_some(sap),
        subsegment_alignment: (on_demand && aligned(&members)).then_some(true),
        subsegment_starts_with_sap: on_demand.then_some(sap),
        max_width: (video && members.len() > 1)
            .then(|| members.iter().map(|r| r.width).max().unwrap_or(0)),
        max_height: (video && members.len() > 1)
            .then(|| members.iter().map(|r| r.height).max().unwrap_or(0)),
        max_frame_rate: None,
        content_protection: set_protection,
        accessibility: caption_descriptors(&members),
        role: (several || first.kind == ContentType::Text).then(|| Descriptor {
            scheme_id_uri: "urn:mpeg:dash:role:2011",
            value: if first.kind == ContentType::Text {
                first.role.unwrap_or("subtitle")
            } else if is_first_of_kind {
                "main"
            } else {
                "alternate"
            }
            .to_string(),
        }),
        representations,
    }
}

pub(crate) fn write(
    reps: &[RepInput<'_>],
    texts: &[TextInput<'_>],
    images: &[ImageInput<'_>],
    timeline_kind: Timeline,
) -> Result<Written, quick_xml::SeError> {
    let max_seg = reps
        .iter()
        .map(RepInput::max_segment_duration)
        .fold(0.0, f64::max);
    let duration = reps.iter().map(RepInput::end).fold(0.0, f64::max);
    // Players must buffer a whole segment before they can start anyway; the bandwidth
    // below is computed for exactly this buffer.
    let min_buffer = (max_seg * 1000.0).ceil() / 1000.0;
    let bandwidths: Vec<u64> = reps
        .iter()
        .map(|r| bandwidth(r.segments, r.timescale, min_buffer))
        .collect();

    let groups = adaptation_groups(reps);
    let mut sets: Vec<AdaptationSet> = (0..groups.len())
        .map(|set_id| media_set(reps, &groups, set_id, &bandwidths, timeline_kind))
        .collect();
    for t in texts {
        let id = sets.len() as u32;
        sets.push(text_set(id, t, duration));
    }
    for image in images {
        let id = sets.len() as u32;
        sets.push(thumbnails::image_set(id, image));
    }
    let protected = reps.iter().any(|r| r.protection.is_some());
    let mpd = Mpd {
        xmlns: "urn:mpeg:dash:schema:mpd:2011",
        xmlns_cenc: protected.then_some("urn:mpeg:cenc:2013"),
        xmlns_dashif: protected.then_some("https://dashif.org/CPS"),
        xmlns_scte214: reps
            .iter()
            .any(|r| r.supplemental.is_some())
            .then_some("urn:scte:dash:scte214-extensions"),
        profiles: if reps.iter().any(|r| r.on_demand.is_some()) {
            "urn:mpeg:dash:profile:isoff-on-demand:2011"
        } else {
            "urn:mpeg:dash:profile:isoff-live:2011"
        },
        kind: "static",
        media_presentation_duration: xs_duration(duration),
        max_segment_duration: xs_duration(max_seg),
        min_buffer_time: xs_duration(min_buffer),
        periods: vec![Period {
            id: "0",
            start: "PT0S",
            adaptation_sets: sets,
        }],
    };
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let mut ser = quick_xml::se::Serializer::new(&mut xml);
    ser.indent(' ', 2);
    mpd.serialize(ser)?;
    xml.push('\n');
    Ok(Written {
        xml,
        bandwidths,
        duration,
        min_buffer_time: min_buffer,
    })
}

/// One AdaptationSet per content type, sample entry type and (audio) language: the
/// indexes of its Representations, in order.
fn adaptation_groups(reps: &[RepInput<'_>]) -> Vec<Vec<usize>> {
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for (i, r) in reps.iter().enumerate() {
        let same = |j: &usize| {
            let o = &reps[*j];
            // Text tracks are never bitrates of one another: each its own set.
            o.kind == r.kind
                && r.kind != ContentType::Text
                && o.fourcc == r.fourcc
                && (r.kind == ContentType::Video || (o.language == r.language && o.slot == r.slot))
        };
        match groups.iter_mut().find(|g| g.first().is_some_and(same)) {
            Some(g) => g.push(i),
            None => groups.push(vec![i]),
        }
    }
    groups
}

/// The closed captions of an AdaptationSet's Representations as `Accessibility`
/// descriptors (SCTE 214-1, DASH-IF IOP 6.4.3): `CC1=eng;CC3=spa` for CEA-608,
/// `1=lang:eng` for CEA-708 services. Languages are ISO 639-2 codes there.
fn caption_descriptors(members: &[&RepInput<'_>]) -> Vec<Descriptor> {
    let mut channels: Vec<&(String, String)> = Vec::new();
    for c in members.iter().flat_map(|r| r.captions) {
        if !channels.iter().any(|k| k.0 == c.0) {
            channels.push(c);
        }
    }
    let cea608: Vec<String> = channels
        .iter()
        .filter(|(c, _)| c.starts_with("CC"))
        .map(|(c, l)| format!("{c}={}", crate::lang::iso639_2(l)))
        .collect();
    let cea708: Vec<String> = channels
        .iter()
        .filter_map(|(c, l)| {
            let n = c.strip_prefix("SERVICE")?;
            Some(format!("{n}=lang:{}", crate::lang::iso639_2(l)))
        })
        .collect();
    [
        ("urn:scte:dash:cc:cea-608:2015", cea608),
        ("urn:scte:dash:cc:cea-708:2015", cea708),
    ]
    .into_iter()
    .filter(|(_, v)| !v.is_empty())
    .map(|(scheme_id_uri, v)| Descriptor {
        scheme_id_uri,
        value: v.join(";"),
    })
    .collect()
}

/// One audio or video Representation; `protection` when it is signalled here rather
/// than once for its AdaptationSet.
fn representation(
    r: &RepInput<'_>,
    bandwidth: u64,
    protection: Option<&RepProtection<'_>>,
    timeline_kind: Timeline,
) -> Representation {
    let video = r.kind == ContentType::Video;
    Representation {
        content_protection: protection
            .map(RepProtection::descriptors)
            .unwrap_or_default(),
        id: r.id.to_string(),
        codecs: r.codecs.to_string(),
        bandwidth,
        width: video.then_some(r.width),
        height: video.then_some(r.height),
        frame_rate: r.frame_rate.map(|(n, d)| ratio(n, d)),
        sar: video.then(|| {
            let (h, v) = r.sar.unwrap_or((1, 1));
            format!("{h}:{v}")
        }),
        audio_sampling_rate: (r.kind == ContentType::Audio).then_some(r.sample_rate),
        supplemental_codecs: r.supplemental.map(|s| s.codecs.clone()),
        essential_property: None,
        audio_channel_configuration: match (r.dolby_mask, r.channel_scheme) {
            _ if r.kind != ContentType::Audio => None,
            (Some(mask), _) => Some(Descriptor {
                scheme_id_uri: "tag:dolby.com,2014:dash:audio_channel_configuration:2011",
                value: format!("{mask:04X}"),
            }),
            (None, Some((scheme_id_uri, value))) => Some(Descriptor {
                scheme_id_uri,
                value: value.to_string(),
            }),
            (None, None) => (r.channels > 0).then(|| Descriptor {
                scheme_id_uri: "urn:mpeg:dash:23003:3:audio_channel_configuration:2011",
                value: r.channels.to_string(),
            }),
        },
        base_url: r.on_demand.map(|_| on_demand_path(r.id)),
        segment_base: r.on_demand.map(|(init, (first, last))| SegmentBase {
            timescale: r.timescale,
            presentation_time_offset: (r.pto > 0).then_some(r.pto),
            index_range: format!("{first}-{last}"),
            index_range_exact: true,
            initialization: Initialization {
                range: format!("0-{}", init - 1),
            },
        }),
        segment_template: r.on_demand.is_none().then(|| SegmentTemplate {
            timescale: r.timescale,
            presentation_time_offset: (r.pto > 0).then_some(r.pto),
            initialization: Some(init_path(r.id)),
            media: media_template(r.id, timeline_kind),
            start_number: (timeline_kind == Timeline::Number).then_some(1),
            duration: None,
            timeline: Some(SegmentTimeline {
                s: timeline(r.segments),
            }),
        }),
    }
}

/// A sidecar file's bandwidth: its bits over the presentation.
pub(crate) fn text_bandwidth(bytes: u64, duration: f64) -> u64 {
    if duration > 0.0 {
        (bytes as f64 * 8.0 / duration).ceil() as u64
    } else {
        0
    }
}

/// A WebVTT or TTML sidecar's AdaptationSet; its bandwidth is its size over the
/// presentation.
fn text_set(id: u32, t: &TextInput<'_>, duration: f64) -> AdaptationSet {
    let mime_type = if t.ttml {
        FileKind::TtmlSubtitles
    } else {
        FileKind::Subtitles
    }
    .content_type();
    let rep = Representation {
        base_url: Some(t.file.to_string()),
        ..Representation::plain(t.id.to_string(), text_bandwidth(t.bytes, duration))
    };
    AdaptationSet {
        lang: Some(t.language.to_string()),
        role: Some(Descriptor {
            scheme_id_uri: "urn:mpeg:dash:role:2011",
            value: t.role.unwrap_or("subtitle").into(),
        }),
        ..AdaptationSet::plain(id, ContentType::Text.as_str(), mime_type, vec![rep])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypt::{Pssh, Scheme};
    use bandwidth::bandwidth_pairs;

    fn seg(time: u64, duration: u64, bytes: u64) -> BuiltSegment {
        BuiltSegment {
            time,
            duration,
            bytes,
            key_bytes: 0,
        }
    }

    #[test]
    fn timeline_compresses_repeats() {
        let segs = [seg(0, 4, 1), seg(4, 4, 1), seg(8, 4, 1), seg(12, 2, 1)];
        let s = timeline(&segs);
        assert_eq!(
            s,
            [
                S {
                    t: Some(0),
                    d: 4,
                    r: Some(2)
                },
                S {
                    t: None,
                    d: 2,
                    r: None
                }
            ]
        );
        let s = timeline(&[seg(10, 4, 1), seg(20, 4, 1)]);
        assert_eq!(s[1].t, Some(20), "a gap restates t");
    }

    #[test]
    fn bandwidth_is_not_the_average() {
        // One big segment among small ones: 1 s segments, 1 s buffer.
        let segs = [
            seg(0, 1, 1000),
            seg(1, 1, 10_000),
            seg(2, 1, 1000),
            seg(3, 1, 1000),
        ];
        let bw = bandwidth(&segs, 1, 1.0);
        let average = (13_000.0 * 8.0 / 4.0) as u64;
        assert!(bw > average, "{bw} vs average {average}");
        // Starting at segment 1: 80000 bits due by 1 s.
        assert_eq!(bw, 80_000);
        // Constant segments: exactly their rate.
        let flat = [seg(0, 2, 500), seg(2, 2, 500), seg(4, 2, 500)];
        assert_eq!(bandwidth(&flat, 1, 2.0), 2000);
    }

    #[test]
    fn fast_bandwidth_agrees_with_every_pair() {
        // Seeded pseudo-random segment lists: odd timescales, gaps, bursts.
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = |m: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % m
        };
        for _ in 0..300 {
            let timescale = [1u32, 1000, 30_000, 44_100, 90_000][next(5) as usize];
            let n = 1 + next(60) as usize;
            let mut time = next(1000) * u64::from(timescale);
            let mut segs = Vec::new();
            for _ in 0..n {
                let d = u64::from(timescale) * (1 + next(6)) / (1 + next(3));
                let d = d.max(1);
                segs.push(BuiltSegment {
                    time,
                    duration: d,
                    bytes: next(5_000_000) * (1 + next(20) / 19 * 20),
                    key_bytes: 0,
                });
                time += d + next(3) * u64::from(timescale) / 7;
            }
            let max = segs.iter().map(|s| s.duration).max().unwrap();
            let min_buffer = (max as f64 / f64::from(timescale) * 1000.0).ceil() / 1000.0;
            let fast = bandwidth(&segs, timescale, min_buffer);
            let slow = bandwidth_pairs(&segs, timescale, min_buffer);
            assert!(fast.abs_diff(slow) <= 1, "{fast} vs {slow} for {segs:?}");
        }
    }

    #[test]
    fn content_protection_per_system() {
        let widevine = Pssh::build(
            [
                0xed, 0xef, 0x8b, 0xa9, 0x79, 0xd6, 0x4a, 0xce, 0xa3, 0xc8, 0x27, 0xdc, 0xd5, 0x1d,
                0x21, 0xed,
            ],
            &[],
            b"\x12\x10data",
        );
        let pssh = [Pssh::build(COMMON_SYSTEM_ID, &[[1; 16]], &[]), widevine];
        let p = RepProtection {
            scheme: Scheme::Cbcs,
            kid: [1; 16],
            pssh: &pssh,
            clearkey_laurl: Some("https://l.example/ck".into()),
        };
        let d = p.descriptors();
        assert_eq!(d.len(), 3);
        assert_eq!(d[0].scheme_id_uri, "urn:mpeg:dash:mp4protection:2011");
        assert_eq!(d[0].value.as_deref(), Some("cbcs"));
        assert_eq!(
            d[0].default_kid.as_deref(),
            Some("01010101-0101-0101-0101-010101010101")
        );
        assert_eq!(
            d[1].scheme_id_uri,
            "urn:uuid:e2719d58-a985-b3c9-781a-b030af78d30e"
        );
        assert_eq!(d[1].laurl.as_deref(), Some("https://l.example/ck"));
        assert_eq!(
            d[2].scheme_id_uri,
            "urn:uuid:edef8ba9-79d6-4ace-a3c8-27dcd51d21ed"
        );
        assert_eq!(d[2].value.as_deref(), Some("Widevine"));
        assert_eq!(d[2].pssh.as_deref(), Some(pssh[1].base64().as_str()));
        // Without ClearKey, the common-system pssh stays in the init segment only.
        let plain = RepProtection {
            clearkey_laurl: None,
            ..p
        };
        assert_eq!(plain.descriptors().len(), 2);
    }

    #[test]
    fn durations() {
        assert_eq!(xs_duration(10.0), "PT10S");
        assert_eq!(xs_duration(4.004), "PT4.004S");
        assert_eq!(xs_duration(0.5), "PT0.5S");
        assert_eq!(xs_duration(3.0001), "PT3.001S");
    }
}
