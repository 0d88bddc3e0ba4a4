//! ISO audio sample entries for two forms that FFmpeg reads but Chromium's MSE parser
//! refuses: a QuickTime sound description (version 1 or 2, its `esds` inside a `wave`
//! box) becomes an ISO `AudioSampleEntry` (ISO/IEC 14496-12 12.2.3, version 0) with the
//! `esds` as a direct child; and an `esds` naming MPEG-2 AAC (object types 0x66-0x68)
//! is written as MPEG-4 audio (0x40) with an AudioSpecificConfig, as the MPD's
//! `mp4a.40.N` says (ISO/IEC 14496-3 1.6.2.1; the decoders are the same).

use super::{put_u16, put_u32, write_box, write_full_box};
use crate::codec::{self, CodecInfo, Family, aac};
use crate::error::BoxError;
use crate::mp4::header::Bx;

/// Children an ISO AudioSampleEntry for AAC may keep; QuickTime's `wave` and `chan`
/// (and anything unknown) are left out.
const KEPT: [&[u8; 4]; 2] = [b"btrt", b"chnl"];

/// The `stsd` (whose first entry is `entry`) with that entry made standard, or `None`
/// when it already is. Only AAC is rewritten: the other audio codecs dashpack carries
/// have no QuickTime form in the wild.
pub(crate) fn standard_audio_stsd(
    stsd: &[u8],
    entry: &Bx<'_>,
    codec: &CodecInfo,
) -> Result<Option<Vec<u8>>, BoxError> {
    if codec.family != Family::Aac || entry.kind != *b"mp4a" {
        return Ok(None);
    }
    let sound = codec::sound_description(entry)?;
    let mut r = entry.body();
    r.skip(6)?;
    let data_reference_index = r.u16()?;
    let version = r.u16()?;
    let direct = codec::find_child(entry, sound.children_at, b"esds")?;
    let Some(esds) = direct
        .clone()
        .or(codec::find_wave_esds(entry, sound.children_at)?)
    else {
        return Ok(None); // the codec parser has refused this entry already
    };
    let mpeg4 = mpeg4_esds(&esds, codec)?;
    if version == 0 && direct.is_some() && mpeg4.is_none() {
        return Ok(None);
    }
    let channels = if codec.channels > 0 {
        codec.channels
    } else {
        sound.channels
    };
    let mut out_entry = Vec::with_capacity(entry.raw.len());
    let mut children = Vec::new();
    for child in entry.children_after(sound.children_at) {
        let child = child?;
        if KEPT.contains(&&child.kind) {
            children.extend_from_slice(child.raw);
        }
    }
    write_box(&mut out_entry, b"mp4a", |b| {
        b.extend_from_slice(&[0; 6]);
        put_u16(b, data_reference_index);
        b.extend_from_slice(&[0; 8]); // reserved (QuickTime's version, revision, vendor)
        put_u16(b, channels);
        put_u16(b, 16);
        put_u32(b, 0); // pre_defined, reserved
        // 16.16 fixed point; rates above 65535 Hz are given by the esds alone.
        let rate = codec.sample_rate;
        put_u32(b, if rate <= 0xffff { rate << 16 } else { 0 });
        match &mpeg4 {
            Some(e) => b.extend_from_slice(e),
            None => b.extend_from_slice(esds.raw),
        }
        b.extend_from_slice(&children);
    });
    // The stsd keeps its other entries (they may be referenced) after the new first.
    let first_end = 16 + entry.raw.len();
    if stsd.get(16..first_end) != Some(entry.raw) {
        return Ok(None); // not the plain layout (a 64-bit size): left as it is
    }
    let rest = &stsd[first_end..];
    let count = stsd
        .get(12..16)
        .map_or(1, |c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]));
    let mut out = Vec::with_capacity(stsd.len());
    write_full_box(&mut out, b"stsd", 0, 0, |b| {
        put_u32(b, count);
        b.extend_from_slice(&out_entry);
        b.extend_from_slice(rest);
    });
    Ok(Some(out))
}

