//! Sidecar subtitles: WebVTT (W3C WebVTT) and TTML (W3C TTML, IMSC) checked and
//! published as they are, SubRip (SRT) converted to WebVTT; one text AdaptationSet per
//! file (and an HLS subtitle rendition for WebVTT: HLS has no TTML).

use std::path::Path;

use crate::{Error, Result};

use crate::limits::MAX_SUBTITLE_BYTES as MAX_BYTES;

/// One WebVTT or TTML file and its language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subtitles {
    name: String,
    language: String,
    text: String,
    ttml: bool,
    /// The DASH role when not `subtitle` (a converted track's `caption`, ...).
    role: Option<String>,
}

impl Subtitles {
    /// The file it came from, for messages.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its language, BCP-47 in the shortest form.
    pub fn language(&self) -> &str {
        &self.language
    }

    /// The text as published: WebVTT, or TTML.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Whether the file is TTML rather than WebVTT.
    pub(crate) fn is_ttml(&self) -> bool {
        self.ttml
    }

    /// The DASH role (`subtitle` when none is given).
    pub(crate) fn role(&self) -> Option<&str> {
        self.role.as_deref()
    }

    pub(crate) fn with_role(mut self, role: Option<String>) -> Self {
        self.role = role;
        self
    }

    /// Read and check a WebVTT or TTML file, or convert a SubRip (SRT) one.
    pub fn open(path: impl AsRef<Path>, language: &str) -> Result<Subtitles> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let len = std::fs::metadata(path)
            .map_err(|e| Error::io(format!("{name}: cannot open"), e))?
            .len();
        if len > MAX_BYTES {
            return Err(too_large(&name));
        }
        let bytes =
            std::fs::read(path).map_err(|e| Error::io(format!("{name}: cannot read"), e))?;
        Subtitles::from_bytes(name, language, bytes)
    }

    /// Check WebVTT or TTML bytes, or convert SubRip (SRT) ones; `name` is for messages.
    pub fn from_bytes(
        name: impl Into<String>,
        language: &str,
        bytes: Vec<u8>,
    ) -> Result<Subtitles> {
        let name = name.into();
        if bytes.len() as u64 > MAX_BYTES {
            return Err(too_large(&name));
        }
        let text = String::from_utf8(bytes).map_err(|e| Error::InvalidOption {
            name: "subtitles",
            reason: format!("{name}: not UTF-8 (byte {})", e.utf8_error().valid_up_to()),
        })?;
        let body = text.strip_prefix('\u{feff}').unwrap_or(&text);
        if body.trim_start().starts_with('<') {
            return Subtitles::from_ttml(name, language, text);
        }
        if !body.starts_with("WEBVTT") && looks_like_srt(body) {
            let vtt = srt_to_webvtt(body).map_err(|why| Error::InvalidOption {
                name: "subtitles",
                reason: format!("{name}: SubRip (SRT) {why}"),
            })?;
            return Subtitles::from_text(name, language, vtt);
        }
        Subtitles::from_text(name, language, text)
    }

    /// Check WebVTT text: it must start with the `WEBVTT` signature (after an optional
    /// byte order mark), and the language must be a plausible tag.
    pub fn from_text(name: impl Into<String>, language: &str, text: String) -> Result<Subtitles> {
        let name = name.into();
        let body = text.strip_prefix('\u{feff}').unwrap_or(&text);
        let signed = body
            .strip_prefix("WEBVTT")
            .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t', '\n', '\r']));
        if !signed {
            return Err(Error::InvalidOption {
                name: "subtitles",
                reason: format!("{name}: not a WebVTT file (it must start with \"WEBVTT\")"),
            });
        }
        Ok(Subtitles {
            language: checked_language(&name, language)?,
            name,
            text,
            ttml: false,
            role: None,
        })
    }

    /// A TTML document's root element as written, up to its `>` (the namespaces and
    /// profile it declares).
    pub(crate) fn ttml_root(&self) -> &str {
        let root = ttml_root(&self.text);
        root.split('>').next().unwrap_or(root)
    }

    /// The namespaces a TTML document's root element declares (`xmlns` attributes'
    /// values), space-separated, as an `stpp` sample entry names them.
    pub(crate) fn ttml_namespaces(&self) -> String {
        let root = self.ttml_root();
        let mut out: Vec<&str> = Vec::new();
        for part in root.split("xmlns").skip(1) {
            let Some(value) = part
                .split_once('=')
                .map(|(_, v)| v.trim_start())
                .and_then(|v| {
                    let quote = v.chars().next().filter(|q| *q == '"' || *q == '\'')?;
                    v[1..].split(quote).next()
                })
            else {
                continue;
            };
            if !out.contains(&value) {
                out.push(value);
            }
        }
        out.join(" ")
    }

    /// Check a TTML document: XML whose root is a `tt` element in the TTML namespace.
    fn from_ttml(name: String, language: &str, text: String) -> Result<Subtitles> {
        let root = ttml_root(&text);
        let is_tt = root.starts_with("tt ")
            || root.starts_with("tt>")
            || root.starts_with("tt:tt ")
            || root.starts_with("tt\n");
        if !is_tt || !root.contains("http://www.w3.org/ns/ttml") {
            return Err(Error::InvalidOption {
                name: "subtitles",
                reason: format!(
                    "{name}: XML but not a TTML document (its root must be a tt element in \
                     the namespace http://www.w3.org/ns/ttml)"
                ),
            });
        }
        Ok(Subtitles {
            language: checked_language(&name, language)?,
            name,
            text,
            ttml: true,
            role: None,
        })
    }
}

