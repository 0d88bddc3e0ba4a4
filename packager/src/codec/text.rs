//! Text carried as it is in fragmented MP4 (ISO/IEC 14496-30): WebVTT (`wvtt`, each
//! sample a run of `vttc`/`vtte`/`vtta` boxes) and TTML (`stpp`, each sample an XML
//! document). Players read both from segments; nothing is converted.

use crate::mp4::header::Bx;

/// The `codecs` of an `stpp` entry (14496-30 and DASH-IF IOP 6.4.4): `stpp.ttml.` and
/// the IMSC profile its namespace and schema location name (`im1t`, `im1i`, `im2t`,
/// `im2i`); IMSC1 Text when they name none, the profile nearly all TTML in MP4 keeps to.
pub(crate) fn stpp_codecs(namespaces: &str) -> String {
    let profile = if namespaces.contains("imsc1.1/image") || namespaces.contains("im2i") {
        "im2i"
    } else if namespaces.contains("imsc1.1") || namespaces.contains("im2t") {
        "im2t"
    } else if namespaces.contains("imsc1/image") || namespaces.contains("im1i") {
        "im1i"
    } else {
        "im1t"
    };
    format!("stpp.ttml.{profile}")
}

/// The `codecs` of an `stpp` sample entry (an XMLSubtitleSampleEntry: SampleEntry,
/// then namespace, schema_location and auxiliary_mime_types as NUL-terminated strings).
pub(crate) fn stpp_entry_codecs(entry: &Bx<'_>) -> String {
    let strings = entry.raw.get(entry.header_len + 8..).unwrap_or_default();
    stpp_codecs(&String::from_utf8_lossy(strings).to_ascii_lowercase())
}

/// The framing of a text sample: `wvtt` boxes that tile it exactly (`webvtt`); `stpp`
/// an XML document (its first non-blank byte `<`, after a byte-order mark if any).
pub(crate) fn check(webvtt: bool, data: &[u8]) -> Result<(), String> {
    match webvtt {
        true => {
            let mut at = 0usize;
            while at < data.len() {
                let Some(head) = data.get(at..at + 8) else {
                    return Err(format!(
                        "{} bytes left at {at}: no WebVTT box header",
                        data.len() - at
                    ));
                };
                let size = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
                let kind = &head[4..8];
                if size < 8 || at + size > data.len() {
                    return Err(format!(
                        "box '{}' of {size} bytes at {at} does not fit the sample's {} bytes",
                        String::from_utf8_lossy(kind),
                        data.len()
                    ));
                }
                if !matches!(kind, b"vttc" | b"vtte" | b"vtta") {
                    return Err(format!(
                        "'{}' is not a WebVTT sample box",
                        String::from_utf8_lossy(kind)
                    ));
                }
                at += size;
            }
            if data.is_empty() {
                return Err("an empty WebVTT sample (a gap is a vtte box)".into());
            }
            Ok(())
        }
        _ => {
            let text = data.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(data);
            match text.iter().find(|b| !b.is_ascii_whitespace()) {
                Some(b'<') => Ok(()),
                _ => Err("not an XML document".into()),
            }
        }
    }
}

/// One cue of a `wvtt` sample (a `vttc` box): its cue settings (`sttg`) and text
/// (`payl`), WebVTT cue text as it was written (markup and entities kept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct VttCue {
    pub settings: String,
    pub text: String,
}

/// The cues of a `wvtt` sample: one per `vttc` box; gaps (`vtte`) and comments (`vtta`)
/// have none. Boxes that do not fit are left out (the sample was checked when cut).
pub(crate) fn wvtt_cues(sample: &[u8]) -> Vec<VttCue> {
    let mut cues = Vec::new();
    for (kind, body) in boxes(sample) {
        if kind != b"vttc" {
            continue;
        }
        let mut cue = VttCue {
            settings: String::new(),
            text: String::new(),
        };
        for (kind, body) in boxes(body) {
            let value = String::from_utf8_lossy(body)
                .trim_end_matches('\0')
                .to_string();
            match kind {
                b"sttg" => cue.settings = value,
                b"payl" => cue.text = value,
                _ => {}
            }
        }
        cues.push(cue);
    }
    cues
}

/// The (type, body) of each whole box in `data`.
fn boxes(mut data: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    std::iter::from_fn(move || {
        let size = u32::from_be_bytes(data.get(..4)?.try_into().ok()?) as usize;
        if size < 8 || size > data.len() {
            return None;
        }
        let (b, rest) = data.split_at(size);
        data = rest;
        Some((&b[4..8], &b[8..]))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stpp_profiles() {
        assert_eq!(
            stpp_codecs("http://www.w3.org/ns/ttml\0\0\0"),
            "stpp.ttml.im1t"
        );
        assert_eq!(
            stpp_codecs(
                "http://www.w3.org/ns/ttml http://www.w3.org/ns/ttml/profile/imsc1/image\0"
            ),
            "stpp.ttml.im1i"
        );
        assert_eq!(
            stpp_codecs("http://www.w3.org/ns/ttml/profile/imsc1.1/text\0"),
            "stpp.ttml.im2t"
        );
    }

    fn bx(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
        [&((body.len() + 8) as u32).to_be_bytes()[..], kind, body].concat()
    }

    #[test]
    fn wvtt_cues_keep_settings_and_markup() {
        let cue = bx(
            b"vttc",
            &[
                bx(b"iden", b"7"),
                bx(b"sttg", b"line:0 align:left"),
                bx(b"payl", b"<i>Hi</i> &amp; bye"),
            ]
            .concat(),
        );
        let sample = [bx(b"vtte", b""), cue, bx(b"vttc", &bx(b"payl", b"Two"))].concat();
        let cues = wvtt_cues(&sample);
        assert_eq!(cues.len(), 2);
        assert_eq!(cues[0].settings, "line:0 align:left");
        assert_eq!(cues[0].text, "<i>Hi</i> &amp; bye");
        assert_eq!(
            (cues[1].settings.as_str(), cues[1].text.as_str()),
            ("", "Two")
        );
        assert!(wvtt_cues(&bx(b"vtte", b"")).is_empty());
        assert!(wvtt_cues(&sample[..12]).is_empty());
    }

    #[test]
    fn wvtt_samples_are_whole_boxes() {
        let cue = [
            &16u32.to_be_bytes()[..],
            b"vttc",
            &8u32.to_be_bytes()[..],
            b"payl",
        ]
        .concat();
        let gap = [&8u32.to_be_bytes()[..], b"vtte"].concat();
        assert_eq!(check(true, &cue), Ok(()));
        assert_eq!(check(true, &gap), Ok(()));
        assert!(check(true, &cue[..12]).is_err());
        assert!(check(true, &[]).is_err());
        assert!(check(true, &[&8u32.to_be_bytes()[..], b"free"].concat()).is_err());
        assert_eq!(
            check(false, b"\xEF\xBB\xBF\n<?xml version=\"1.0\"?><tt/>"),
            Ok(())
        );
        assert!(check(false, b"WEBVTT").is_err());
    }
}
