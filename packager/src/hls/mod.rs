//! HLS playlists over the same fMP4 segments as the MPD (RFC 8216bis): one media
//! playlist per Representation (`EXT-X-MAP` on its init segment, `EXTINF` per
//! segment), an I-frame playlist per video Representation (byte ranges of each
//! segment's first frame), and a multivariant playlist with the video variants, audio
//! renditions grouped by codec, subtitle renditions and the I-frame variants.

use std::fmt::Write;

use crate::crypt::{self, Scheme};
use crate::described::RepInput;
use crate::layout::ContentType;
use crate::layout::Timeline;
use crate::layout::{INIT_FILE, ON_DEMAND_FILE, segment_file_name};
pub(crate) use crate::layout::{MULTIVARIANT, iframe_playlist_path, media_playlist_path};

/// A subtitle rendition as the playlists see it.
pub(crate) struct TextRendition<'a> {
    /// Folder of the rendition (`text-1`), holding the `.vtt` file and its playlist.
    pub id: &'a str,
    /// The WebVTT file in that folder, or `None` for a text Representation of fMP4
    /// segments (IMSC1, `stpp`) whose media playlist is written like audio's.
    pub file: Option<&'a str>,
    pub language: &'a str,
    /// The DASH role: `forced-subtitle` is FORCED=YES, `caption` names what captions add.
    pub role: Option<&'a str>,
    /// `file` is IMSC1 in one fMP4 segment with this `codecs` (a TTML file), after the
    /// folder's init segment.
    pub fmp4_codecs: Option<&'a str>,
}

/// Bits per second over every byte of every segment: peak (any one segment) and
/// average, for `BANDWIDTH` and `AVERAGE-BANDWIDTH`.
fn rates(r: &RepInput<'_>) -> (u64, u64) {
    rates_of(r, |s| s.bytes)
}

/// The same over the bytes `length` counts of each segment (an I-frame's).
fn rates_of(
    r: &RepInput<'_>,
    length: impl Fn(&crate::described::BuiltSegment) -> u64,
) -> (u64, u64) {
    let ts = f64::from(r.timescale.max(1));
    let mut peak = 0.0f64;
    let (mut bits, mut secs) = (0.0f64, 0.0f64);
    for s in r.segments {
        let d = s.duration as f64 / ts;
        let b = length(s) as f64 * 8.0;
        if d > 0.0 {
            peak = peak.max(b / d);
        }
        bits += b;
        secs += d;
    }
    let average = if secs > 0.0 { bits / secs } else { 0.0 };
    (peak.ceil() as u64, average.ceil() as u64)
}

/// A WebVTT file as HLS reads it: `X-TIMESTAMP-MAP` says that cue time 0 is the media
/// time `start_90k` (90 kHz), where every audio and video track starts the
/// presentation (RFC 8216bis 3.1.4: without it, cue time 0 is media time 0). A map the
/// file had is replaced. DASH players ignore the header.
pub(crate) fn timestamp_mapped(vtt: &str, start_90k: u64) -> String {
    let mut lines = vtt.split_inclusive('\n');
    let first = lines.next().unwrap_or("WEBVTT");
    let eol = if first.ends_with("\r\n") {
        "\r\n"
    } else {
        "\n"
    };
    let mut out = String::with_capacity(vtt.len() + 64);
    out.push_str(first.trim_end_matches(['\r', '\n']));
    let _ = write!(
        out,
        "{eol}X-TIMESTAMP-MAP=MPEGTS:{start_90k},LOCAL:00:00:00.000{eol}"
    );
    let mut header = true;
    for line in lines {
        let bare = line.trim_end_matches(['\r', '\n']);
        header &= !bare.is_empty();
        if !(header && bare.starts_with("X-TIMESTAMP-MAP")) {
            out.push_str(line);
        }
    }
    out
}

fn quoted(s: &str) -> String {
    s.replace(['"', '\n', '\r'], "")
}

