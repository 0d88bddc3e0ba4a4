//! A TTML document as IMSC1 in fragmented MP4 (ISO/IEC 14496-30): an init segment with
//! an `stpp` sample entry, and one media segment whose one sample is the document, over
//! the whole presentation (TTML times are on the track's timeline from its start). HLS
//! has no TTML file form, only this one (RFC 8216bis IMSC1 subtitles).

use super::init::{InitTrack, TRACK_ID, write_init};
use super::moof::{Fragment, write_segment_header};
use super::trun::{FLAGS_SYNC, TrunSample};
use super::{put_u16, put_u32, write_box, write_full_box};
use crate::layout::ContentType;

/// Milliseconds: TTML documents say their own times; the sample only needs to last.
pub(crate) const TIMESCALE: u32 = 1000;

/// The init segment: track 1, handler `subt`, an `stpp` entry naming `namespaces`
/// (space-separated), language `language` (BCP-47).
pub(crate) fn init_segment(namespaces: &str, language: &str) -> Vec<u8> {
    let mut tkhd = Vec::new();
    write_full_box(&mut tkhd, b"tkhd", 0, 3, |b| {
        b.extend_from_slice(&[0; 8]); // creation, modification time
        put_u32(b, TRACK_ID);
        b.extend_from_slice(&[0; 4 + 4 + 8 + 2 + 2 + 2 + 2]);
        for m in [0x0001_0000u32, 0, 0, 0, 0x0001_0000, 0, 0, 0, 0x4000_0000] {
            put_u32(b, m);
        }
        b.extend_from_slice(&[0; 8]); // width, height
    });
    let mut hdlr = Vec::new();
    write_full_box(&mut hdlr, b"hdlr", 0, 0, |b| {
        put_u32(b, 0);
        b.extend_from_slice(b"subt");
        b.extend_from_slice(&[0; 12]);
        b.extend_from_slice(b"TTML\0");
    });
    let mut sthd = Vec::new();
    write_full_box(&mut sthd, b"sthd", 0, 0, |_| {});
    let mut stsd = Vec::new();
    write_full_box(&mut stsd, b"stsd", 0, 0, |b| {
        put_u32(b, 1);
        write_box(b, b"stpp", |b| {
            b.extend_from_slice(&[0; 6]);
            put_u16(b, 1); // data_reference_index
            b.extend_from_slice(namespaces.as_bytes());
            b.extend_from_slice(b"\0\0\0"); // then empty schema_location, mime types
        });
    });
    let track = InitTrack {
        timescale: TIMESCALE,
        kind: ContentType::Text,
        tkhd: &tkhd,
        hdlr: &hdlr,
        media_header: Some(&sthd),
        elng: None,
        mdhd_language: packed_language(language),
    };
    write_init(&track, &stsd, &[])
}

/// The one media segment: the document as one sample from 0 for `duration_ms`.
pub(crate) fn media_segment(document: &[u8], duration_ms: u32) -> Vec<u8> {
    let sample = [TrunSample {
        duration: duration_ms.max(1),
        size: document.len() as u32,
        flags: FLAGS_SYNC,
        cto: 0,
    }];
    let fragment = Fragment {
        sequence: 1,
        track_id: TRACK_ID,
        base_decode_time: 0,
        samples: &sample,
        with_cto: false,
        with_styp: true,
    };
    let mut buf = Vec::with_capacity(document.len() + 256);
    write_segment_header(&mut buf, &fragment, document.len() as u64, None);
    buf.extend_from_slice(document);
    buf
}

/// The `mdhd` language: an ISO 639-2/T code as three 5-bit letters (`und` when the
/// tag's language has no such code).
fn packed_language(tag: &str) -> u16 {
    let code = crate::lang::iso639_2(tag);
    let letters = code.as_bytes();
    if letters.len() != 3 || !letters.iter().all(u8::is_ascii_lowercase) {
        return packed_language("und");
    }
    letters
        .iter()
        .fold(0u16, |n, &c| (n << 5) | u16::from(c - 0x60))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn languages_pack_as_mdhd_says() {
        assert_eq!(
            crate::lang::from_mdhd(packed_language("de")).unwrap(),
            "deu"
        );
        assert_eq!(
            crate::lang::from_mdhd(packed_language("x-y")).unwrap(),
            "und"
        );
    }
}