/// A new `esds` when this one names MPEG-2 AAC: object type 0x40, the same stream
/// type, buffer size and bit rates, and an AudioSpecificConfig (the one given, or one
/// made from the profile, rate and channels).
fn mpeg4_esds(esds: &Bx<'_>, codec: &CodecInfo) -> Result<Option<Vec<u8>>, BoxError> {
    let cfg = aac::parse_esds(esds)?;
    if !(0x66..=0x68).contains(&cfg.object_type) {
        return Ok(None);
    }
    let asc = if cfg.asc_bytes.is_empty() {
        match make_asc(cfg.object_type - 0x65, codec.sample_rate, codec.channels) {
            Some(a) => a,
            None => return Ok(None),
        }
    } else {
        cfg.asc_bytes
    };
    // One-byte descriptor lengths hold everything below (an ASC is a few bytes).
    if asc.len() >= 64 {
        return Ok(None);
    }
    let mut out = Vec::new();
    write_full_box(&mut out, b"esds", 0, 0, |b| {
        let dsi = 2 + asc.len();
        let dcd = 2 + 13 + dsi;
        b.extend_from_slice(&[3, (3 + dcd + 3) as u8, 0, 0, 0]); // ES_Descriptor, ES_ID 0
        b.extend_from_slice(&[4, (13 + dsi) as u8, 0x40]);
        b.extend_from_slice(&cfg.decoder_fields);
        b.extend_from_slice(&[5, asc.len() as u8]);
        b.extend_from_slice(&asc);
        b.extend_from_slice(&[6, 1, 2]); // SLConfigDescriptor: predefined MP4
    });
    Ok(Some(out))
}

/// `stsd` with one ISO `mp4a` AudioSampleEntry for AAC dashpack encoded: its `esds`
/// carries the encoder's AudioSpecificConfig `asc` and the average bit rate.
#[cfg_attr(not(feature = "transcode"), allow(dead_code))]
pub(crate) fn mp4a_stsd(rate: u32, channels: u16, asc: &[u8], bit_rate: u32) -> Vec<u8> {
    let asc = &asc[..asc.len().min(63)];
    let mut out = Vec::new();
    write_full_box(&mut out, b"stsd", 0, 0, |b| {
        put_u32(b, 1);
        write_box(b, b"mp4a", |e| {
            e.extend_from_slice(&[0; 6]);
            put_u16(e, 1); // data_reference_index
            e.extend_from_slice(&[0; 8]);
            put_u16(e, channels);
            put_u16(e, 16);
            put_u32(e, 0);
            put_u32(e, if rate <= 0xffff { rate << 16 } else { 0 });
            write_full_box(e, b"esds", 0, 0, |d| {
                let dsi = 2 + asc.len();
                let dcd = 2 + 13 + dsi;
                d.extend_from_slice(&[3, (3 + dcd + 3) as u8, 0, 0, 0]); // ES_Descriptor
                d.extend_from_slice(&[4, (13 + dsi) as u8, 0x40]);
                d.push(0x15); // streamType audio (5), upStream 0, reserved 1
                d.extend_from_slice(&[0, 0x18, 0]); // bufferSizeDB: 6144 bytes
                put_u32(d, bit_rate); // maxBitrate
                put_u32(d, bit_rate); // avgBitrate
                d.extend_from_slice(&[5, asc.len() as u8]);
                d.extend_from_slice(asc);
                d.extend_from_slice(&[6, 1, 2]); // SLConfigDescriptor: predefined MP4
            });
        });
    });
    out
}

/// A two-byte AudioSpecificConfig (object type, rate index, channel configuration).
fn make_asc(object_type: u8, rate: u32, channels: u16) -> Option<Vec<u8>> {
    let index = aac::SAMPLE_RATES.iter().position(|r| *r == rate)? as u16;
    let config = match channels {
        1..=6 => channels,
        8 => 7,
        _ => return None,
    };
    let v = (u16::from(object_type) << 11) | (index << 7) | (config << 3);
    Some(v.to_be_bytes().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_encoded_aac_entry_reads_back_as_aac_lc() {
        let stsd = mp4a_stsd(44_100, 2, &[0x12, 0x10], 128_000);
        let stsd = crate::mp4::header::whole_box(&stsd).expect("stsd");
        let entry = stsd.children_after(8).next().expect("entry").expect("box");
        let info = codec::parse_sample_entry(&entry)
            .expect("parses")
            .expect("known");
        assert_eq!(
            (info.codecs.as_str(), info.sample_rate, info.channels),
            ("mp4a.40.2", 44_100, 2)
        );
    }

    #[test]
    fn asc_from_profile_rate_and_channels() {
        // AAC LC, 48 kHz, stereo: 00010 0011 0010 000.
        assert_eq!(make_asc(2, 48000, 2), Some(vec![0x11, 0x90]));
        assert_eq!(make_asc(2, 44100, 8), Some(vec![0x12, 0x38]));
        assert_eq!(make_asc(2, 12345, 2), None);
    }
}
