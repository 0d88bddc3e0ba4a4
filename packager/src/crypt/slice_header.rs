//! Where a slice header ends, so subsample encryption leaves it clear (ISO/IEC 23001-7
//! 10.2: decoders parse it before decryption). H.264 (ITU-T H.264 7.3.3) and HEVC
//! (ITU-T H.265 7.3.6), with the parameter sets each needs; in-band parameter sets
//! replace those of the configuration record as they arrive.

use std::collections::HashMap;

/// Reads bits of the RBSP while counting bytes of the NAL unit as stored (emulation
/// prevention bytes are skipped, not removed).
struct Bits<'a> {
    raw: &'a [u8],
    next: usize,
    zeros: usize,
    cur: u8,
    left: u8,
}

impl<'a> Bits<'a> {
    fn new(raw: &'a [u8], skip: usize) -> Bits<'a> {
        Bits {
            raw,
            next: skip.min(raw.len()),
            zeros: 0,
            cur: 0,
            left: 0,
        }
    }

    fn byte(&mut self) -> Option<u8> {
        loop {
            let b = *self.raw.get(self.next)?;
            self.next += 1;
            if self.zeros >= 2 && b == 3 {
                self.zeros = 0;
                continue;
            }
            self.zeros = if b == 0 { self.zeros + 1 } else { 0 };
            return Some(b);
        }
    }

    fn bit(&mut self) -> Option<u32> {
        if self.left == 0 {
            self.cur = self.byte()?;
            self.left = 8;
        }
        self.left -= 1;
        Some(u32::from((self.cur >> self.left) & 1))
    }

    fn flag(&mut self) -> Option<bool> {
        self.bit().map(|b| b == 1)
    }

    fn bits(&mut self, n: u32) -> Option<u32> {
        let mut v = 0u32;
        for _ in 0..n {
            v = (v << 1) | self.bit()?;
        }
        Some(v)
    }

    fn skip(&mut self, n: u32) -> Option<()> {
        for _ in 0..n {
            self.bit()?;
        }
        Some(())
    }

    fn ue(&mut self) -> Option<u32> {
        let mut zeros = 0;
        while self.bit()? == 0 {
            zeros += 1;
            if zeros > 31 {
                return None;
            }
        }
        let rest = self.bits(zeros)?;
        Some(((1u64 << zeros) - 1 + u64::from(rest)).min(u64::from(u32::MAX)) as u32)
    }

    fn se(&mut self) -> Option<i32> {
        let k = self.ue()?;
        Some(if k % 2 == 1 {
            k.div_ceil(2) as i32
        } else {
            -((k / 2) as i32)
        })
    }

    /// Bytes of the NAL unit up to and including the one holding the last bit read.
    fn bytes_used(&self) -> usize {
        self.next
    }
}

/// Bounded `ue(v)`: a value above `max` is a malformed or unsupported stream.
fn ue_max(b: &mut Bits<'_>, max: u32) -> Option<u32> {
    b.ue().filter(|&v| v <= max)
}

/// Parameter sets of one track and the slice header lengths they make computable.
pub(crate) enum SliceHeaders {
    Avc(Avc),
    Hevc(Hevc),
}

impl SliceHeaders {
    pub fn avc() -> SliceHeaders {
        SliceHeaders::Avc(Avc::default())
    }

    pub fn hevc() -> SliceHeaders {
        SliceHeaders::Hevc(Hevc::default())
    }

    /// Learn a parameter set (a non-VCL NAL unit); anything else is ignored.
    pub fn observe(&mut self, nal: &[u8]) {
        match self {
            SliceHeaders::Avc(a) => a.observe(nal),
            SliceHeaders::Hevc(h) => h.observe(nal),
        }
    }

    /// Whether `nal` is a VCL (slice) NAL unit.
    pub fn is_vcl(&self, nal: &[u8]) -> bool {
        let Some(&h) = nal.first() else {
            return false;
        };
        match self {
            SliceHeaders::Avc(_) => matches!(h & 0x1f, 1..=5),
            SliceHeaders::Hevc(_) => (h >> 1) & 0x3f < 32,
        }
    }

