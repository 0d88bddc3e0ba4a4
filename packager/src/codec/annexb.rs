//! H.264 byte streams (ITU-T H.264 Annex B, start codes), as encoders write them, into
//! the length-prefixed NAL units of MP4 (ISO/IEC 14496-15).

/// The NAL units of an Annex B stream, start codes and trailing zeros removed.
pub(crate) fn nal_units(data: &[u8]) -> Vec<&[u8]> {
    let mut starts = Vec::new();
    let mut i = 0;
    while i + 3 <= data.len() {
        if data[i] == 0 && data[i + 1] == 0 && data[i + 2] == 1 {
            starts.push(i + 3);
            i += 3;
        } else {
            i += 1;
        }
    }
    let mut out = Vec::with_capacity(starts.len());
    for (k, &s) in starts.iter().enumerate() {
        let end = starts.get(k + 1).map_or(data.len(), |&n| n - 3);
        let mut nal = &data[s..end];
        while let [rest @ .., 0] = nal {
            nal = rest;
        }
        if !nal.is_empty() {
            out.push(nal);
        }
    }
    out
}

/// Appends `data`'s NAL units to `out`, each after its 4-byte length; returns the
/// bytes appended.
pub(crate) fn to_length_prefixed(data: &[u8], out: &mut Vec<u8>) -> usize {
    let start = out.len();
    for nal in nal_units(data) {
        out.extend_from_slice(&(nal.len() as u32).to_be_bytes());
        out.extend_from_slice(nal);
    }
    out.len() - start
}

/// The AVCDecoderConfigurationRecord (ISO/IEC 14496-15 5.3.3.1) of 8-bit 4:2:0 H.264
/// whose SPS and PPS are in `parameter_sets` (Annex B), with 4-byte lengths; `None`
/// without an SPS and a PPS.
pub(crate) fn avc_config(parameter_sets: &[u8]) -> Option<Vec<u8>> {
    let nals = nal_units(parameter_sets);
    let sps: Vec<&[u8]> = nals.iter().copied().filter(|n| n[0] & 0x1f == 7).collect();
    let pps: Vec<&[u8]> = nals.iter().copied().filter(|n| n[0] & 0x1f == 8).collect();
    let first = sps.first().filter(|s| s.len() >= 4)?;
    if pps.is_empty() || sps.len() > 31 || pps.len() > 255 {
        return None;
    }
    let mut out = vec![
        1,
        first[1],
        first[2],
        first[3],
        0xfc | 3,
        0xe0 | sps.len() as u8,
    ];
    for s in &sps {
        out.extend_from_slice(&(s.len() as u16).to_be_bytes());
        out.extend_from_slice(s);
    }
    out.push(pps.len() as u8);
    for p in &pps {
        out.extend_from_slice(&(p.len() as u16).to_be_bytes());
        out.extend_from_slice(p);
    }
    if matches!(first[1], 100 | 110 | 122 | 144) {
        // High profiles: chroma_format_idc 1 (4:2:0), 8-bit luma and chroma, no SPS
        // extensions.
        out.extend_from_slice(&[0xfc | 1, 0xf8, 0xf8, 0]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_codes_become_lengths() {
        let stream = [
            0, 0, 0, 1, 0x67, 0x42, 0xc0, 0x1e, 0, 0, 1, 0x68, 3, 0, 0, 0, 0, 1, 0x65, 4, 5,
        ];
        assert_eq!(
            nal_units(&stream),
            [&[0x67, 0x42, 0xc0, 0x1e][..], &[0x68, 3], &[0x65, 4, 5]]
        );
        let mut out = Vec::new();
        assert_eq!(to_length_prefixed(&stream, &mut out), 21);
        assert_eq!(&out[..8], &[0, 0, 0, 4, 0x67, 0x42, 0xc0, 0x1e]);
        let config = avc_config(&stream[..14]).expect("SPS and PPS");
        assert_eq!(
            config,
            [
                1, 0x42, 0xc0, 0x1e, 0xff, 0xe1, 0, 4, 0x67, 0x42, 0xc0, 0x1e, 1, 0, 2, 0x68, 3
            ]
        );
        assert_eq!(avc_config(&stream[..9]), None);
    }
}
