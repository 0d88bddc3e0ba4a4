//! Closed captions carried in H.264 and HEVC SEI (ATSC A/53 Part 4 `cc_data` in
//! `user_data_registered_itu_t_t35`, as SCTE 128 and broadcast encoders write them):
//! which CEA-608 channels (CC1 to CC4) and CEA-708 services (1 to 63) hold captions.
//! Nothing is decoded or changed: the captions stay in the video, and the manifests say
//! they are there (DASH `Accessibility`, HLS `CLOSED-CAPTIONS`). Captions from a caption
//! track of their own are written in the same form (`sei_nal_units`).

use super::Family;
use super::bits::{Bits, escape};

/// SEI payload type of `user_data_registered_itu_t_t35` (H.264 D.1.6, H.265 D.2.6).
const T35: u32 = 4;
/// ITU-T T.35 country code of the United States, and the ATSC provider code.
const USA: u8 = 0xB5;
const ATSC: u16 = 0x0031;
/// ATSC A/53 user_identifier "GA94" and user_data_type_code for `cc_data`.
const GA94: &[u8; 4] = b"GA94";
const CC_DATA: u8 = 0x03;

/// The caption channels found in a video track.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Captions {
    /// Bit `n` (0 to 3): CEA-608 channel CC`n+1` holds captions.
    pub cea608: u8,
    /// Bit `n` (1 to 63): CEA-708 service `n` holds captions.
    pub cea708: u64,
}

impl Captions {
    pub fn union(self, other: Captions) -> Captions {
        Captions {
            cea608: self.cea608 | other.cea608,
            cea708: self.cea708 | other.cea708,
        }
    }

    /// The channels by name: `CC1`..`CC4`, then `SERVICE1`..`SERVICE63`.
    pub fn channels(&self) -> Vec<String> {
        let cc = (0..4)
            .filter(|n| self.cea608 & (1 << n) != 0)
            .map(|n| format!("CC{}", n + 1));
        let services = (1..64)
            .filter(|n| self.cea708 & (1u64 << n) != 0)
            .map(|n| format!("SERVICE{n}"));
        cc.chain(services).collect()
    }
}

/// Reads `cc_data` in presentation order and records the channels that carry captions.
/// The state (the current 608 channel of each field, a DTVCC packet being assembled)
/// runs on from one call to the next.
#[derive(Debug, Default)]
pub(crate) struct CaptionScan {
    pub found: Captions,
    /// The 608 channel (0 or 1 within the field) last named by a control code.
    field_channel: [u8; 2],
    packet: Vec<u8>,
    packet_len: usize,
}

impl CaptionScan {
    /// Feeds the `cc_data` constructs (`cc_valid | cc_type`, byte 1, byte 2) of one
    /// picture.
    pub fn feed(&mut self, triples: &[[u8; 3]]) {
        for &[flags, a, b] in triples {
            let valid = flags & 0x04 != 0;
            match flags & 0x03 {
                field @ (0 | 1) if valid => self.cea608_pair(usize::from(field), a, b),
                3 => {
                    // A DTVCC packet starts (CEA-708 6.2): its size in the header byte.
                    self.packet.clear();
                    if valid {
                        let code = usize::from(a & 0x3F);
                        self.packet_len = if code == 0 { 128 } else { code * 2 };
                        self.packet.extend_from_slice(&[a, b]);
                        self.end_packet_if_whole();
                    }
                }
                2 if valid && !self.packet.is_empty() => {
                    self.packet.extend_from_slice(&[a, b]);
                    self.end_packet_if_whole();
                }
                _ => {}
            }
        }
    }

    /// A CEA-608 byte pair of `field` (0 or 1): control codes name the channel
    /// (CEA-608 8.4: bit 3 of the first byte), characters belong to the last named.
    fn cea608_pair(&mut self, field: usize, a: u8, b: u8) {
        let (a, b) = (a & 0x7F, b & 0x7F);
        match a {
            0 if b == 0 => {}
            // XDS (field 2): data about the programme, not captions.
            0x01..=0x0F => {}
            0x10..=0x1F => {
                let channel = (a >> 3) & 1;
                self.field_channel[field] = channel;
                self.found.cea608 |= 1 << (field as u8 * 2 + channel);
            }
            _ => self.found.cea608 |= 1 << (field as u8 * 2 + self.field_channel[field]),
        }
    }

