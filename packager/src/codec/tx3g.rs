//! Timed-text samples: 3GPP timed text (`tx3g`, 3GPP TS 26.245 5.17, FFmpeg's
//! `mov_text`) and QuickTime text (`text`). A sample is a 16-bit length, the text, then
//! modifier boxes (style, highlight, karaoke, scroll delay, hyperlink, text box, blink,
//! wrap). The text box and justification become WebVTT cue settings; the other
//! modifiers (styling) WebVTT has no place for.

/// One sample's text, its own text box (a `tbox` modifier), and whether other modifier
/// boxes (styling) came with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TextSample {
    pub text: String,
    pub text_box: Option<TextBox>,
    pub styled: bool,
}

/// A text box (3GPP TS 26.245 5.16 `BoxRecord`), in the text track's coordinates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TextBox {
    pub top: i16,
    pub left: i16,
    pub bottom: i16,
    pub right: i16,
}

impl TextBox {
    fn read(b: &[u8]) -> Option<TextBox> {
        let v = |i: usize| b.get(i..i + 2).map(|x| i16::from_be_bytes([x[0], x[1]]));
        let t = TextBox {
            top: v(0)?,
            left: v(2)?,
            bottom: v(4)?,
            right: v(6)?,
        };
        // All zero (as FFmpeg writes it) says nothing about where the text goes.
        (t.bottom > t.top && t.right > t.left).then_some(t)
    }
}

/// A rectangle in movie coordinates: a track's area (`tkhd` translation and size).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Rect {
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
}

/// Left or top, centre, right or bottom (3GPP: 0, 1, -1; QuickTime the same).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum Justify {
    Start,
    Centre,
    #[default]
    End,
}

impl Justify {
    fn from_code(c: i32) -> Justify {
        match c {
            0 => Justify::Start,
            1 => Justify::Centre,
            _ => Justify::End,
        }
    }
}

/// Where a sample entry puts its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Placement {
    pub horizontal: Justify,
    pub vertical: Justify,
    pub text_box: Option<TextBox>,
}

impl Default for Placement {
    fn default() -> Self {
        Placement {
            horizontal: Justify::Centre,
            vertical: Justify::End,
            text_box: None,
        }
    }
}

/// The placement a `tx3g` or QuickTime `text` sample entry declares; `fields` starts
/// right after the 8 bytes of SampleEntry fields. QuickTime text has no vertical
/// justification: it is drawn from the top of its box.
pub(crate) fn placement(fields: &[u8], quicktime: bool) -> Placement {
    let byte = |i: usize| fields.get(i).map(|&b| i32::from(b as i8));
    if quicktime {
        let Some(j) = fields
            .get(4..8)
            .map(|b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
        else {
            return Placement::default();
        };
        let text_box = fields.get(14..22).and_then(TextBox::read);
        return Placement {
            horizontal: Justify::from_code(j),
            vertical: if text_box.is_some() {
                Justify::Start
            } else {
                Justify::End
            },
            text_box,
        };
    }
    match (byte(4), byte(5)) {
        (Some(h), Some(v)) => Placement {
            horizontal: Justify::from_code(h),
            vertical: Justify::from_code(v),
            text_box: fields.get(10..18).and_then(TextBox::read),
        },
        _ => Placement::default(),
    }
}

/// Where the text goes on screen: the text track's area and the video's (the area cue
/// percentages are of), each when the movie gives one.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Frame {
    pub region: Option<Rect>,
    pub viewport: Option<Rect>,
}