/// Widevine's system ID: its `pssh` goes into an `EXT-X-KEY` of its own.
const WIDEVINE: [u8; 16] = [
    0xed, 0xef, 0x8b, 0xa9, 0x79, 0xd6, 0x4a, 0xce, 0xa3, 0xc8, 0x27, 0xdc, 0xd5, 0x1d, 0x21, 0xed,
];

/// `EXT-X-KEY` lines of an encrypted Representation (RFC 8216bis 4.4.4.4): the method
/// names the scheme (`SAMPLE-AES-CTR` for cenc, `SAMPLE-AES` for cbcs); one line for
/// W3C ClearKey with the key ID, and one per Widevine `pssh` given. They come before
/// `EXT-X-MAP`, so they cover the init segment and every media segment.
fn key_lines(r: &RepInput<'_>) -> String {
    let Some(p) = &r.protection else {
        return String::new();
    };
    let method = match p.scheme {
        Scheme::Cenc => "SAMPLE-AES-CTR",
        Scheme::Cbcs => "SAMPLE-AES",
    };
    let b64 = |b: &[u8]| {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(b)
    };
    let kid = crypt::hex(&p.kid);
    let mut out = format!(
        "#EXT-X-KEY:METHOD={method},KEYFORMAT=\"org.w3.clearkey\",KEYFORMATVERSIONS=\"1\",URI=\"data:text/plain;base64,{}\",KEYID=0x{kid}\n",
        b64(&p.kid)
    );
    for pssh in p.pssh.iter().filter(|x| x.system_id() == WIDEVINE) {
        out.push_str(&format!(
            "#EXT-X-KEY:METHOD={method},KEYFORMAT=\"urn:uuid:{}\",KEYFORMATVERSIONS=\"1\",URI=\"data:text/plain;base64,{}\",KEYID=0x{kid}\n",
            pssh.system_uuid(),
            pssh.base64()
        ));
    }
    out
}

/// The media playlist of one Representation; segment URIs are relative to it.
fn media_playlist(r: &RepInput<'_>, timeline: Timeline) -> String {
    playlist(r, timeline, false)
}

/// The I-frame playlist of a video Representation (RFC 8216bis 4.3.3.6,
/// `EXT-X-I-FRAMES-ONLY`) for trick play and seek previews: each segment's first
/// sample, a sync frame, as the byte range of the segment's header and that sample,
/// lasting until the next. `None` when a segment starts with no sync sample.
fn iframe_playlist(r: &RepInput<'_>, timeline: Timeline) -> Option<String> {
    let every_key = !r.segments.is_empty() && r.segments.iter().all(|s| s.key_bytes > 0);
    (r.kind == ContentType::Video && every_key).then(|| playlist(r, timeline, true))
}

fn playlist(r: &RepInput<'_>, timeline: Timeline, iframes: bool) -> String {
    let ts = f64::from(r.timescale.max(1));
    let target = r
        .segments
        .iter()
        .map(|s| (s.duration as f64 / ts).round() as u64)
        .max()
        .unwrap_or(1)
        .max(1);
    let mut out = String::new();
    let _ = write!(
        out,
        "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:{target}\n#EXT-X-MEDIA-SEQUENCE:1\n\
         #EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-INDEPENDENT-SEGMENTS\n"
    );
    if iframes {
        out.push_str("#EXT-X-I-FRAMES-ONLY\n");
    }
    out.push_str(&key_lines(r));
    // A segment's length in the playlist: all of it, or its I-frame.
    let length = |s: &crate::described::BuiltSegment| if iframes { s.key_bytes } else { s.bytes };
    match r.on_demand {
        // On-demand: byte ranges of the one file, after the init segment and the sidx.
        Some((init, (_, index_last))) => {
            let _ = writeln!(
                out,
                "#EXT-X-MAP:URI=\"{ON_DEMAND_FILE}\",BYTERANGE=\"{init}@0\""
            );
            let mut at = index_last + 1;
            for s in r.segments {
                let _ = write!(
                    out,
                    "#EXTINF:{:.6},\n#EXT-X-BYTERANGE:{}@{at}\n{ON_DEMAND_FILE}\n",
                    s.duration as f64 / ts,
                    length(s)
                );
                at += s.bytes;
            }
        }
        None => {
            let _ = writeln!(out, "#EXT-X-MAP:URI=\"{INIT_FILE}\"");
            for (i, s) in r.segments.iter().enumerate() {
                let _ = writeln!(out, "#EXTINF:{:.6},", s.duration as f64 / ts);
                if iframes {
                    let _ = writeln!(out, "#EXT-X-BYTERANGE:{}@0", s.key_bytes);
                }
                let _ = writeln!(out, "{}", segment_file_name(timeline, i as u32 + 1, s.time));
            }
        }
    }
    out.push_str("#EXT-X-ENDLIST\n");
    out
}