    /// A whole DTVCC packet: its service blocks (CEA-708 6.2.1) name the services.
    fn end_packet_if_whole(&mut self) {
        if self.packet.len() < self.packet_len {
            return;
        }
        let data = &self.packet[1..self.packet_len.min(self.packet.len())];
        let mut at = 0;
        while let Some(&header) = data.get(at) {
            let (mut service, size) = (header >> 5, usize::from(header & 0x1F));
            at += 1;
            if service == 7 && size != 0 {
                // Extended service number in the next byte.
                let Some(&ext) = data.get(at) else { break };
                service = ext & 0x3F;
                at += 1;
            }
            if service == 0 || size == 0 {
                break; // a null block ends the packet's service data
            }
            self.found.cea708 |= 1u64 << service;
            at += size;
        }
        self.packet.clear();
    }
}

/// Appends the `cc_data` constructs of a length-prefixed H.264 or HEVC sample's SEI to
/// `out`; other codecs and malformed SEI give nothing.
pub(crate) fn cc_data(family: Family, length_size: u8, sample: &[u8], out: &mut Vec<[u8; 3]>) {
    let ls = usize::from(length_size);
    if !(1..=4).contains(&ls) || !matches!(family, Family::Avc | Family::Hevc) {
        return;
    }
    let mut pos = 0usize;
    while pos + ls < sample.len() {
        let len = sample[pos..pos + ls]
            .iter()
            .fold(0usize, |n, &b| (n << 8) | usize::from(b));
        pos += ls;
        let Some(nal) = pos.checked_add(len).and_then(|end| sample.get(pos..end)) else {
            return;
        };
        pos += len;
        let (sei, header) = match family {
            Family::Avc => (nal.first().is_some_and(|h| h & 0x1F == 6), 1),
            // Prefix SEI (39); captions are never in suffix SEI.
            _ => (nal.first().is_some_and(|h| (h >> 1) & 0x3F == 39), 2),
        };
        if sei {
            sei_messages(nal, header, out);
        }
    }
}

/// Most `cc_data` constructs one `cc_data()` can hold (`cc_count` is five bits).
const MAX_CC_COUNT: usize = 31;

/// `cc_data` constructs (`cc_valid | cc_type`, byte 1, byte 2) as length-prefixed SEI
/// NAL units of `family` (H.264 `sei_rbsp`, HEVC prefix SEI), one A/53 `cc_data` per
/// NAL unit of at most 31 constructs, appended to `out`.
pub(crate) fn sei_nal_units(
    family: Family,
    length_size: u8,
    triples: &[[u8; 3]],
    out: &mut Vec<u8>,
) {
    let ls = usize::from(length_size.clamp(1, 4));
    for chunk in triples.chunks(MAX_CC_COUNT) {
        let mut payload = vec![USA];
        payload.extend_from_slice(&ATSC.to_be_bytes());
        payload.extend_from_slice(GA94);
        // process_cc_data_flag, no additional data, cc_count; em_data 0xFF.
        payload.extend_from_slice(&[CC_DATA, 0xC0 | chunk.len() as u8, 0xFF]);
        for t in chunk {
            payload.extend_from_slice(&[0xF8 | (t[0] & 0x07), t[1], t[2]]);
        }
        payload.push(0xFF); // marker_bits
        let mut rbsp = vec![T35 as u8, payload.len() as u8];
        rbsp.extend_from_slice(&payload);
        rbsp.push(0x80); // rbsp_trailing_bits
        let header: &[u8] = match family {
            Family::Avc => &[6],
            _ => &[39 << 1, 1],
        };
        let mut nal = header.to_vec();
        escape(&rbsp, &mut nal);
        out.extend_from_slice(&(nal.len() as u32).to_be_bytes()[4 - ls..]);
        out.extend_from_slice(&nal);
    }
}

/// `sample` (length-prefixed NAL units) with `sei` put before its first picture NAL
/// unit, after any delimiter, parameter sets and SEI already there (H.264 7.4.1.2.3,
/// H.265 7.4.2.4.4), appended to `out`.
pub(crate) fn insert_before_picture(
    family: Family,
    length_size: u8,
    sample: &[u8],
    sei: &[u8],
    out: &mut Vec<u8>,
) {
    let at = first_picture_nal(family, length_size, sample).unwrap_or(0);
    out.extend_from_slice(&sample[..at]);
    out.extend_from_slice(sei);
    out.extend_from_slice(&sample[at..]);
}

