//! Reading an MPD back: which files each Representation is made of, where its
//! segments start and what it declares (ISO/IEC 23009-1 5.3). Only the static profiles
//! (`isoff-live` templates with or without a SegmentTimeline, `isoff-on-demand`
//! SegmentBase) are understood; that is what packagers write for video on demand.

use serde::Deserialize;

/// Segments enumerated per Representation at most, so a hostile `@r` or `@duration`
/// cannot make it list billions of files.
const MAX_SEGMENTS: u64 = 100_000;

#[derive(Debug, Deserialize)]
pub(crate) struct Mpd {
    #[serde(rename = "@mediaPresentationDuration")]
    pub duration: Option<String>,
    #[serde(rename = "@minBufferTime")]
    pub min_buffer_time: Option<String>,
    #[serde(rename = "@maxSegmentDuration")]
    pub max_segment_duration: Option<String>,
    #[serde(rename = "Period", default)]
    pub periods: Vec<Period>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Period {
    #[serde(rename = "@duration")]
    pub duration: Option<String>,
    #[serde(rename = "AdaptationSet", default)]
    pub adaptation_sets: Vec<AdaptationSet>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct AdaptationSet {
    #[serde(rename = "@contentType")]
    pub content_type: Option<String>,
    #[serde(rename = "@mimeType")]
    pub mime_type: Option<String>,
    #[serde(rename = "@codecs")]
    pub codecs: Option<String>,
    #[serde(rename = "@lang")]
    pub lang: Option<String>,
    #[serde(rename = "ContentProtection", default)]
    pub content_protection: Vec<ContentProtection>,
    #[serde(rename = "SegmentTemplate")]
    pub segment_template: Option<SegmentTemplate>,
    #[serde(rename = "Representation", default)]
    pub representations: Vec<Representation>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ContentProtection {
    #[serde(rename = "@schemeIdUri")]
    pub scheme_id_uri: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Representation {
    #[serde(rename = "@id")]
    pub id: Option<String>,
    #[serde(rename = "@mimeType")]
    pub mime_type: Option<String>,
    #[serde(rename = "@codecs")]
    pub codecs: Option<String>,
    #[serde(rename = "@bandwidth")]
    pub bandwidth: Option<u64>,
    #[serde(rename = "@width")]
    pub width: Option<u32>,
    #[serde(rename = "@height")]
    pub height: Option<u32>,
    #[serde(rename = "@frameRate")]
    pub frame_rate: Option<String>,
    #[serde(rename = "BaseURL")]
    pub base_url: Option<String>,
    #[serde(rename = "SegmentBase")]
    pub segment_base: Option<SegmentBase>,
    #[serde(rename = "SegmentTemplate")]
    pub segment_template: Option<SegmentTemplate>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct SegmentBase {
    #[serde(rename = "@timescale")]
    pub timescale: Option<u32>,
    #[serde(rename = "@presentationTimeOffset")]
    pub presentation_time_offset: Option<u64>,
    #[serde(rename = "@indexRange")]
    pub index_range: Option<String>,
    #[serde(rename = "Initialization")]
    pub initialization: Option<Initialization>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Initialization {
    #[serde(rename = "@range")]
    pub range: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct SegmentTemplate {
    #[serde(rename = "@timescale")]
    pub timescale: Option<u32>,
    #[serde(rename = "@presentationTimeOffset")]
    pub presentation_time_offset: Option<u64>,
    #[serde(rename = "@initialization")]
    pub initialization: Option<String>,
    #[serde(rename = "@media")]
    pub media: Option<String>,
    #[serde(rename = "@startNumber")]
    pub start_number: Option<u64>,
    #[serde(rename = "@duration")]
    pub duration: Option<u64>,
    #[serde(rename = "SegmentTimeline")]
    pub timeline: Option<SegmentTimeline>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct SegmentTimeline {
    #[serde(rename = "S", default)]
    pub s: Vec<S>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct S {
    #[serde(rename = "@t")]
    pub t: Option<u64>,
    #[serde(rename = "@d")]
    pub d: u64,
    #[serde(rename = "@r")]
    pub r: Option<i64>,
}

pub(crate) fn parse(text: &str) -> Result<Mpd, String> {
    quick_xml::de::from_str(text).map_err(|e| e.to_string())
}

/// An `xs:duration` as the MPD uses it (`PT1H2M3.5S`, `P1DT2S`), in seconds.
pub(crate) fn duration_seconds(text: &str) -> Option<f64> {
    let rest = text.trim().strip_prefix('P')?;
    let (days, time) = match rest.split_once('T') {
        Some((d, t)) => (d, t),
        None => (rest, ""),
    };
    let mut seconds = 0.0;
    let mut take = |part: &str, units: &[(char, f64)]| -> Option<()> {
        let mut number = String::new();
        for c in part.chars() {
            if c.is_ascii_digit() || c == '.' {
                number.push(c);
            } else {
                let scale = units.iter().find(|(u, _)| *u == c)?.1;
                seconds += number.parse::<f64>().ok()? * scale;
                number.clear();
            }
        }
        number.is_empty().then_some(())
    };
    take(days, &[('D', 86_400.0)])?;
    take(time, &[('H', 3600.0), ('M', 60.0), ('S', 1.0)])?;
    Some(seconds)
}

/// `a-b` as an inclusive byte range.
pub(crate) fn byte_range(text: &str) -> Option<(u64, u64)> {
    let (a, b) = text.trim().split_once('-')?;
    let (a, b) = (a.parse().ok()?, b.parse().ok()?);
    (a <= b).then_some((a, b))
}

/// One media segment a template names: its number, its start in the template's
/// timescale and, with a SegmentTimeline, its declared duration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Planned {
    pub number: u64,
    pub time: u64,
    pub duration: u64,
}

/// The segments a template lists over a period of `period_s` seconds.
pub(crate) fn planned_segments(
    template: &SegmentTemplate,
    period_s: f64,
) -> Result<Vec<Planned>, String> {
    let timescale = u64::from(template.timescale.unwrap_or(1).max(1));
    let start_number = template.start_number.unwrap_or(1);
    let period_end = (period_s * timescale as f64).round() as u64;
    let mut out = Vec::new();
    let push = |out: &mut Vec<Planned>, time: u64, duration: u64| {
        if out.len() as u64 >= MAX_SEGMENTS {
            return Err(format!("more than {MAX_SEGMENTS} segments"));
        }
        out.push(Planned {
            number: start_number + out.len() as u64,
            time,
            duration,
        });
        Ok(())
    };
    if let Some(timeline) = &template.timeline {
        let mut t = template.presentation_time_offset.unwrap_or(0);
        for (i, s) in timeline.s.iter().enumerate() {
            if s.d == 0 {
                return Err(format!("SegmentTimeline S[{}] has @d=\"0\"", i + 1));
            }
            if let Some(start) = s.t {
                t = start;
            }
            let repeats = match s.r {
                Some(r) if r >= 0 => r as u64,
                // Up to the next S's @t, or the end of the period (5.3.9.6).
                Some(_) => {
                    let end = timeline
                        .s
                        .get(i + 1)
                        .and_then(|n| n.t)
                        .unwrap_or(period_end + template.presentation_time_offset.unwrap_or(0));
                    end.saturating_sub(t).div_ceil(s.d).saturating_sub(1)
                }
                None => 0,
            };
            for _ in 0..=repeats {
                push(&mut out, t, s.d)?;
                t = t
                    .checked_add(s.d)
                    .ok_or("SegmentTimeline overflows 64 bits")?;
            }
        }
    } else if let Some(d) = template.duration.filter(|d| *d > 0) {
        let count = period_end.div_ceil(d);
        if count > MAX_SEGMENTS {
            return Err(format!("more than {MAX_SEGMENTS} segments"));
        }
        for n in 0..count {
            push(&mut out, n * d, d.min(period_end - n * d))?;
        }
    } else {
        return Err("SegmentTemplate has neither a SegmentTimeline nor @duration".into());
    }
    Ok(out)
}

/// A template with its identifiers replaced (5.3.9.4.4): `$RepresentationID$`,
/// `$Number$`, `$Time$`, `$Bandwidth$`, each with an optional `%0Nd` width, and `$$`.
pub(crate) fn expand(
    template: &str,
    id: &str,
    bandwidth: u64,
    number: u64,
    time: u64,
) -> Result<String, String> {
    let mut out = String::new();
    let mut parts = template.split('$');
    out.push_str(parts.next().unwrap_or(""));
    let mut inside = true;
    for part in parts {
        if !inside {
            out.push_str(part);
            inside = true;
            continue;
        }
        inside = false;
        if part.is_empty() {
            out.push('$');
            continue;
        }
        let (name, format) = match part.split_once('%') {
            Some((n, f)) => (n, Some(f)),
            None => (part, None),
        };
        let value = match name {
            "RepresentationID" if format.is_none() => {
                out.push_str(id);
                continue;
            }
            "Number" => number,
            "Time" => time,
            "Bandwidth" => bandwidth,
            _ => {
                return Err(format!(
                    "unknown template identifier ${part}$ in {template:?}"
                ));
            }
        };
        match format {
            None => out.push_str(&value.to_string()),
            Some(f) => {
                let width = f
                    .strip_prefix('0')
                    .and_then(|w| w.strip_suffix('d'))
                    .and_then(|w| w.parse::<usize>().ok())
                    .filter(|w| *w <= 32)
                    .ok_or_else(|| format!("bad format tag %{f} in {template:?}"))?;
                out.push_str(&format!("{value:0width$}"));
            }
        }
    }
    if !inside {
        return Err(format!("unbalanced $ in template {template:?}"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(duration_seconds("PT1H2M3.5S"), Some(3723.5));
        assert_eq!(duration_seconds("P1DT2S"), Some(86_402.0));
        assert_eq!(duration_seconds("PT0.960S"), Some(0.96));
        assert_eq!(duration_seconds("PT5X"), None);
        assert_eq!(duration_seconds("1S"), None);
    }

    #[test]
    fn templates() {
        let e = |t| expand(t, "v1", 500_000, 7, 9000);
        assert_eq!(
            e("$RepresentationID$/seg-$Number$.m4s").unwrap(),
            "v1/seg-7.m4s"
        );
        assert_eq!(e("s-$Number%05d$-$Time$.m4s").unwrap(), "s-00007-9000.m4s");
        assert_eq!(e("$Bandwidth$/a$$b").unwrap(), "500000/a$b");
        assert!(e("$Foo$").is_err());
        assert!(e("seg-$Number").is_err());
        assert!(e("$Number%5x$").is_err());
    }

    fn template(timeline: Vec<S>, duration: Option<u64>) -> SegmentTemplate {
        SegmentTemplate {
            timescale: Some(1000),
            presentation_time_offset: None,
            initialization: None,
            media: None,
            start_number: Some(1),
            duration,
            timeline: (!timeline.is_empty()).then_some(SegmentTimeline { s: timeline }),
        }
    }

    #[test]
    fn timelines() {
        let s = |t, d, r| S { t, d, r };
        let got = planned_segments(
            &template(vec![s(Some(0), 4000, Some(1)), s(None, 1500, None)], None),
            9.5,
        )
        .unwrap();
        let times: Vec<_> = got.iter().map(|p| (p.number, p.time, p.duration)).collect();
        assert_eq!(times, vec![(1, 0, 4000), (2, 4000, 4000), (3, 8000, 1500)]);
        // @r="-1": repeat to the end of the period.
        let got = planned_segments(&template(vec![s(Some(0), 2000, Some(-1))], None), 7.0).unwrap();
        assert_eq!(got.len(), 4);
        // @duration without a timeline; the last segment is cut at the period's end.
        let got = planned_segments(&template(vec![], Some(4000)), 10.0).unwrap();
        assert_eq!(
            got.iter().map(|p| p.duration).collect::<Vec<_>>(),
            vec![4000, 4000, 2000]
        );
        // A hostile repeat count is bounded.
        assert!(
            planned_segments(&template(vec![s(Some(0), 1, Some(i64::MAX))], None), 1.0).is_err()
        );
        assert!(planned_segments(&template(vec![s(Some(0), 1, Some(-1))], None), 1e12).is_err());
    }
}