/// The text from a document's root element on (after the XML declaration and comments).
fn ttml_root(text: &str) -> &str {
    text.split('<')
        .skip(1)
        .find(|tag| !tag.starts_with(['?', '!']))
        .unwrap_or_default()
}

/// The language in its shortest form, or the error for a tag that is not one.
fn checked_language(name: &str, language: &str) -> Result<String> {
    if !crate::lang::is_tag(language) {
        return Err(Error::InvalidOption {
            name: "subtitles",
            reason: format!("{name}: {language:?} is not a language tag (such as en or pt-BR)"),
        });
    }
    Ok(crate::lang::shortest(language))
}

/// A subtitle file over the limit: a resource limit, like an oversized input.
fn too_large(name: &str) -> Error {
    crate::error::BoxError::new(
        "subtitle file",
        0,
        crate::error::Malformed::Limit {
            what: "a subtitle file's size",
            limit: MAX_BYTES,
        },
    )
    .in_file(name)
}

/// SubRip's first block: an optional number, then a `-->` timing line.
fn looks_like_srt(text: &str) -> bool {
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    match (lines.next(), lines.next()) {
        (Some(a), _) if a.contains("-->") => true,
        (Some(a), Some(b)) => a.chars().all(|c| c.is_ascii_digit()) && b.contains("-->"),
        _ => false,
    }
}

/// SubRip to WebVTT: the numbers dropped, `,` before the milliseconds made `.`, the
/// tags WebVTT knows (`<i>`, `<b>`, `<u>`) kept, others (`<font>`, `{\an8}`) dropped
/// and the rest escaped. `Err` names the line that is not SubRip.
fn srt_to_webvtt(text: &str) -> std::result::Result<String, String> {
    let mut cues = String::new();
    let lines: Vec<&str> = text.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        if lines[i].trim().is_empty() {
            i += 1;
            continue;
        }
        if lines[i].trim().chars().all(|c| c.is_ascii_digit()) {
            i += 1; // the cue number
        }
        let timing = lines.get(i).copied().unwrap_or("");
        let (start, end) = timing
            .split_once("-->")
            .and_then(|(a, b)| Some((srt_time(a)?, srt_time(b.split_whitespace().next()?)?)))
            .ok_or_else(|| format!("line {}: expected `00:00:01,000 --> 00:00:02,000`", i + 1))?;
        i += 1;
        let mut text = Vec::new();
        while i < lines.len() && !lines[i].trim().is_empty() {
            text.push(srt_text(lines[i]));
            i += 1;
        }
        if end > start {
            cues.push_str(&format!(
                "\n{} --> {}\n{}\n",
                timestamp(start),
                timestamp(end),
                text.join("\n")
            ));
        }
    }
    Ok(format!("WEBVTT\n{cues}"))
}