/// The byte where the first VCL NAL unit's length starts.
fn first_picture_nal(family: Family, length_size: u8, sample: &[u8]) -> Option<usize> {
    let ls = usize::from(length_size);
    let mut pos = 0usize;
    while pos + ls < sample.len() {
        let len = sample[pos..pos + ls]
            .iter()
            .fold(0usize, |n, &b| (n << 8) | usize::from(b));
        let header = sample[pos + ls];
        let vcl = match family {
            Family::Avc => (1..=5).contains(&(header & 0x1F)),
            _ => (header >> 1) & 0x3F < 32,
        };
        if vcl {
            return Some(pos);
        }
        pos = pos.checked_add(ls + len)?;
    }
    None
}

/// Each SEI message of the NAL unit (H.264 7.3.2.3.1): the T.35 ones with `cc_data`.
fn sei_messages(nal: &[u8], header: usize, out: &mut Vec<[u8; 3]>) {
    let mut bits = Bits::rbsp(nal, header);
    loop {
        let Some(kind) = ff_coded(&mut bits) else {
            return;
        };
        let Some(size) = ff_coded(&mut bits) else {
            return;
        };
        let mut payload = Vec::with_capacity(size as usize);
        for _ in 0..size {
            let Some(b) = bits.bits(8) else { return };
            payload.push(b as u8);
        }
        if kind == T35 {
            a53_cc_data(&payload, out);
        }
        // Stop at the RBSP trailing bits (a 0x80 byte, or nothing) after a message.
        if bits.bytes_used() + 1 >= nal.len() {
            return;
        }
    }
}

/// An SEI payload type or size: 0xFF bytes, each adding 255, then the last byte.
fn ff_coded(bits: &mut Bits<'_>) -> Option<u32> {
    let mut value = 0u32;
    loop {
        let b = bits.bits(8)?;
        value = value.checked_add(b)?;
        if b != 0xFF {
            return Some(value);
        }
    }
}