/// WebVTT cue settings (W3C WebVTT 4.4) for a sample with `placement` (its own text
/// box, if any, over the entry's), or "" when the text goes where WebVTT puts it
/// anyway: centred at the bottom. Within 10% of an edge counts as at the edge.
pub(crate) fn cue_settings(
    placement: &Placement,
    own_box: Option<TextBox>,
    frame: &Frame,
) -> String {
    let mut out = Vec::new();
    let view = frame
        .viewport
        .or(frame.region)
        .filter(|v| v.w > 0.0 && v.h > 0.0);
    let (ox, oy) = frame.region.map_or((0.0, 0.0), |r| (r.x, r.y));
    let area = match (own_box.or(placement.text_box), frame.region) {
        (Some(b), _) => Some(Rect {
            x: ox + f64::from(b.left),
            y: oy + f64::from(b.top),
            w: f64::from(b.right) - f64::from(b.left),
            h: f64::from(b.bottom) - f64::from(b.top),
        }),
        (None, region) => region,
    };
    // The area as percentages of the video: top, left, bottom, right.
    let pct = view.zip(area).and_then(|(v, a)| {
        let p = |x: f64, o: f64, len: f64| ((x - o) / len * 100.0).clamp(0.0, 100.0);
        let (t, b) = (p(a.y, v.y, v.h), p(a.y + a.h, v.y, v.h));
        let (l, r) = (p(a.x, v.x, v.w), p(a.x + a.w, v.x, v.w));
        // Text outside the video (a QuickTime text area below the picture) goes where
        // WebVTT puts it.
        (b > t && r > l).then_some((t, l, b, r))
    });
    let fmt = |v: f64| format!("{}%", (v * 100.0).round() / 100.0);
    let off_picture = view.is_some() && area.is_some() && pct.is_none();
    match (placement.vertical, pct) {
        _ if off_picture => {}
        (Justify::Start, Some((t, ..))) => out.push(format!("line:{}", fmt(t))),
        (Justify::Start, None) => out.push("line:0".into()),
        (Justify::Centre, Some((t, _, b, _))) => {
            out.push(format!("line:{},center", fmt((t + b) / 2.0)))
        }
        (Justify::Centre, None) => out.push("line:50%,center".into()),
        (Justify::End, Some((_, _, b, _))) if b < 90.0 => out.push(format!("line:{},end", fmt(b))),
        (Justify::End, _) => {}
    }
    let narrow = pct.filter(|&(_, l, _, r)| l > 10.0 || r < 90.0);
    match (placement.horizontal, narrow) {
        (Justify::Start, Some((_, l, _, r))) => {
            out.push(format!("position:{},line-left", fmt(l)));
            out.push(format!("size:{}", fmt(r - l)));
        }
        (Justify::End, Some((_, l, _, r))) => {
            out.push(format!("position:{},line-right", fmt(r)));
            out.push(format!("size:{}", fmt(r - l)));
        }
        (Justify::Centre, Some((_, l, _, r))) => {
            out.push(format!("position:{}", fmt((l + r) / 2.0)));
            out.push(format!("size:{}", fmt(r - l)));
        }
        (_, None) => {}
    }
    match placement.horizontal {
        Justify::Start => out.push("align:left".into()),
        Justify::End => out.push("align:right".into()),
        Justify::Centre => {}
    }
    out.join(" ")
}

/// Mac OS Roman, 0x80 to 0xFF: the encoding of QuickTime text that is not UTF-8.
const MAC_ROMAN: &str = "ÄÅÇÉÑÖÜáàâäãåçéèêëíìîïñóòôöõúùûü†°¢£§•¶ß®©™´¨≠ÆØ∞±≤≥¥µ∂∑∏π∫ªºΩæø¿¡¬√ƒ≈∆«»…\u{a0}ÀÃÕŒœ–—“”‘’÷◊ÿŸ⁄€‹›ﬁﬂ‡·‚„‰ÂÊÁËÈÍÎÏÌÓÔ\u{f8ff}ÒÚÛÙıˆ˜¯˘˙˚¸˝˛ˇ";

/// Decodes a sample; `Err` names what is wrong. Text is UTF-8, or UTF-16 after a byte
/// order mark; QuickTime text that is not UTF-8 is Mac OS Roman.
pub(crate) fn decode(sample: &[u8], quicktime: bool) -> Result<TextSample, String> {
    let Some(len) = sample
        .get(..2)
        .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
    else {
        // An empty sample says nothing is shown (some writers leave out the length).
        return Ok(TextSample {
            text: String::new(),
            text_box: None,
            styled: false,
        });
    };
    let bytes = sample.get(2..2 + len).ok_or_else(|| {
        format!(
            "text length {len} but {} bytes follow it",
            sample.len().saturating_sub(2)
        )
    })?;
    let text = match bytes {
        [0xfe, 0xff, rest @ ..] => utf16(rest, u16::from_be_bytes)?,
        [0xff, 0xfe, rest @ ..] => utf16(rest, u16::from_le_bytes)?,
        _ => match std::str::from_utf8(bytes) {
            Ok(s) => s.to_string(),
            Err(_) if quicktime => bytes
                .iter()
                .map(|&b| match b {
                    0..=0x7f => char::from(b),
                    _ => MAC_ROMAN
                        .chars()
                        .nth(usize::from(b - 0x80))
                        .unwrap_or('\u{fffd}'),
                })
                .collect(),
            Err(e) => return Err(format!("text is not UTF-8 (byte {})", e.valid_up_to())),
        },
    };
    let (text_box, styled) = modifiers(&sample[2 + len..]);
    Ok(TextSample {
        text: text.replace("\r\n", "\n").replace('\r', "\n"),
        text_box,
        styled,
    })
}

