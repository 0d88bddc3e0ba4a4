//! VVC (H.266): `vvcC` (ISO/IEC 14496-15 11.2.4.2) and the `vvc1.`/`vvi1.` codecs string
//! (Annex E.6): profile, tier and level, the constraint flags in base32, sub-profiles.

use crate::error::{BoxError, Malformed};
use crate::mp4::header::{Bx, FourCC, fourcc_str};

/// The codecs string and the NAL length size from a `vvcC` box.
pub(crate) fn codecs(fourcc: &FourCC, vvcc: &Bx<'_>) -> Result<(String, u8), BoxError> {
    let mut r = vvcc.body();
    r.version_flags()?;
    let b = r.u8()?;
    let length_size = ((b >> 1) & 3) + 1;
    if length_size == 3 {
        return Err(vvcc.err(Malformed::InvalidField {
            field: "vvcC LengthSizeMinusOne",
            value: 2,
        }));
    }
    let mut codecs = fourcc_str(fourcc);
    if b & 1 == 0 {
        // No profile, tier and level in the record: the bare sample entry type.
        return Ok((codecs, length_size));
    }
    let head = r.u16()?; // ols_idx(9) num_sublayers(3) constant_frame_rate(2) chroma(2)
    let num_sublayers = ((head >> 4) & 7) as u8;
    r.skip(1)?; // bit_depth_minus8(3) reserved(5)
    let num_bytes = usize::from(r.u8()? & 0x3f);
    let pt = r.u8()?;
    let (profile, tier) = (pt >> 1, pt & 1);
    let level = r.u8()?;
    // ptl_frame_only_constraint_flag, ptl_multilayer_enabled_flag, general_constraint_info
    let constraints = r.bytes(num_bytes)?;
    codecs.push_str(&format!(
        ".{profile}.{}{level}",
        if tier == 1 { 'H' } else { 'L' }
    ));
    if !constraints.is_empty() {
        codecs.push_str(".C");
        codecs.push_str(&base32(constraints));
    }
    // ptl_sublayer_level_present_flag[i] for num_sublayers - 2 down to 0, padded to a byte,
    // then a level for each present one.
    if num_sublayers > 1 {
        let flags = r.u8()?;
        let present = (0..num_sublayers - 1)
            .filter(|i| flags & (0x80 >> i) != 0)
            .count();
        r.skip(present)?;
    }
    let subs = r.u8()?;
    let mut sub_profiles = Vec::with_capacity(usize::from(subs));
    for _ in 0..subs {
        sub_profiles.push(format!("{:X}", r.u32()?));
    }
    if !sub_profiles.is_empty() {
        codecs.push_str(".S");
        codecs.push_str(&sub_profiles.join("+"));
    }
    Ok((codecs, length_size))
}

/// RFC 4648 base32 without padding.
fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::new();
    let (mut acc, mut bits) = (0u32, 0u32);
    for &b in bytes {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((acc >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((acc << (5 - bits)) & 31) as usize]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base32_follows_rfc_4648() {
        // RFC 4648 section 10 test vectors, padding removed.
        for (i, o) in [
            ("", ""),
            ("f", "MY"),
            ("fo", "MZXQ"),
            ("foo", "MZXW6"),
            ("foob", "MZXW6YQ"),
            ("fooba", "MZXW6YTB"),
            ("foobar", "MZXW6YTBOI"),
        ] {
            assert_eq!(base32(i.as_bytes()), o);
        }
        // Frame-only constraint alone: the common `CQA`.
        assert_eq!(base32(&[0x80]), "QA");
    }

    #[test]
    fn codecs_string_from_vvcc() {
        use crate::mp4::header::{boxed, test_box};
        // Version/flags; reserved, LengthSizeMinusOne 3, ptl_present; ols_idx 0,
        // num_sublayers 1, constant_frame_rate 1, chroma 1; bit depth; PTL: one
        // constraint byte, Main 10 (1), Main tier, level 5.1 (83); frame-only; no
        // sub-profiles; then the rest of the record, which is not read.
        let body = [
            0, 0, 0, 0, 0xff, 0x00, 0x15, 0x5f, 0x01, 0x02, 83, 0x80, 0x00, 0, 0,
        ];
        let b = boxed(b"vvcC", &body);
        let (s, ls) = codecs(b"vvc1", &test_box(&b)).unwrap();
        assert_eq!((s.as_str(), ls), ("vvc1.1.L83.CQA", 4));
        // No PTL in the record: the bare sample entry type.
        let b = boxed(b"vvcC", &[0, 0, 0, 0, 0xfe]);
        assert_eq!(codecs(b"vvi1", &test_box(&b)).unwrap().0, "vvi1");
    }
}
