//! What each codec's framing lets us check cheaply in every sample before it is
//! published: a sample whose bytes are not that codec's (stale chunk offsets, a box
//! inserted without fixing the offsets) is refused instead of packaged into segments
//! no decoder can read.
//!
//! - H.264, HEVC, VVC (ISO/IEC 14496-15): a sample is an access unit, so not empty; its
//!   length-prefixed NAL units tile it exactly, with the configuration record's length
//!   size, none is empty and every NAL unit header has its forbidden_zero_bit clear.
//! - AAC (ISO/IEC 14496-3 4.5.3.2): at most 6144 bits per channel in one frame.
//! - MP3 and MPEG-2 audio in `mp4a`: each sample starts with a frame sync.
//! - AC-3, E-AC-3 (ETSI TS 102 366): each sample starts with the syncword 0x0B77.
//! - FLAC: each sample is a frame starting with the frame sync code.
//! - Opus: a packet is never empty.

use super::{CodecInfo, Family};

/// `Err` says what is wrong and at which byte of the sample.
pub(crate) fn check(codec: &CodecInfo, data: &[u8]) -> Result<(), String> {
    match codec.family {
        Family::Avc | Family::Hevc | Family::Vvc => nal_units(codec.nal_length_size, data),
        Family::Aac => mpeg_audio(codec, data),
        Family::Ac3 | Family::Eac3 => {
            starts_with(data, &[0x0b, 0x77], 0xffff, "AC-3 syncword 0x0B77")
        }
        Family::Flac => starts_with(data, &[0xff, 0xf8], 0xfffe, "FLAC frame sync code"),
        Family::Opus if data.is_empty() => Err("an empty Opus packet".into()),
        Family::Wvtt | Family::Stpp => super::text::check(codec.family == Family::Wvtt, data),
        _ => Ok(()),
    }
}

fn starts_with(data: &[u8], want: &[u8; 2], mask: u16, what: &str) -> Result<(), String> {
    let got = match data {
        [a, b, ..] => u16::from_be_bytes([*a, *b]),
        _ => {
            return Err(format!(
                "{} bytes cannot hold a frame (no {what})",
                data.len()
            ));
        }
    };
    if got & mask == u16::from_be_bytes(*want) & mask {
        Ok(())
    } else {
        Err(format!(
            "does not start with the {what} (starts with {got:04X})"
        ))
    }
}

fn mpeg_audio(codec: &CodecInfo, data: &[u8]) -> Result<(), String> {
    let codecs = codec.codecs.as_str();
    if matches!(codecs, "mp4a.6B" | "mp4a.69") {
        // MPEG-1/2 audio frame sync: 11 bits set.
        return starts_with(data, &[0xff, 0xe0], 0xffe0, "MPEG audio frame sync");
    }
    let aac = matches!(
        codecs.strip_prefix("mp4a.40."),
        Some("1" | "2" | "3" | "4" | "5" | "6" | "29")
    );
    let limit = 768 * usize::from(codec.channels);
    if aac && codec.channels > 0 && data.len() > limit {
        return Err(format!(
            "{} bytes is more than an AAC frame of {} channels can hold ({limit})",
            data.len(),
            codec.channels
        ));
    }
    Ok(())
}

