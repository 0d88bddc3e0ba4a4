//! The `stsd` of video dashpack encodes itself: one `avc1` VisualSampleEntry
//! (ISO/IEC 14496-12 12.1.3) with its `avcC` (ISO/IEC 14496-15 5.4.2).

use super::{put_u16, put_u32, write_box, write_full_box};

/// An `stsd` with one `avc1` entry of `width` x `height` square pixels.
pub(crate) fn avc1_stsd(width: u16, height: u16, avc_config: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    write_full_box(&mut out, b"stsd", 0, 0, |b| {
        put_u32(b, 1);
        write_box(b, b"avc1", |e| {
            e.extend_from_slice(&[0; 6]);
            put_u16(e, 1); // data_reference_index
            e.extend_from_slice(&[0; 16]); // pre_defined, reserved
            put_u16(e, width);
            put_u16(e, height);
            put_u32(e, 0x0048_0000); // 72 dpi
            put_u32(e, 0x0048_0000);
            put_u32(e, 0);
            put_u16(e, 1); // frame_count
            let mut name = [0u8; 32];
            let label = b"dashpack H.264";
            name[0] = label.len() as u8;
            name[1..=label.len()].copy_from_slice(label);
            e.extend_from_slice(&name);
            put_u16(e, 0x0018); // depth
            put_u16(e, 0xffff); // pre_defined = -1
            write_box(e, b"avcC", |c| c.extend_from_slice(avc_config));
            write_box(e, b"pasp", |p| {
                put_u32(p, 1);
                put_u32(p, 1);
            });
        });
    });
    out
}
