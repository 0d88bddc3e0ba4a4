//! A media segment's boxes: `styp`, `moof` (`mfhd`, one `traf` with `tfhd`, `tfdt`,
//! `trun`) and the `mdat` header (ISO/IEC 14496-12 8.8, 8.1.1; DASH 23009-1 6.3.4).

use super::cenc::{TrafProtection, write_sample_encryption};
use super::trun::{TrunSample, write_trun};
use super::{put_u32, put_u64, write_box, write_file_type, write_full_box};

/// `tfhd` flag: offsets are relative to the first byte of the `moof`.
const DEFAULT_BASE_IS_MOOF: u32 = 0x020000;
const SAMPLE_DESCRIPTION_INDEX_PRESENT: u32 = 0x000002;

/// What one `moof` describes: its sequence number and one track's run of samples.
pub(crate) struct Fragment<'a> {
    pub sequence: u32,
    pub track_id: u32,
    pub base_decode_time: u64,
    pub samples: &'a [TrunSample],
    /// Write composition offsets (`trun` version 1).
    pub with_cto: bool,
    /// Start with `styp` (live profile segment files; not inside on-demand files).
    pub with_styp: bool,
}

/// Append `styp`, `moof` and the `mdat` header for `payload_len` bytes of sample data,
/// which the caller appends next. The `trun` data offset points at the first payload
/// byte. `protection` adds the Common Encryption boxes of the `traf`.
pub(crate) fn write_segment_header(
    buf: &mut Vec<u8>,
    fragment: &Fragment<'_>,
    payload_len: u64,
    protection: Option<&TrafProtection<'_>>,
) {
    if fragment.with_styp {
        write_file_type(buf, b"styp", b"msdh", &[b"msdh", b"msix"]);
    }
    let moof_start = buf.len();
    let mut data_offset_pos = 0;
    write_box(buf, b"moof", |buf| {
        write_full_box(buf, b"mfhd", 0, 0, |buf| put_u32(buf, fragment.sequence));
        write_box(buf, b"traf", |buf| {
            let description = protection.and_then(|p| p.sample_description_index);
            let flags = DEFAULT_BASE_IS_MOOF
                | if description.is_some() {
                    SAMPLE_DESCRIPTION_INDEX_PRESENT
                } else {
                    0
                };
            write_full_box(buf, b"tfhd", 0, flags, |buf| {
                put_u32(buf, fragment.track_id);
                if let Some(index) = description {
                    put_u32(buf, index);
                }
            });
            write_full_box(buf, b"tfdt", 1, 0, |buf| {
                put_u64(buf, fragment.base_decode_time)
            });
            data_offset_pos = write_trun(buf, fragment.samples, fragment.with_cto);
            if let Some(aux) = protection.and_then(|p| p.aux) {
                write_sample_encryption(buf, moof_start, aux);
            }
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

#[cfg(test)]
mod tests {
    use super::*;
    use mp4_atom::{Decode, Mdat, Moof, Styp};
    use proptest::prelude::*;

    fn sample() -> impl Strategy<Value = TrunSample> {
        (any::<u32>(), 0u32..5000, any::<bool>(), any::<i32>()).prop_map(
            |(duration, size, sync, cto)| TrunSample {
                duration,
                size,
                flags: if sync { 0x0200_0000 } else { 0x0101_0000 },
                cto,
            },
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 200, failure_persistence: None, ..ProptestConfig::default() })]

        /// What the writer puts in `moof`/`trun`, an independent reader (mp4-atom,
        /// strict) reads back, field for field; the data offset lands on the payload.
        #[test]
        fn segment_header_round_trips(
            samples in prop::collection::vec(sample(), 1..200),
            sequence in any::<u32>(),
            track_id in 1u32..,
            base in any::<u64>(),
            with_cto in any::<bool>(),
        ) {
            let payload: u64 = samples.iter().map(|s| u64::from(s.size)).sum();
            let mut buf = Vec::new();
            let fragment = Fragment { sequence, track_id, base_decode_time: base, samples: &samples, with_cto, with_styp: true };
            write_segment_header(&mut buf, &fragment, payload, None);
            let header_len = buf.len();
            buf.extend((0..payload).map(|i| i as u8));
            let mut c = std::io::Cursor::new(&buf[..]);
            Styp::decode(&mut c).unwrap();
            let moof_start = c.position() as usize;
            let moof = Moof::decode(&mut c).unwrap();
            let mdat = Mdat::decode(&mut c).unwrap();
            prop_assert_eq!(c.position() as usize, buf.len());
            prop_assert_eq!(mdat.data.len() as u64, payload);
            prop_assert_eq!(moof.mfhd.sequence_number, sequence);
            let traf = &moof.traf[0];
            prop_assert_eq!(traf.tfhd.track_id, track_id);
            prop_assert_eq!(traf.tfdt.as_ref().unwrap().base_media_decode_time, base);
            let trun = &traf.trun[0];
            prop_assert_eq!(
                moof_start + trun.data_offset.unwrap() as usize,
                header_len,
                "data offset points at the first payload byte"
            );
            prop_assert_eq!(trun.samples.len(), samples.len());
            for (got, want) in trun.samples.iter().zip(&samples) {
                prop_assert_eq!(got.duration, Some(want.duration));
                prop_assert_eq!(got.size, Some(want.size));
                prop_assert_eq!(got.flags, Some(want.flags));
                prop_assert_eq!(got.cts.unwrap_or(0), if with_cto { i64::from(want.cto) } else { 0 });
            }
        }
    }
}
