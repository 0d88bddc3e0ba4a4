//! `trun` (ISO/IEC 14496-12 8.8.8): per-sample durations, sizes, flags and composition
//! offsets. The data offset is written as a placeholder and patched once the `moof`
//! size is known.

use super::{put_u32, write_full_box};

pub(crate) const DATA_OFFSET_PRESENT: u32 = 0x000001;
pub(crate) const SAMPLE_DURATION_PRESENT: u32 = 0x000100;
pub(crate) const SAMPLE_SIZE_PRESENT: u32 = 0x000200;
pub(crate) const SAMPLE_FLAGS_PRESENT: u32 = 0x000400;
pub(crate) const SAMPLE_CTO_PRESENT: u32 = 0x000800;

/// `sample_depends_on = 2`: an independently decodable sync sample.
pub(crate) const FLAGS_SYNC: u32 = 0x0200_0000;
/// `sample_depends_on = 1`, `sample_is_non_sync_sample = 1`.
pub(crate) const FLAGS_NON_SYNC: u32 = 0x0101_0000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TrunSample {
    pub duration: u32,
    pub size: u32,
    pub flags: u32,
    /// Signed composition offset (written only when `with_cto`).
    pub cto: i32,
}

/// Append a `trun`; returns the buffer position of its `data_offset` field.
/// Version 1 (signed offsets) is used whenever composition offsets are written.
pub(crate) fn write_trun(buf: &mut Vec<u8>, samples: &[TrunSample], with_cto: bool) -> usize {
    let mut flags =
        DATA_OFFSET_PRESENT | SAMPLE_DURATION_PRESENT | SAMPLE_SIZE_PRESENT | SAMPLE_FLAGS_PRESENT;
    if with_cto {
        flags |= SAMPLE_CTO_PRESENT;
    }
    let version = u8::from(with_cto);
    let mut data_offset_pos = 0;
    write_full_box(buf, b"trun", version, flags, |buf| {
        put_u32(buf, samples.len() as u32);
        data_offset_pos = buf.len();
        put_u32(buf, 0);
        buf.reserve(samples.len() * 16);
        for s in samples {
            put_u32(buf, s.duration);
            put_u32(buf, s.size);
            put_u32(buf, s.flags);
            if with_cto {
                put_u32(buf, s.cto as u32);
            }
        }
    });
    data_offset_pos
}
