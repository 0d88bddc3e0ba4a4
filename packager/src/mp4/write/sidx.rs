//! `sidx` (ISO/IEC 14496-12 8.16.3): the segment index of an on-demand file, one
//! reference per media segment (subsegment), version 1 for 64-bit times.

use super::{put_u16, put_u32, put_u64, write_full_box};

/// One media segment as the index describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SidxRef {
    pub size: u32,
    pub duration: u32,
    /// SAP type of its first sample (1 to 3).
    pub sap: u8,
}

/// Bytes of a `sidx` with `count` references.
pub(crate) fn sidx_len(count: usize) -> usize {
    8 + 4 + 4 + 4 + 8 + 8 + 2 + 2 + 12 * count
}

/// Append a `sidx` for track 1. `earliest_pt` is the first segment's earliest
/// presentation time; the first segment follows the `sidx` directly.
pub(crate) fn write_sidx(buf: &mut Vec<u8>, timescale: u32, earliest_pt: u64, refs: &[SidxRef]) {
    write_full_box(buf, b"sidx", 1, 0, |buf| {
        put_u32(buf, 1); // reference_ID
        put_u32(buf, timescale);
        put_u64(buf, earliest_pt);
        put_u64(buf, 0); // first_offset
        put_u16(buf, 0);
        put_u16(buf, refs.len() as u16);
        for r in refs {
            put_u32(buf, r.size & 0x7fff_ffff); // reference_type 0: media
            put_u32(buf, r.duration);
            put_u32(buf, 0x8000_0000 | (u32::from(r.sap & 7) << 28));
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use mp4_atom::{Decode, Sidx};

    #[test]
    fn sidx_reads_back() {
        let refs = [
            SidxRef {
                size: 1000,
                duration: 90_000,
                sap: 1,
            },
            SidxRef {
                size: 2000,
                duration: 45_000,
                sap: 3,
            },
        ];
        let mut buf = Vec::new();
        write_sidx(&mut buf, 90_000, 1 << 33, &refs);
        assert_eq!(buf.len(), sidx_len(2));
        let sidx = Sidx::decode(&mut std::io::Cursor::new(&buf)).unwrap();
        assert_eq!(sidx.timescale, 90_000);
        assert_eq!(sidx.earliest_presentation_time, 1 << 33);
        assert_eq!(sidx.references.len(), 2);
        assert_eq!(sidx.references[1].referenced_size, 2000);
        assert_eq!(sidx.references[1].subsegment_duration, 45_000);
        assert!(sidx.references[1].starts_with_sap);
        assert_eq!(sidx.references[1].sap_type, 3);
    }
}