    /// Bytes from the start of the NAL unit (its header included) to the end of the
    /// slice header; `None` when the parameter sets it refers to are unknown or the
    /// header does not parse.
    pub fn header_len(&self, nal: &[u8]) -> Option<usize> {
        match self {
            SliceHeaders::Avc(a) => a.header_len(nal),
            SliceHeaders::Hevc(h) => h.header_len(nal),
        }
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct AvcSps {
    chroma_array_type: u32,
    separate_colour_plane: bool,
    log2_max_frame_num: u32,
    poc_type: u32,
    log2_max_poc_lsb: u32,
    delta_pic_order_always_zero: bool,
    frame_mbs_only: bool,
}

#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct AvcPps {
    sps_id: u32,
    entropy_coding: bool,
    bottom_field_pic_order: bool,
    num_ref_idx_default: [u32; 2],
    weighted_pred: bool,
    weighted_bipred_idc: u32,
    deblocking_filter_control: bool,
    redundant_pic_cnt: bool,
}

#[derive(Debug, Default)]
pub(crate) struct Avc {
    sps: HashMap<u32, AvcSps>,
    pps: HashMap<u32, AvcPps>,
}

fn skip_scaling_list(b: &mut Bits<'_>, size: usize) -> Option<()> {
    let (mut last, mut next) = (8i32, 8i32);
    for _ in 0..size {
        if next != 0 {
            next = (last + b.se()? + 256).rem_euclid(256);
        }
        if next != 0 {
            last = next;
        }
    }
    Some(())
}

impl Avc {
    fn observe(&mut self, nal: &[u8]) {
        match nal.first().map(|h| h & 0x1f) {
            Some(7) => {
                if let Some((id, sps)) = Self::parse_sps(nal) {
                    self.sps.insert(id, sps);
                }
            }
            Some(8) => {
                if let Some((id, pps)) = Self::parse_pps(nal) {
                    self.pps.insert(id, pps);
                }
            }
            _ => {}
        }
    }

    fn parse_sps(nal: &[u8]) -> Option<(u32, AvcSps)> {
        let mut b = Bits::new(nal, 1);
        let profile = b.bits(8)?;
        b.skip(16)?;
        let id = ue_max(&mut b, 31)?;
        let mut sps = AvcSps {
            chroma_array_type: 1,
            ..AvcSps::default()
        };
        if matches!(
            profile,
            100 | 110 | 122 | 244 | 44 | 83 | 86 | 118 | 128 | 138 | 139 | 134 | 135
        ) {
            let chroma_format = ue_max(&mut b, 3)?;
            if chroma_format == 3 {
                sps.separate_colour_plane = b.flag()?;
            }
            sps.chroma_array_type = if sps.separate_colour_plane {
                0
            } else {
                chroma_format
            };
            ue_max(&mut b, 14)?;
            ue_max(&mut b, 14)?;
            b.skip(1)?;
            if b.flag()? {
                let lists = if chroma_format == 3 { 12 } else { 8 };
                for i in 0..lists {
                    if b.flag()? {
                        skip_scaling_list(&mut b, if i < 6 { 16 } else { 64 })?;
                    }
                }
            }
        }
        sps.log2_max_frame_num = ue_max(&mut b, 12)? + 4;
        sps.poc_type = ue_max(&mut b, 2)?;
        match sps.poc_type {
            0 => sps.log2_max_poc_lsb = ue_max(&mut b, 12)? + 4,
            1 => {
                sps.delta_pic_order_always_zero = b.flag()?;
                b.se()?;
                b.se()?;
                for _ in 0..ue_max(&mut b, 255)? {
                    b.se()?;
                }
            }
            _ => {}
        }
        ue_max(&mut b, 32)?; // max_num_ref_frames
        b.skip(1)?;
        b.ue()?;
        b.ue()?;
        sps.frame_mbs_only = b.flag()?;
        Some((id, sps))
    }

    fn parse_pps(nal: &[u8]) -> Option<(u32, AvcPps)> {
        let mut b = Bits::new(nal, 1);
        let id = ue_max(&mut b, 255)?;
        let sps_id = ue_max(&mut b, 31)?;
        let entropy_coding = b.flag()?;
        let bottom_field_pic_order = b.flag()?;
        // Slice groups (FMO, Baseline only) add fields this parser does not follow.
        if b.ue()? != 0 {
            return None;
        }
        let l0 = ue_max(&mut b, 31)? + 1;
        let l1 = ue_max(&mut b, 31)? + 1;
        let weighted_pred = b.flag()?;
        let weighted_bipred_idc = b.bits(2)?;
        b.se()?;
        b.se()?;
        b.se()?;
        let deblocking_filter_control = b.flag()?;
        b.skip(1)?;
        let redundant_pic_cnt = b.flag()?;
        Some((
            id,
            AvcPps {
                sps_id,
                entropy_coding,
                bottom_field_pic_order,
                num_ref_idx_default: [l0, l1],
                weighted_pred,
                weighted_bipred_idc,
                deblocking_filter_control,
                redundant_pic_cnt,
            },
        ))
    }