/// The sample's own text box (`tbox`), and whether any other modifier box follows the
/// text. Bytes that do not read as boxes count as styling (they are dropped).
fn modifiers(mut rest: &[u8]) -> (Option<TextBox>, bool) {
    let (mut text_box, mut styled) = (None, false);
    while !rest.is_empty() {
        let Some(size) = rest
            .get(..4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
            .filter(|&n| n >= 8 && n <= rest.len())
        else {
            return (text_box, true);
        };
        match &rest[4..8] {
            b"tbox" => text_box = TextBox::read(&rest[8..size]),
            _ => styled = true,
        }
        rest = &rest[size..];
    }
    (text_box, styled)
}

fn utf16(bytes: &[u8], unit: fn([u8; 2]) -> u16) -> Result<String, String> {
    if !bytes.len().is_multiple_of(2) {
        return Err("UTF-16 text of an odd length".into());
    }
    let units = bytes.chunks_exact(2).map(|c| unit([c[0], c[1]]));
    char::decode_utf16(units)
        .collect::<Result<String, _>>()
        .map_err(|_| "UTF-16 text with an unpaired surrogate".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(text: &[u8], tail: &[u8]) -> Vec<u8> {
        let mut s = (text.len() as u16).to_be_bytes().to_vec();
        s.extend_from_slice(text);
        s.extend_from_slice(tail);
        s
    }

    #[test]
    fn encodings_and_modifiers() {
        let plain = decode(&sample("Hé\r\nthere".as_bytes(), &[]), false).unwrap();
        assert_eq!(plain.text, "Hé\nthere");
        assert!(!plain.styled);
        let styl = [0, 0, 0, 10, b's', b't', b'y', b'l', 0, 0];
        assert!(decode(&sample(b"Hi", &styl), false).unwrap().styled);
        let be = [0xfe, 0xff, 0, b'O', 0, b'K'];
        assert_eq!(decode(&sample(&be, &[]), false).unwrap().text, "OK");
        let le = [0xff, 0xfe, b'O', 0, b'K', 0];
        assert_eq!(decode(&sample(&le, &[]), false).unwrap().text, "OK");
        // Mac OS Roman 0x8E is é; not UTF-8, refused in tx3g.
        assert_eq!(
            decode(&sample(&[b'C', 0x8e], &[]), true).unwrap().text,
            "Cé"
        );
        assert!(decode(&sample(&[b'C', 0x8e], &[]), false).is_err());
        assert_eq!(decode(&[], false).unwrap().text, "");
        assert_eq!(decode(&[0, 0], false).unwrap().text, "");
        assert!(decode(&[0, 9, b'a'], false).is_err());
    }

    #[test]
    fn a_tbox_is_a_position_not_styling() {
        let tbox = [
            0, 0, 0, 16, b't', b'b', b'o', b'x', 0, 10, 0, 20, 0, 50, 1, 0,
        ];
        let s = decode(&sample(b"Hi", &tbox), false).unwrap();
        assert!(!s.styled);
        let b = s.text_box.unwrap();
        assert_eq!((b.top, b.left, b.bottom, b.right), (10, 20, 50, 256));
        // A cut-off modifier is dropped as styling, not an error.
        assert!(decode(&sample(b"Hi", &tbox[..12]), false).unwrap().styled);
    }

    fn entry(h: u8, v: u8, b: [i16; 4]) -> Vec<u8> {
        let mut f = vec![0, 0, 0, 0, h, v, 0, 0, 0, 0xff];
        for x in b {
            f.extend_from_slice(&x.to_be_bytes());
        }
        f
    }

    #[test]
    fn placements_become_cue_settings() {
        let video = Frame {
            region: None,
            viewport: Some(Rect {
                x: 0.0,
                y: 0.0,
                w: 320.0,
                h: 180.0,
            }),
        };
        // FFmpeg's mov_text: centred at the bottom, no box: WebVTT's default.
        let ffmpeg = placement(&entry(1, 0xff, [0; 4]), false);
        assert_eq!(ffmpeg, Placement::default());
        assert_eq!(cue_settings(&ffmpeg, None, &video), "");
        // Top left, in a box inside the picture.
        let top_left = placement(&entry(0, 0, [18, 48, 60, 272]), false);
        assert_eq!(
            cue_settings(&top_left, None, &video),
            "line:10% position:15%,line-left size:70% align:left"
        );
        // The sample's own box wins; centred in the middle.
        let own = TextBox {
            top: 72,
            left: 80,
            bottom: 108,
            right: 240,
        };
        let middle = placement(&entry(1, 1, [0; 4]), false);
        assert_eq!(
            cue_settings(&middle, Some(own), &video),
            "line:50%,center position:50% size:50%"
        );
        // No box and no video: the justification alone.
        assert_eq!(
            cue_settings(&middle, None, &Frame::default()),
            "line:50%,center"
        );
        let right_top = placement(&entry(0xff, 0, [0; 4]), false);
        assert_eq!(
            cue_settings(&right_top, None, &Frame::default()),
            "line:0 align:right"
        );
        // A text area below the picture (QuickTime's layout) is off the video: bottom.
        let below = Frame {
            region: Some(Rect {
                x: 0.0,
                y: 180.0,
                w: 320.0,
                h: 40.0,
            }),
            ..video
        };
        let mut qt = vec![0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        for x in [0i16, 0, 40, 320] {
            qt.extend_from_slice(&x.to_be_bytes());
        }
        let qt = placement(&qt, true);
        assert_eq!(qt.horizontal, Justify::Centre);
        assert_eq!(cue_settings(&qt, None, &below), "");
        // Bottom justified high in the picture keeps its line.
        let high = placement(&entry(1, 0xff, [0, 0, 90, 320]), false);
        assert_eq!(cue_settings(&high, None, &video), "line:50%,end");
    }

    #[test]
    fn mac_roman_has_128_characters() {
        assert_eq!(MAC_ROMAN.chars().count(), 128);
    }
}
