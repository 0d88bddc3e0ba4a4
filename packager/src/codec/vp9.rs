//! VP9: `vpcC` (VP Codec ISO Media File Format Binding 2.2) and the `vp09.` codecs string
//! in its full form `vp09.PP.LL.DD.CC.cp.tc.mc.FF` (same document, "Codecs Parameter
//! String").

use crate::error::{BoxError, Malformed};
use crate::mp4::header::Bx;

pub(crate) fn codecs(vpcc: &Bx<'_>) -> Result<String, BoxError> {
    let mut r = vpcc.body();
    let (version, _) = r.version_flags()?;
    if version != 1 {
        return Err(vpcc.err(Malformed::InvalidField {
            field: "vpcC version",
            value: i64::from(version),
        }));
    }
    let profile = r.u8()?;
    let level = r.u8()?;
    let b = r.u8()?;
    let (depth, chroma, full) = (b >> 4, (b >> 1) & 7, b & 1);
    let (cp, tc, mc) = (r.u8()?, r.u8()?, r.u8()?);
    Ok(format!(
        "vp09.{profile:02}.{level:02}.{depth:02}.{chroma:02}.{cp:02}.{tc:02}.{mc:02}.{full:02}"
    ))
}