fn text_playlist(duration: f64, file: &str, fmp4: bool) -> String {
    let target = duration.ceil().max(1.0) as u64;
    let map = if fmp4 {
        format!("#EXT-X-MAP:URI=\"{INIT_FILE}\"\n")
    } else {
        String::new()
    };
    format!(
        "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:{target}\n#EXT-X-MEDIA-SEQUENCE:1\n\
         #EXT-X-PLAYLIST-TYPE:VOD\n{map}#EXTINF:{duration:.6},\n{file}\n#EXT-X-ENDLIST\n"
    )
}

/// The variants of one video Representation: alone, or with each audio group.
/// The video's closed captions as a CLOSED-CAPTIONS rendition group (RFC 8216bis
/// 4.4.6.1: INSTREAM-ID `CC1`..`CC4`, `SERVICE1`..`SERVICE63`); returns the variant's
/// attribute naming it, or nothing.
fn closed_captions(m: &mut String, v: &RepInput<'_>) -> String {
    if v.captions.is_empty() {
        return String::new();
    }
    let group = format!("cc-{}", v.id);
    for (k, (channel, language)) in v.captions.iter().enumerate() {
        let _ = writeln!(
            m,
            "#EXT-X-MEDIA:TYPE=CLOSED-CAPTIONS,GROUP-ID=\"{}\",NAME=\"{channel}\",LANGUAGE=\"{}\",DEFAULT={},AUTOSELECT=YES,INSTREAM-ID=\"{channel}\"",
            quoted(&group),
            quoted(language),
            if k == 0 { "YES" } else { "NO" },
        );
    }
    format!(",CLOSED-CAPTIONS=\"{}\"", quoted(&group))
}