    fn header_len(&self, nal: &[u8]) -> Option<usize> {
        let header = *nal.first()?;
        let nal_type = header & 0x1f;
        let nal_ref_idc = (header >> 5) & 3;
        let idr = nal_type == 5;
        let mut b = Bits::new(nal, 1);
        b.ue()?; // first_mb_in_slice
        let slice_type = ue_max(&mut b, 9)? % 5;
        let (p, bslice, i, sp, si) = (
            slice_type == 0,
            slice_type == 1,
            slice_type == 2,
            slice_type == 3,
            slice_type == 4,
        );
        let pps = self.pps.get(&ue_max(&mut b, 255)?)?;
        let sps = self.sps.get(&pps.sps_id)?;
        if sps.separate_colour_plane {
            b.skip(2)?;
        }
        b.skip(sps.log2_max_frame_num)?;
        let mut field = false;
        if !sps.frame_mbs_only {
            field = b.flag()?;
            if field {
                b.skip(1)?;
            }
        }
        if idr {
            b.ue()?;
        }
        if sps.poc_type == 0 {
            b.skip(sps.log2_max_poc_lsb)?;
            if pps.bottom_field_pic_order && !field {
                b.se()?;
            }
        }
        if sps.poc_type == 1 && !sps.delta_pic_order_always_zero {
            b.se()?;
            if pps.bottom_field_pic_order && !field {
                b.se()?;
            }
        }
        if pps.redundant_pic_cnt {
            b.ue()?;
        }
        if bslice {
            b.skip(1)?;
        }
        let mut refs = pps.num_ref_idx_default;
        if p || sp || bslice {
            if b.flag()? {
                refs[0] = ue_max(&mut b, 31)? + 1;
                if bslice {
                    refs[1] = ue_max(&mut b, 31)? + 1;
                }
            }
        }
        // ref_pic_list_modification
        let lists = if bslice { 2 } else { 1 };
        if !i && !si {
            for _ in 0..lists {
                if b.flag()? {
                    let mut n = 0;
                    loop {
                        let idc = ue_max(&mut b, 5)?;
                        if idc == 3 {
                            break;
                        }
                        b.ue()?;
                        n += 1;
                        if n > 64 {
                            return None;
                        }
                    }
                }
            }
        }
        if (pps.weighted_pred && (p || sp)) || (pps.weighted_bipred_idc == 1 && bslice) {
            b.ue()?;
            if sps.chroma_array_type != 0 {
                b.ue()?;
            }
            for list in refs.iter().take(lists) {
                for _ in 0..*list {
                    if b.flag()? {
                        b.se()?;
                        b.se()?;
                    }
                    if sps.chroma_array_type != 0 && b.flag()? {
                        for _ in 0..4 {
                            b.se()?;
                        }
                    }
                }
            }
        }
        if nal_ref_idc != 0 {
            if idr {
                b.skip(2)?;
            } else if b.flag()? {
                let mut n = 0;
                loop {
                    let op = ue_max(&mut b, 6)?;
                    if op == 0 {
                        break;
                    }
                    if matches!(op, 1 | 3) {
                        b.ue()?;
                    }
                    if op == 2 {
                        b.ue()?;
                    }
                    if matches!(op, 3 | 6) {
                        b.ue()?;
                    }
                    if op == 4 {
                        b.ue()?;
                    }
                    n += 1;
                    if n > 64 {
                        return None;
                    }
                }
            }
        }
        if pps.entropy_coding && !i && !si {
            b.ue()?;
        }
        b.se()?; // slice_qp_delta
        if sp || si {
            if sp {
                b.skip(1)?;
            }
            b.se()?;
        }
        if pps.deblocking_filter_control && ue_max(&mut b, 2)? != 1 {
            b.se()?;
            b.se()?;
        }
        Some(b.bytes_used())
    }
}

#[derive(Debug, Default)]
pub(crate) struct Hevc {}

impl Hevc {
    fn observe(&mut self, _nal: &[u8]) {}

    fn header_len(&self, _nal: &[u8]) -> Option<usize> {
        None
    }
}
