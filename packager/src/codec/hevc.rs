//! HEVC: `hvcC` (ISO/IEC 14496-15 8.3.3) and the `hvc1.` codecs string (Annex E).

use crate::error::{BoxError, Malformed};
use crate::mp4::header::{Bx, FourCC, fourcc_str};

/// The codecs string and the NAL length size from an `hvcC` box.
pub(crate) fn codecs(fourcc: &FourCC, hvcc: &Bx<'_>) -> Result<(String, u8), BoxError> {
    let mut r = hvcc.body();
    let version = r.u8()?;
    if version != 1 {
        return Err(hvcc.err(Malformed::InvalidField {
            field: "hvcC configurationVersion",
            value: i64::from(version),
        }));
    }
    let b = r.u8()?;
    let profile_space = b >> 6;
    let tier = (b >> 5) & 1;
    let profile_idc = b & 0x1f;
    let compat = r.u32()?;
    let constraints = r.bytes(6)?;
    let level = r.u8()?;
    r.skip(8)?;
    let length_size = (r.u8()? & 3) + 1;
    if length_size == 3 {
        return Err(hvcc.err(Malformed::InvalidField {
            field: "hvcC lengthSizeMinusOne",
            value: 2,
        }));
    }
    Ok((
        format_codecs(
            fourcc,
            profile_space,
            tier,
            profile_idc,
            compat,
            constraints,
            level,
        ),
        length_size,
    ))
}

/// The VPS, SPS and PPS NAL units of an `hvcC` (read leniently: a truncated list ends
/// early).
pub(crate) fn parameter_sets(hvcc: &Bx<'_>) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut r = hvcc.body();
    let mut read = || -> Result<(), BoxError> {
        r.skip(22)?;
        for _ in 0..r.u8()? {
            r.skip(1)?;
            for _ in 0..r.u16()? {
                let len = usize::from(r.u16()?);
                out.push(r.bytes(len)?.to_vec());
            }
        }
        Ok(())
    };
    let _ = read();
    out
}

fn format_codecs(
    fourcc: &FourCC,
    profile_space: u8,
    tier: u8,
    profile_idc: u8,
    compat: u32,
    constraints: &[u8],
    level: u8,
) -> String {
    let space = match profile_space {
        1 => "A",
        2 => "B",
        3 => "C",
        _ => "",
    };
    let tier = if tier == 1 { 'H' } else { 'L' };
    let mut s = format!(
        "{}.{space}{profile_idc}.{:X}.{tier}{level}",
        fourcc_str(fourcc),
        compat.reverse_bits()
    );
    let keep = constraints
        .iter()
        .rposition(|&c| c != 0)
        .map_or(0, |i| i + 1);
    for c in &constraints[..keep] {
        s.push_str(&format!(".{c:02X}"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn main_profile_example_from_annex_e() {
        // Main profile, compatibility flags 0x60000000, level 3.1, progressive source flag.
        let s = format_codecs(b"hvc1", 0, 0, 1, 0x6000_0000, &[0xB0, 0, 0, 0, 0, 0], 93);
        assert_eq!(s, "hvc1.1.6.L93.B0");
        let s = format_codecs(b"hev1", 0, 1, 2, 0x2000_0000, &[0xB0, 0, 0, 0, 0, 0], 120);
        assert_eq!(s, "hev1.2.4.H120.B0");
        let s = format_codecs(b"hvc1", 1, 0, 1, 0x6000_0000, &[0, 0, 0, 0, 0, 0], 93);
        assert_eq!(s, "hvc1.A1.6.L93");
    }
}
