//! Dolby Vision: the `dvcC`/`dvvC`/`dvwC` configuration record (Dolby Vision Streams
//! within the ISO Base Media File Format, 3.2) and its codecs string. A Dolby Vision
//! sample entry (`dvh1`, `dvhe`, `dav1`, `dva1`, `dvav`) is signalled as itself; a base
//! layer entry (`hvc1`, `av01`, ...) carrying the record is a cross-compatible profile
//! (8, 9, 10): its base codec in `@codecs`, Dolby Vision as the supplemental codec.

use crate::error::BoxError;
use crate::mp4::header::{Bx, FourCC};

/// Profile, level and base-layer compatibility of one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DoviConfig {
    pub profile: u8,
    pub level: u8,
    pub bl_compatibility_id: u8,
}

pub(crate) fn parse(b: &Bx<'_>) -> Result<DoviConfig, BoxError> {
    let mut r = b.body();
    r.skip(2)?; // dv_version_major, dv_version_minor
    let v = r.u16()?;
    let profile = (v >> 9) as u8;
    let level = ((v >> 3) & 0x3f) as u8;
    let compat = r.u8()? >> 4;
    Ok(DoviConfig {
        profile,
        level,
        bl_compatibility_id: compat,
    })
}

/// Whether `kind` is a Dolby Vision sample entry type.
pub(crate) fn is_dolby_vision_entry(kind: &FourCC) -> bool {
    matches!(kind, b"dvh1" | b"dvhe" | b"dav1" | b"dva1" | b"dvav")
}

/// The Dolby Vision sample entry type that matches a base-layer entry type.
fn dolby_fourcc(base: &FourCC) -> &'static str {
    match base {
        b"hev1" | b"dvhe" => "dvhe",
        b"avc1" | b"dva1" => "dva1",
        b"avc3" | b"dvav" => "dvav",
        b"av01" | b"dav1" => "dav1",
        _ => "dvh1",
    }
}

impl DoviConfig {
    /// `dvh1.08.06`: the entry type, profile and level, two digits each.
    pub fn codecs(&self, entry: &FourCC) -> String {
        format!(
            "{}.{:02}.{:02}",
            dolby_fourcc(entry),
            self.profile,
            self.level
        )
    }

    /// HLS's compatibility brand for SUPPLEMENTAL-CODECS (`db1p` HDR10, `db2g` SDR,
    /// `db4h` HLG), when the base layer is one of those.
    pub fn hls_brand(&self) -> Option<&'static str> {
        match self.bl_compatibility_id {
            1 => Some("db1p"),
            2 => Some("db2g"),
            4 => Some("db4h"),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mp4::header::{boxed, test_box};

    fn record(profile: u16, level: u16, compat: u8) -> Vec<u8> {
        let v = (profile << 9) | (level << 3) | 0b101; // rpu and bl present
        let mut body = vec![1, 0];
        body.extend_from_slice(&v.to_be_bytes());
        body.push(compat << 4);
        body.extend_from_slice(&[0; 19]);
        boxed(b"dvcC", &body)
    }

    #[test]
    fn codecs_strings_and_brands() {
        let b = record(5, 6, 0);
        let p5 = parse(&test_box(&b)).unwrap();
        assert_eq!(p5.codecs(b"dvh1"), "dvh1.05.06");
        assert_eq!(p5.hls_brand(), None);
        let b = record(8, 9, 1);
        let p8 = parse(&test_box(&b)).unwrap();
        assert_eq!(p8.codecs(b"hvc1"), "dvh1.08.09");
        assert_eq!(p8.codecs(b"hev1"), "dvhe.08.09");
        assert_eq!(p8.hls_brand(), Some("db1p"));
        let b = record(10, 1, 4);
        let p10 = parse(&test_box(&b)).unwrap();
        assert_eq!(p10.codecs(b"av01"), "dav1.10.01");
        assert_eq!(p10.hls_brand(), Some("db4h"));
    }
}