/// ATSC A/53 Part 4 6.2.3: `GA94` user data of type `cc_data`.
fn a53_cc_data(p: &[u8], out: &mut Vec<[u8; 3]>) {
    let rest = match p {
        [USA, hi, lo, rest @ ..] if u16::from_be_bytes([*hi, *lo]) == ATSC => rest,
        _ => return,
    };
    let Some(rest) = rest.strip_prefix(GA94) else {
        return;
    };
    let [CC_DATA, flags, _em_data, triples @ ..] = rest else {
        return;
    };
    if flags & 0x40 == 0 {
        return; // process_cc_data_flag clear: the data is to be ignored
    }
    let count = usize::from(flags & 0x1F);
    out.extend(
        triples
            .chunks_exact(3)
            .take(count)
            .map(|t| [t[0] & 0x07, t[1], t[2]]),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An H.264 SEI NAL unit (4-byte length) with one `cc_data` of these constructs.
    fn sei(triples: &[[u8; 3]]) -> Vec<u8> {
        let mut payload = vec![USA, 0x00, 0x31];
        payload.extend_from_slice(GA94);
        payload.extend_from_slice(&[CC_DATA, 0x40 | triples.len() as u8, 0xFF]);
        for t in triples {
            payload.extend_from_slice(&[0xF8 | t[0], t[1], t[2]]);
        }
        payload.push(0xFF);
        let mut nal = vec![6, 4, payload.len() as u8];
        nal.extend_from_slice(&payload);
        nal.push(0x80);
        let mut out = (nal.len() as u32).to_be_bytes().to_vec();
        out.extend_from_slice(&nal);
        out
    }

    fn scan(samples: &[Vec<u8>]) -> Captions {
        let mut scan = CaptionScan::default();
        for s in samples {
            let mut triples = Vec::new();
            cc_data(Family::Avc, 4, s, &mut triples);
            scan.feed(&triples);
        }
        scan.found
    }

    #[test]
    fn cea608_channels_follow_the_control_codes() {
        // CC1: a control code (0x14 0x20, RCL) then text; field 2 with CC4's (0x1C).
        let found = scan(&[
            sei(&[[0x04, 0x94, 0x20], [0x05, 0x80, 0x80]]),
            sei(&[[0x04, 0xC8, 0xC5], [0x05, 0x1C, 0x20]]),
        ]);
        assert_eq!(found.channels(), ["CC1", "CC4"]);
    }

    #[test]
    fn padding_and_invalid_pairs_are_not_captions() {
        // Null pairs, and a control code whose cc_valid is clear.
        let found = scan(&[sei(&[[0x04, 0x80, 0x80], [0x00, 0x94, 0x20]])]);
        assert_eq!(found, Captions::default());
    }

    #[test]
    fn cea708_services_come_from_whole_packets() {
        // A 4-byte packet (size code 2): service 1, 2 bytes; then one that spans two
        // constructs with service 3 and an extended service 40.
        let found = scan(&[
            sei(&[[0x07, 0x02, 0x22], [0x06, b'H', b'I']]),
            sei(&[[0x07, 0x44, 0x61], [0x06, b'A', 0xE1]]),
            sei(&[[0x06, 40, b'B'], [0x06, 0, 0]]),
        ]);
        assert_eq!(found.channels(), ["SERVICE1", "SERVICE3", "SERVICE40"]);
    }

    #[test]
    fn hevc_prefix_sei_is_read_and_suffix_sei_is_not() {
        // The same SEI with HEVC's two-byte NAL header: prefix SEI (39), suffix (40).
        let h264 = sei(&[[0x04, 0x94, 0x20]]);
        let hevc = |nal_type: u8| {
            let mut nal = vec![nal_type << 1, 1];
            nal.extend_from_slice(&h264[5..]);
            let mut out = (nal.len() as u32).to_be_bytes().to_vec();
            out.extend_from_slice(&nal);
            out
        };
        let mut triples = Vec::new();
        cc_data(Family::Hevc, 4, &hevc(39), &mut triples);
        assert_eq!(triples, [[0x04, 0x94, 0x20]]);
        triples.clear();
        cc_data(Family::Hevc, 4, &hevc(40), &mut triples);
        assert!(triples.is_empty());
        // Other codecs' samples are not read.
        cc_data(Family::Av1, 4, &h264, &mut triples);
        assert!(triples.is_empty());
    }

    #[test]
    fn written_sei_reads_back_and_goes_before_the_picture() {
        // 40 constructs: two cc_data of 31 and 9; 708 padding (00 00) needs emulation
        // prevention.
        let triples: Vec<[u8; 3]> = (0..40u8)
            .map(|i| {
                if i % 2 == 0 {
                    [0x04, 0x94, i]
                } else {
                    [0x02, 0, 0]
                }
            })
            .collect();
        for (family, length_size) in [(Family::Avc, 4), (Family::Avc, 1), (Family::Hevc, 2)] {
            let mut sei = Vec::new();
            sei_nal_units(family, length_size, &triples, &mut sei);
            let nal = |header: &[u8], body: &[u8]| {
                let mut n = ((header.len() + body.len()) as u32).to_be_bytes()
                    [4 - usize::from(length_size)..]
                    .to_vec();
                n.extend_from_slice(header);
                n.extend_from_slice(body);
                n
            };
            let (aud, slice): (Vec<u8>, Vec<u8>) = match family {
                Family::Avc => (nal(&[9], &[0xF0]), nal(&[0x65], &[0x88, 0x84])),
                _ => (
                    nal(&[35 << 1, 1], &[0x50]),
                    nal(&[19 << 1, 1], &[0xAF, 0x01]),
                ),
            };
            let sample = [aud.clone(), slice.clone()].concat();
            let mut out = Vec::new();
            insert_before_picture(family, length_size, &sample, &sei, &mut out);
            assert_eq!(out, [aud, sei.clone(), slice].concat());
            let mut back = Vec::new();
            cc_data(family, length_size, &out, &mut back);
            assert_eq!(back, triples, "{family:?} with {length_size}-byte lengths");
        }
        let mut escaped = Vec::new();
        escape(&[0, 0, 0, 0, 3, 0, 0, 1], &mut escaped);
        assert_eq!(escaped, [0, 0, 3, 0, 0, 3, 3, 0, 0, 3, 1]);
    }

    #[test]
    fn truncated_or_foreign_sei_gives_nothing() {
        let mut s = sei(&[[0x04, 0x94, 0x20]]);
        let whole = s.clone();
        s.truncate(s.len() - 6);
        assert_eq!(scan(&[s]), Captions::default());
        let mut other = whole.clone();
        other[9] = 0x2F; // another provider's user data
        assert_eq!(scan(&[other]), Captions::default());
        assert_eq!(scan(&[whole]).channels(), ["CC1"]);
    }
}
