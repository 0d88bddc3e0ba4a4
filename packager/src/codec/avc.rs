//! H.264: `avcC` (ISO/IEC 14496-15 5.3.3) and the `avc1.PPCCLL` codecs string (RFC 6381 3.3).

use crate::error::{BoxError, Malformed};
use crate::mp4::header::{Bx, FourCC, fourcc_str};

/// The codecs string and the NAL length size from an `avcC` box.
pub(crate) fn codecs(fourcc: &FourCC, avcc: &Bx<'_>) -> Result<(String, u8), BoxError> {
    let mut r = avcc.body();
    let version = r.u8()?;
    if version != 1 {
        return Err(avcc.err(Malformed::InvalidField {
            field: "avcC configurationVersion",
            value: i64::from(version),
        }));
    }
    let profile = r.u8()?;
    let constraints = r.u8()?;
    let level = r.u8()?;
    let length_size = (r.u8()? & 3) + 1;
    if length_size == 3 {
        return Err(avcc.err(Malformed::InvalidField {
            field: "avcC lengthSizeMinusOne",
            value: 2,
        }));
    }
    Ok((
        format!(
            "{}.{profile:02X}{constraints:02X}{level:02X}",
            fourcc_str(fourcc)
        ),
        length_size,
    ))
}

/// The SPS and PPS NAL units of an `avcC` (read leniently: a truncated list ends early).
pub(crate) fn parameter_sets(avcc: &Bx<'_>) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut r = avcc.body();
    let mut read = || -> Result<(), BoxError> {
        r.skip(5)?;
        for mask in [0x1f, 0xff] {
            let n = r.u8()? & mask;
            for _ in 0..n {
                let len = usize::from(r.u16()?);
                out.push(r.bytes(len)?.to_vec());
            }
        }
        Ok(())
    };
    let _ = read();
    out
}