/// Walks the length-prefixed NAL units; `Err` at the first one that does not fit.
fn nal_units(length_size: u8, data: &[u8]) -> Result<(), String> {
    // Ok(number of empty NAL units) or the first failure.
    let walk = |ls: usize| -> Result<usize, (usize, String)> {
        let mut pos = 0usize;
        let mut empty = 0;
        while pos < data.len() {
            let Some(prefix) = data.get(pos..pos + ls) else {
                return Err((
                    pos,
                    format!(
                        "{} bytes left, too few for a {ls}-byte NAL unit length",
                        data.len() - pos
                    ),
                ));
            };
            let len = prefix
                .iter()
                .fold(0usize, |v, &b| (v << 8) | usize::from(b));
            let start = pos + ls;
            let end = start
                .checked_add(len)
                .filter(|&e| e <= data.len())
                .ok_or_else(|| {
                    (
                        pos,
                        format!(
                            "NAL unit of {len} bytes runs past the sample's end ({} bytes)",
                            data.len()
                        ),
                    )
                })?;
            if len == 0 {
                // Not a NAL unit: even its header is missing. (A 4-byte length read
                // with a 2-byte record looks like this followed by the right length.)
                empty += 1;
            } else if data[start] & 0x80 != 0 {
                return Err((
                    start,
                    "NAL unit header has forbidden_zero_bit set".to_string(),
                ));
            }
            pos = end;
        }
        Ok(empty)
    };
    if data.is_empty() {
        // An access unit holds at least one NAL unit.
        return Err("an empty sample: no NAL unit at all".into());
    }
    let ls = usize::from(length_size);
    match walk(ls) {
        Ok(0) => Ok(()),
        Ok(_) if data.iter().all(|&b| b == 0) => Err("the sample is all zero bytes".into()),
        Ok(_) => {
            let other = [1usize, 2, 4]
                .into_iter()
                .find(|&o| o != ls && walk(o) == Ok(0));
            Err(match other {
                Some(o) => format!(
                    "the samples use {o}-byte NAL unit lengths, the configuration record says {ls}"
                ),
                None => "an empty NAL unit (length 0)".into(),
            })
        }
        Err((at, why)) => {
            // A record that names the wrong length size: say so rather than "garbage"
            // (when another size reads the sample as whole, non-empty NAL units).
            let other = [1usize, 2, 4]
                .into_iter()
                .find(|&o| o != ls && walk(o) == Ok(0));
            Err(match other {
                Some(o) if !data.is_empty() => format!(
                    "the samples use {o}-byte NAL unit lengths, the configuration record says {ls}"
                ),
                _ => format!("at byte {at} of the sample: {why}"),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nal(ls: u8, units: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        for u in units {
            out.extend_from_slice(&(u.len() as u32).to_be_bytes()[4 - usize::from(ls)..]);
            out.extend_from_slice(u);
        }
        out
    }

    #[test]
    fn nal_units_must_tile_the_sample() {
        let good = nal(4, &[&[0x09, 0xf0], &[0x65, 1, 2, 3]]);
        assert_eq!(nal_units(4, &good), Ok(()));
        assert!(nal_units(4, &[]).unwrap_err().contains("empty sample"));
        // A NAL unit of length 0 is none at all.
        assert!(nal_units(4, &[0, 0, 0, 0]).is_err());
        // Four-byte lengths read with a two-byte record tile, as empty units + lengths.
        let e = nal_units(2, &good).unwrap_err();
        assert!(
            e.contains("4-byte NAL unit lengths") && e.contains("says 2"),
            "{e}"
        );
        // One byte short, one byte over.
        let e = nal_units(4, &good[..good.len() - 1]).unwrap_err();
        assert!(e.contains("runs past"), "{e}");
        let mut long = good.clone();
        long.push(0);
        assert!(nal_units(4, &long).unwrap_err().contains("too few"));
        // Garbage: a header with forbidden_zero_bit set.
        let bad = nal(4, &[&[0x85, 1]]);
        assert!(
            nal_units(4, &bad)
                .unwrap_err()
                .contains("forbidden_zero_bit")
        );
        // Two-byte lengths are valid when the record says two...
        let two = nal(2, &[&[0x65, 1, 2], &[0x41, 9]]);
        assert_eq!(nal_units(2, &two), Ok(()));
        // ...and named when it says four.
        let e = nal_units(4, &two).unwrap_err();
        assert!(
            e.contains("2-byte NAL unit lengths") && e.contains("says 4"),
            "{e}"
        );
    }

    #[test]
    fn audio_framing() {
        assert!(starts_with(&[0x0b, 0x77, 0], &[0x0b, 0x77], 0xffff, "x").is_ok());
        assert!(starts_with(&[0x0b, 0x78], &[0x0b, 0x77], 0xffff, "x").is_err());
        assert!(starts_with(&[0x0b], &[0x0b, 0x77], 0xffff, "x").is_err());
        // FLAC: fixed and variable block size.
        assert!(starts_with(&[0xff, 0xf9], &[0xff, 0xf8], 0xfffe, "x").is_ok());
        assert!(starts_with(&[0xff, 0xfa], &[0xff, 0xf8], 0xfffe, "x").is_err());
    }
}