/// `HH:MM:SS,mmm` (or `.mmm`; hours of any width) in milliseconds.
fn srt_time(t: &str) -> Option<u64> {
    let (hms, ms) = t.trim().split_once([',', '.'])?;
    let parts: Vec<u64> = hms
        .split(':')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    let [h, m, s] = parts.as_slice() else {
        return None;
    };
    let ms: u64 = ms.parse().ok().filter(|_| ms.len() == 3)?;
    (*m < 60 && *s < 60).then_some(((h * 60 + m) * 60 + s) * 1000 + ms)
}

fn srt_text(line: &str) -> String {
    const KEPT: [&str; 6] = ["<i>", "</i>", "<b>", "</b>", "<u>", "</u>"];
    let mut out = String::new();
    let mut rest = line.trim_end();
    while let Some(c) = rest.chars().next() {
        let lower = rest.to_ascii_lowercase();
        if let Some(tag) = KEPT.iter().find(|t| lower.starts_with(*t)) {
            out.push_str(tag);
            rest = &rest[tag.len()..];
        } else if c == '<'
            && let Some(end) = rest.find('>')
        {
            rest = &rest[end + 1..]; // another tag: dropped
        } else if c == '{'
            && rest.starts_with("{\\")
            && let Some(end) = rest.find('}')
        {
            rest = &rest[end + 1..]; // an ASS override such as {\an8}
        } else {
            match c {
                '&' => out.push_str("&amp;"),
                '<' => out.push_str("&lt;"),
                '>' => out.push_str("&gt;"),
                c => out.push(c),
            }
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

/// A cue for [`webvtt`]: presentation times in milliseconds, its cue settings
/// (`line:10% align:left`, or empty) and the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Cue {
    pub start_ms: u64,
    pub end_ms: u64,
    pub settings: String,
    pub text: String,
}

/// WebVTT of `cues`. Text is escaped (`&`, `<`, `>`: no markup, and no `-->`), blank
/// lines inside a cue are closed up (a blank line would end it), and cues without text
/// or time are left out.
pub(crate) fn webvtt(cues: &[Cue]) -> String {
    write_webvtt(cues, true)
}

/// WebVTT of cues whose text is WebVTT cue text already (markup and entities kept).
pub(crate) fn webvtt_of_cue_text(cues: &[Cue]) -> String {
    write_webvtt(cues, false)
}

fn write_webvtt(cues: &[Cue], escape: bool) -> String {
    let mut out = String::from("WEBVTT\n");
    for c in cues {
        let text = c
            .text
            .lines()
            .map(str::trim_end)
            .filter(|l| !l.trim().is_empty())
            .map(|l| match escape {
                true => l
                    .replace('&', "&amp;")
                    .replace('<', "&lt;")
                    .replace('>', "&gt;"),
                false => l.replace("-->", "--&gt;"),
            })
            .collect::<Vec<_>>()
            .join("\n");
        if text.is_empty() || c.end_ms <= c.start_ms {
            continue;
        }
        let gap = if c.settings.is_empty() { "" } else { " " };
        out.push_str(&format!(
            "\n{} --> {}{gap}{}\n{text}\n",
            timestamp(c.start_ms),
            timestamp(c.end_ms),
            c.settings
        ));
    }
    out
}

fn timestamp(ms: u64) -> String {
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_oversized_file_is_a_limit() {
        let big = vec![b' '; MAX_BYTES as usize + 1];
        let e = Subtitles::from_bytes("big.vtt", "en", big).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::Limit, "{e}");
        assert!(e.to_string().contains("big.vtt"), "{e}");
    }

    #[test]
    fn srt_becomes_webvtt() {
        let srt = "1\r\n00:00:01,000 --> 00:00:02,500\r\n<i>Hi</i> & <font color=\"red\">you</font>\r\n\r\n\
                   2\n00:00:03.000 --> 00:00:04,000 X1:0\n{\\an8}Top <b>line</b>\nsecond\n";
        assert!(looks_like_srt(srt));
        assert_eq!(
            srt_to_webvtt(srt).unwrap(),
            "WEBVTT\n\n00:00:01.000 --> 00:00:02.500\n<i>Hi</i> &amp; you\n\
             \n00:00:03.000 --> 00:00:04.000\nTop <b>line</b>\nsecond\n"
        );
        let e = srt_to_webvtt("1\n00:00:01 --> 00:00:02\nx\n").unwrap_err();
        assert!(e.starts_with("line 2:"), "{e}");
        assert!(!looks_like_srt("WEBVTT\n"));
        assert_eq!(srt_time("100:00:00,001"), Some(360_000_001));
        assert_eq!(srt_time("00:61:00,000"), None);
    }

    #[test]
    fn cues_become_webvtt() {
        let cue = |start_ms, end_ms, text: &str| Cue {
            start_ms,
            end_ms,
            settings: String::new(),
            text: text.into(),
        };
        let placed = Cue {
            settings: "line:0 align:left".into(),
            ..cue(5000, 6000, "top")
        };
        let v = webvtt(&[
            cue(1000, 2500, "Hello\n\nthere <b> & -->"),
            cue(2500, 2500, "no time"),
            cue(3000, 4000, " \n"),
            placed,
            cue(3_723_004, 3_723_005, "late"),
        ]);
        assert_eq!(
            v,
            "WEBVTT\n\n00:00:01.000 --> 00:00:02.500\nHello\nthere &lt;b&gt; &amp; --&gt;\n\
             \n00:00:05.000 --> 00:00:06.000 line:0 align:left\ntop\n\
             \n01:02:03.004 --> 01:02:03.005\nlate\n"
        );
        assert!(Subtitles::from_text("t", "en", v).is_ok());
    }

    #[test]
    fn webvtt_is_checked() {
        let ok = Subtitles::from_text(
            "a.vtt",
            "eng",
            "\u{feff}WEBVTT\n\n00:00.000 --> 00:01.000\nHi\n".into(),
        )
        .unwrap();
        assert_eq!(ok.language, "en");
        assert!(Subtitles::from_text("a.vtt", "en", "WEBVTT - title\n".into()).is_ok());
        for bad in ["", "WEBVTTX\n", "1\n00:00:00,000 --> 00:00:01,000\nsrt\n"] {
            let e = Subtitles::from_text("b.srt", "en", bad.into()).unwrap_err();
            assert!(e.to_string().contains("b.srt"), "{e}");
        }
        assert!(Subtitles::from_text("a.vtt", "en us", "WEBVTT\n".into()).is_err());
    }

    #[test]
    fn ttml_is_checked() {
        let doc = "<?xml version=\"1.0\"?>\n<tt xmlns=\"http://www.w3.org/ns/ttml\" xml:lang=\"en\"><body/></tt>";
        let ok = Subtitles::from_bytes("a.ttml", "en", doc.into()).unwrap();
        assert!(ok.is_ttml());
        assert_eq!(ok.text(), doc);
        let not_tt = "<?xml version=\"1.0\"?><html xmlns=\"http://www.w3.org/ns/ttml\"/>";
        let e = Subtitles::from_bytes("b.xml", "en", not_tt.into()).unwrap_err();
        assert!(
            e.to_string().contains("b.xml: XML but not a TTML document"),
            "{e}"
        );
        let other_ns = "<tt xmlns=\"urn:other\"></tt>";
        assert!(Subtitles::from_bytes("c.ttml", "en", other_ns.into()).is_err());
    }

    #[test]
    fn ttml_namespaces_are_the_root_elements() {
        let doc = "<?xml version=\"1.0\"?>\n<!-- x -->\n<tt xmlns=\"http://www.w3.org/ns/ttml\"\n xmlns:ttp='http://www.w3.org/ns/ttml#parameter' ttp:profile=\"http://www.w3.org/ns/ttml/profile/imsc1/text\"><body xmlns:x=\"urn:x\"/></tt>";
        let t = Subtitles::from_bytes("a.ttml", "en", doc.into()).unwrap();
        assert_eq!(
            t.ttml_namespaces(),
            "http://www.w3.org/ns/ttml http://www.w3.org/ns/ttml#parameter"
        );
        assert!(t.ttml_root().ends_with("imsc1/text\""), "{}", t.ttml_root());
    }
}
