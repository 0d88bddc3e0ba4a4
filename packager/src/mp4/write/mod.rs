//! Box writers: pure functions that append boxes to a byte buffer. Sizes are
//! back-filled once a box's body is written (ISO/IEC 14496-12 4.2).

pub(crate) mod audio_entry;
pub(crate) mod cenc;
pub(crate) mod init;
pub(crate) mod moof;
pub(crate) mod sidx;
pub(crate) mod stpp;
pub(crate) mod trun;
#[cfg(feature = "transcode")]
pub(crate) mod video_entry;

/// Append a box whose body `body` writes; its 32-bit size is filled in afterwards.
pub(crate) fn write_box(buf: &mut Vec<u8>, kind: &[u8; 4], body: impl FnOnce(&mut Vec<u8>)) {
    let start = buf.len();
    buf.extend_from_slice(&[0, 0, 0, 0]);
    buf.extend_from_slice(kind);
    body(buf);
    let size = u32::try_from(buf.len() - start).unwrap_or(u32::MAX);
    buf[start..start + 4].copy_from_slice(&size.to_be_bytes());
}

/// Append a full box (one with version and flags).
pub(crate) fn write_full_box(
    buf: &mut Vec<u8>,
    kind: &[u8; 4],
    version: u8,
    flags: u32,
    body: impl FnOnce(&mut Vec<u8>),
) {
    write_box(buf, kind, |buf| {
        put_u32(buf, (u32::from(version) << 24) | (flags & 0x00ff_ffff));
        body(buf);
    });
}

pub(crate) fn put_u16(buf: &mut Vec<u8>, v: u16) {
    buf.extend_from_slice(&v.to_be_bytes());
}

pub(crate) fn put_u32(buf: &mut Vec<u8>, v: u32) {
    buf.extend_from_slice(&v.to_be_bytes());
}

pub(crate) fn put_u64(buf: &mut Vec<u8>, v: u64) {
    buf.extend_from_slice(&v.to_be_bytes());
}

/// `ftyp` or `styp`: same layout, different name.
pub(crate) fn write_file_type(
    buf: &mut Vec<u8>,
    kind: &[u8; 4],
    major: &[u8; 4],
    compatible: &[&[u8; 4]],
) {
    write_box(buf, kind, |buf| {
        buf.extend_from_slice(major);
        put_u32(buf, 0);
        for b in compatible {
            buf.extend_from_slice(*b);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_backfilled() {
        let mut buf = Vec::new();
        write_box(&mut buf, b"moof", |buf| {
            write_full_box(buf, b"mfhd", 0, 0, |buf| put_u32(buf, 7));
        });
        assert_eq!(buf.len(), 24);
        assert_eq!(&buf[0..8], &[0, 0, 0, 24, b'm', b'o', b'o', b'f']);
        assert_eq!(&buf[8..16], &[0, 0, 0, 16, b'm', b'f', b'h', b'd']);
        assert_eq!(&buf[20..24], &[0, 0, 0, 7]);
    }
}