fn video_variants(
    m: &mut String,
    v: &RepInput<'_>,
    groups: &[(&str, Vec<&RepInput<'_>>)],
    text_codecs: &str,
    subs: &str,
) {
    let (vpeak, vavg) = rates(v);
    let frame_rate = v
        .frame_rate
        .map(|(n, d)| format!(",FRAME-RATE={:.3}", n as f64 / d.max(1) as f64))
        .unwrap_or_default();
    // Dolby Vision over its base layer: HLS's SUPPLEMENTAL-CODECS with the brand.
    let supplemental = v
        .supplemental
        .map(|s| {
            let brand = s.hls_brand.map(|b| format!("/{b}")).unwrap_or_default();
            format!(",SUPPLEMENTAL-CODECS=\"{}{brand}\"", quoted(&s.codecs))
        })
        .unwrap_or_default();
    let variant = |codecs: String, peak: u64, average: u64, audio: String| {
        format!(
            "#EXT-X-STREAM-INF:BANDWIDTH={peak},AVERAGE-BANDWIDTH={average},CODECS=\"{}{}\"{supplemental},RESOLUTION={}x{}{frame_rate}{audio}{subs}\n{}\n",
            quoted(&codecs),
            quoted(text_codecs),
            v.width,
            v.height,
            media_playlist_path(v.id)
        )
    };
    if groups.is_empty() {
        m.push_str(&variant(v.codecs.to_string(), vpeak, vavg, String::new()));
    }
    for (gi, (codecs, members)) in groups.iter().enumerate() {
        let (apeak, aavg) = members
            .iter()
            .map(|r| rates(r))
            .fold((0, 0), |a, b| (a.0.max(b.0), a.1.max(b.1)));
        m.push_str(&variant(
            format!("{},{codecs}", v.codecs),
            vpeak + apeak,
            vavg + aavg,
            format!(",AUDIO=\"audio-{}\"", gi + 1),
        ));
    }
}

/// The subtitle renditions, one group.
fn subtitle_renditions(m: &mut String, texts: &[TextRendition<'_>]) {
    for (k, t) in texts.iter().enumerate() {
        // RFC 8216bis 4.4.6.1: a forced rendition is never the default choice; captions
        // (SDH) say what they transcribe.
        let forced = t.role == Some("forced-subtitle");
        let extra = match t.role {
            Some("forced-subtitle") => ",FORCED=YES".to_string(),
            Some("caption") => ",CHARACTERISTICS=\"public.accessibility.transcribes-spoken-dialog,public.accessibility.describes-music-and-sound\"".to_string(),
            _ => String::new(),
        };
        let _ = writeln!(
            m,
            "#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID=\"subs\",NAME=\"{}\",LANGUAGE=\"{}\",DEFAULT={},AUTOSELECT=YES{extra},URI=\"{}\"",
            quoted(t.id),
            quoted(t.language),
            if k == 0 && !forced { "YES" } else { "NO" },
            media_playlist_path(t.id)
        );
    }
}

/// The multivariant playlist's line for a video Representation's I-frame playlist.
fn iframe_variant(m: &mut String, v: &RepInput<'_>) {
    let (peak, average) = rates_of(v, |s| s.key_bytes);
    let _ = writeln!(
        m,
        "#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH={peak},AVERAGE-BANDWIDTH={average},CODECS=\"{}\",RESOLUTION={}x{},URI=\"{}\"",
        quoted(v.codecs),
        v.width,
        v.height,
        iframe_playlist_path(v.id)
    );
}

/// RFC 8216bis 4.4.6.2: CODECS lists every format of the variant's renditions, IMSC1
/// subtitles in fMP4 included: each of `codecs` once, each after a comma.
fn codecs_suffix<'a>(codecs: impl Iterator<Item = &'a str>) -> String {
    let mut suffix = String::new();
    for c in codecs {
        if !suffix.split(',').any(|s| s == c) {
            suffix.push(',');
            suffix.push_str(c);
        }
    }
    suffix
}

/// Every playlist as (path, text): the media playlists, then the multivariant one.
pub(crate) fn write(
    reps: &[RepInput<'_>],
    texts: &[TextRendition<'_>],
    duration: f64,
    timeline: Timeline,
) -> Vec<(String, String)> {
    // Text in fMP4 has playlists when a rendition names it (IMSC1); WebVTT in fMP4 is
    // published to HLS as a WebVTT file instead.
    let fmp4_text = |r: &RepInput<'_>| texts.iter().any(|t| t.file.is_none() && t.id == r.id);
    let mut files: Vec<(String, String)> = reps
        .iter()
        .filter(|r| r.kind != ContentType::Text || fmp4_text(r))
        .map(|r| (media_playlist_path(r.id), media_playlist(r, timeline)))
        .collect();
    let fmp4_codecs = reps
        .iter()
        .filter(|r| fmp4_text(r))
        .map(|r| r.codecs)
        .chain(texts.iter().filter_map(|t| t.fmp4_codecs));
    let text_codecs = codecs_suffix(fmp4_codecs);
    let iframes: Vec<&RepInput<'_>> = reps
        .iter()
        .filter_map(|r| {
            let text = iframe_playlist(r, timeline)?;
            files.push((iframe_playlist_path(r.id), text));
            Some(r)
        })
        .collect();
    for t in texts {
        if let Some(file) = t.file {
            let playlist = text_playlist(duration, file, t.fmp4_codecs.is_some());
            files.push((media_playlist_path(t.id), playlist));
        }
    }

    let mut m = String::from("#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n");
    // Audio renditions, one group per codec (a variant names exactly its codecs).
    let mut groups: Vec<(&str, Vec<&RepInput<'_>>)> = Vec::new();
    for r in reps.iter().filter(|r| r.kind == ContentType::Audio) {
        match groups.iter_mut().find(|g| g.0 == r.codecs) {
            Some(g) => g.1.push(r),
            None => groups.push((r.codecs, vec![r])),
        }
    }
    let videos: Vec<&RepInput<'_>> = reps
        .iter()
        .filter(|r| r.kind == ContentType::Video)
        .collect();
    // Without video each audio Representation is a variant itself, not a rendition.
    let renditions = if videos.is_empty() {
        &[][..]
    } else {
        &groups[..]
    };
    for (gi, (_, members)) in renditions.iter().enumerate() {
        for (k, r) in members.iter().enumerate() {
            let _ = writeln!(
                m,
                "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"audio-{}\",NAME=\"{}\",LANGUAGE=\"{}\",DEFAULT={},AUTOSELECT=YES,CHANNELS=\"{}\",URI=\"{}\"",
                gi + 1,
                quoted(r.id),
                quoted(r.language),
                if k == 0 { "YES" } else { "NO" },
                r.channels,
                media_playlist_path(r.id)
            );
        }
    }
    subtitle_renditions(&mut m, texts);
    let subs = if texts.is_empty() {
        ""
    } else {
        ",SUBTITLES=\"subs\""
    };
    if videos.is_empty() {
        // Audio only: each audio Representation is a variant of its own.
        for r in reps.iter().filter(|r| r.kind == ContentType::Audio) {
            let (peak, average) = rates(r);
            let _ = write!(
                m,
                "#EXT-X-STREAM-INF:BANDWIDTH={peak},AVERAGE-BANDWIDTH={average},CODECS=\"{}{}\"{subs}\n{}\n",
                quoted(r.codecs),
                quoted(&text_codecs),
                media_playlist_path(r.id)
            );
        }
    }
    for v in &videos {
        let cc = closed_captions(&mut m, v);
        video_variants(&mut m, v, &groups, &text_codecs, &format!("{subs}{cc}"));
    }
    for v in &iframes {
        iframe_variant(&mut m, v);
    }
    files.push((MULTIVARIANT.to_string(), m));
    files
}

#[cfg(test)]
mod tests {
    use super::timestamp_mapped;

    #[test]
    fn webvtt_for_hls_maps_cue_time_zero_to_the_media_start() {
        let vtt = "WEBVTT - made here\nX-TIMESTAMP-MAP=MPEGTS:900000,LOCAL:00:00:00.000\nKind: captions\n\n00:00.000 --> 00:01.000\nX-TIMESTAMP-MAP is text here\n";
        assert_eq!(
            timestamp_mapped(vtt, 1920),
            "WEBVTT - made here\nX-TIMESTAMP-MAP=MPEGTS:1920,LOCAL:00:00:00.000\nKind: captions\n\n00:00.000 --> 00:01.000\nX-TIMESTAMP-MAP is text here\n"
        );
        // CRLF files keep their line ends; a bare header gets its line end.
        assert_eq!(
            timestamp_mapped("WEBVTT\r\n\r\n1\r\n00:00.000 --> 00:01.000\r\nHi\r\n", 0),
            "WEBVTT\r\nX-TIMESTAMP-MAP=MPEGTS:0,LOCAL:00:00:00.000\r\n\r\n1\r\n00:00.000 --> 00:01.000\r\nHi\r\n"
        );
        assert_eq!(
            timestamp_mapped("WEBVTT", 90),
            "WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:90,LOCAL:00:00:00.000\n"
        );
    }
}
