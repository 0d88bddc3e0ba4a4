//! The initialization segment: `ftyp` + `moov` with one track, empty sample tables and
//! `mvex/trex` (ISO/IEC 14496-12 8.8.1; DASH 23009-1 6.3.3). The sample description
//! (`stsd`), `hdlr`, the media header and `elng` are the input's bytes, unchanged but
//! for what Chromium refuses (`mp4::moov`: padding after the entries, an `hdlr` name
//! without its NUL).

use super::cenc::write_pssh;
use super::{put_u16, put_u32, write_box, write_file_type, write_full_box};
use crate::crypt::Pssh;
use crate::layout::ContentType;
use crate::mp4::header::parse_header;
use crate::mp4::moov::Track;

/// Every output track is track 1 of its own init segment.
pub(crate) const TRACK_ID: u32 = 1;

const UNITY_MATRIX: [u32; 9] = [0x0001_0000, 0, 0, 0, 0x0001_0000, 0, 0, 0, 0x4000_0000];

/// The boxes of one track's init segment that are not written here.
pub(crate) struct InitTrack<'a> {
    pub timescale: u32,
    pub kind: ContentType,
    /// `tkhd`, `hdlr`, the media header and `elng` as whole boxes.
    pub tkhd: &'a [u8],
    pub hdlr: &'a [u8],
    pub media_header: Option<&'a [u8]>,
    pub elng: Option<&'a [u8]>,
    pub mdhd_language: u16,
}

/// The init segment with `stsd` as the sample description (the input's, or its
/// protected form) and `pssh` boxes after `mvex`.
pub(crate) fn write_init_segment(track: &Track, stsd: &[u8], pssh: &[Pssh]) -> Vec<u8> {
    let parts = InitTrack {
        timescale: track.timescale,
        kind: track.kind,
        tkhd: &track.tkhd,
        hdlr: &track.hdlr,
        media_header: track.media_header.as_deref(),
        elng: track.elng.as_deref(),
        mdhd_language: track.mdhd_language,
    };
    write_init(&parts, stsd, pssh)
}

/// [`write_init_segment`] from the track's parts.
pub(crate) fn write_init(track: &InitTrack<'_>, stsd: &[u8], pssh: &[Pssh]) -> Vec<u8> {
    let mut buf = Vec::with_capacity(1024 + stsd.len());
    write_file_type(&mut buf, b"ftyp", b"iso6", &[b"iso6", b"dash", b"mp41"]);
    write_box(&mut buf, b"moov", |buf| {
        write_full_box(buf, b"mvhd", 0, 0, |buf| {
            put_u32(buf, 0); // creation_time
            put_u32(buf, 0); // modification_time
            put_u32(buf, track.timescale);
            put_u32(buf, 0); // duration: unknown for fragmented files
            put_u32(buf, 0x0001_0000); // rate 1.0
            put_u16(buf, 0x0100); // volume 1.0
            buf.extend_from_slice(&[0; 10]);
            for m in UNITY_MATRIX {
                put_u32(buf, m);
            }
            buf.extend_from_slice(&[0; 24]);
            put_u32(buf, TRACK_ID + 1);
        });
        write_box(buf, b"trak", |buf| {
            buf.extend_from_slice(&patched_tkhd(track.tkhd));
            write_box(buf, b"mdia", |buf| {
                write_full_box(buf, b"mdhd", 0, 0, |buf| {
                    put_u32(buf, 0);
                    put_u32(buf, 0);
                    put_u32(buf, track.timescale);
                    put_u32(buf, 0);
                    put_u16(buf, track.mdhd_language);
                    put_u16(buf, 0);
                });
                buf.extend_from_slice(track.hdlr);
                if let Some(elng) = track.elng {
                    buf.extend_from_slice(elng);
                }
                write_box(buf, b"minf", |buf| {
                    match (track.media_header, track.kind) {
                        (Some(raw), _) => buf.extend_from_slice(raw),
                        (None, ContentType::Audio) => {
                            write_full_box(buf, b"smhd", 0, 0, |buf| put_u32(buf, 0))
                        }
                        // Text in MP4 (14496-30): the null media header.
                        (None, ContentType::Text) => write_full_box(buf, b"nmhd", 0, 0, |_| {}),
                        (None, _) => {
                            write_full_box(buf, b"vmhd", 0, 1, |buf| buf.extend_from_slice(&[0; 8]))
                        }
                    }
                    write_box(buf, b"dinf", |buf| {
                        write_full_box(buf, b"dref", 0, 0, |buf| {
                            put_u32(buf, 1);
                            // flags 1: the media data is in the same file
                            write_full_box(buf, b"url ", 0, 1, |_| {});
                        });
                    });
                    write_box(buf, b"stbl", |buf| {
                        buf.extend_from_slice(stsd);
                        for kind in [b"stts", b"stsc", b"stco"] {
                            write_full_box(buf, kind, 0, 0, |buf| put_u32(buf, 0));
                        }
                        write_full_box(buf, b"stsz", 0, 0, |buf| {
                            put_u32(buf, 0);
                            put_u32(buf, 0);
                        });
                    });
                });
            });
        });
        write_box(buf, b"mvex", |buf| {
            write_full_box(buf, b"trex", 0, 0, |buf| {
                put_u32(buf, TRACK_ID);
                put_u32(buf, 1); // default_sample_description_index
                put_u32(buf, 0);
                put_u32(buf, 0);
                put_u32(buf, 0);
            });
        });
        write_pssh(buf, pssh);
    });
    buf
}

/// The input's `tkhd` (matrix, dimensions, layer, volume kept) as track 1, enabled, with
/// an unknown (zero) duration.
fn patched_tkhd(raw: &[u8]) -> Vec<u8> {
    let mut out = raw.to_vec();
    let Ok((_, _, header_len)) = parse_header(raw, raw.len() as u64) else {
        return out;
    };
    let Some(&version) = raw.get(header_len) else {
        return out;
    };
    let (id_at, dur_at, dur_len) = if version == 1 {
        (header_len + 20, header_len + 28, 8)
    } else {
        (header_len + 12, header_len + 20, 4)
    };
    if out.len() >= dur_at + dur_len {
        out[header_len + 3] |= 0x01; // track_enabled
        out[id_at..id_at + 4].copy_from_slice(&TRACK_ID.to_be_bytes());
        out[dur_at..dur_at + dur_len].fill(0);
    }
    out
}
