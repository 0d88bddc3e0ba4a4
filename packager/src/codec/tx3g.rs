//! Timed-text samples: 3GPP timed text (`tx3g`, 3GPP TS 26.245 5.17, FFmpeg's
//! `mov_text`) and QuickTime text (`text`). A sample is a 16-bit length, the text, then
//! modifier boxes (style, highlight, karaoke, scroll delay, hyperlink, text box, blink,
//! wrap) that WebVTT has no place for.

/// One sample's text, and whether modifier boxes (styling) came with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TextSample {
    pub text: String,
    pub styled: bool,
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
    Ok(TextSample {
        text: text.replace("\r\n", "\n").replace('\r', "\n"),
        styled: sample.len() > 2 + len,
    })
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
    fn mac_roman_has_128_characters() {
        assert_eq!(MAC_ROMAN.chars().count(), 128);
    }
}
