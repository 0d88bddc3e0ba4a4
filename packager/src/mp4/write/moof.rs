//! A media segment's boxes: `styp`, `moof` (`mfhd`, one `traf` with `tfhd`, `tfdt`,
//! `trun`) and the `mdat` header (ISO/IEC 14496-12 8.8, 8.1.1; DASH 23009-1 6.3.4).

use super::trun::{TrunSample, write_trun};
use super::{put_u32, put_u64, write_box, write_file_type, write_full_box};

/// `tfhd` flag: offsets are relative to the first byte of the `moof`.
const DEFAULT_BASE_IS_MOOF: u32 = 0x020000;

/// Append `styp`, `moof` and the `mdat` header for `payload_len` bytes of sample data,
/// which the caller appends next. The `trun` data offset points at the first payload
/// byte.
pub(crate) fn write_segment_header(
    buf: &mut Vec<u8>,
    sequence: u32,
    track_id: u32,
    base_decode_time: u64,
    samples: &[TrunSample],
    with_cto: bool,
    payload_len: u64,
) {
    write_file_type(buf, b"styp", b"msdh", &[b"msdh", b"msix"]);
    let moof_start = buf.len();
    let mut data_offset_pos = 0;
    write_box(buf, b"moof", |buf| {
        write_full_box(buf, b"mfhd", 0, 0, |buf| put_u32(buf, sequence));
        write_box(buf, b"traf", |buf| {
            write_full_box(buf, b"tfhd", 0, DEFAULT_BASE_IS_MOOF, |buf| {
                put_u32(buf, track_id)
            });
            write_full_box(buf, b"tfdt", 1, 0, |buf| put_u64(buf, base_decode_time));
            data_offset_pos = write_trun(buf, samples, with_cto);
        });
    });
    let moof_len = (buf.len() - moof_start) as u64;
    let large = payload_len + 8 > u64::from(u32::MAX);
    let mdat_header = if large { 16 } else { 8 };
    let data_offset = u32::try_from(moof_len + mdat_header).unwrap_or(u32::MAX);
    buf[data_offset_pos..data_offset_pos + 4].copy_from_slice(&data_offset.to_be_bytes());
    if large {
        put_u32(buf, 1);
        buf.extend_from_slice(b"mdat");
        put_u64(buf, payload_len + 16);
    } else {
        put_u32(buf, (payload_len + 8) as u32);
        buf.extend_from_slice(b"mdat");
    }
}
