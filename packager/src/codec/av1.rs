//! AV1: `av1C` (AV1 Codec ISO Media File Format Binding 2.3) and the `av01.` codecs
//! string (same document, "Codecs Parameter String").

use crate::error::{BoxError, Malformed};
use crate::mp4::header::Bx;

/// `av01.P.LLT.DD`, with `.M.CCC.cp.tc.mc.F` when the colour description is known
/// (`colr` of type `nclx`): the tail is all present or all absent.
pub(crate) fn codecs(
    av1c: &Bx<'_>,
    nclx: Option<(u16, u16, u16, bool)>,
) -> Result<String, BoxError> {
    let mut r = av1c.body();
    let marker = r.u8()?;
    if marker != 0x81 {
        return Err(av1c.err(Malformed::InvalidField {
            field: "av1C marker and version",
            value: i64::from(marker),
        }));
    }
    let b = r.u8()?;
    let (profile, level) = (b >> 5, b & 0x1f);
    let c = r.u8()?;
    let tier = if c & 0x80 != 0 { 'H' } else { 'M' };
    let (high_bitdepth, twelve_bit) = (c & 0x40 != 0, c & 0x20 != 0);
    let depth = match (high_bitdepth, twelve_bit) {
        (true, true) => 12,
        (true, false) => 10,
        _ => 8,
    };
    let mut s = format!("av01.{profile}.{level:02}{tier}.{depth:02}");
    if let Some((cp, tc, mc, full)) = nclx {
        let mono = (c >> 4) & 1;
        let (sx, sy, pos) = ((c >> 3) & 1, (c >> 2) & 1, c & 3);
        s.push_str(&format!(
            ".{mono}.{sx}{sy}{pos}.{cp:02}.{tc:02}.{mc:02}.{}",
            u8::from(full)
        ));
    }
    Ok(s)
}
