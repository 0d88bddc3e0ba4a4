//! Where a slice header ends, so subsample encryption leaves it clear (ISO/IEC 23001-7
//! 10.2: decoders parse it before decryption). H.264 (ITU-T H.264 7.3.3) and HEVC
//! (ITU-T H.265 7.3.6), with the parameter sets each needs; in-band parameter sets
//! replace those of the configuration record as they arrive.

use std::collections::HashMap;
use std::ops::Range;

use crate::codec::bits::Bits;

/// Bounded `ue(v)`: a value above `max` is a malformed or unsupported stream.
fn ue_max(b: &mut Bits<'_>, max: u32) -> Option<u32> {
    b.ue().filter(|&v| v <= max)
}

/// `chroma_format_idc` and `separate_colour_plane_flag` (the same in both SPS syntaxes):
/// returns the format, the flag and `ChromaArrayType`.
fn chroma_format_idc(b: &mut Bits<'_>) -> Option<(u32, bool, u32)> {
    let format = ue_max(b, 3)?;
    let separate = format == 3 && b.flag()?;
    Some((format, separate, if separate { 0 } else { format }))
}

/// Parameter sets by ID, replaced as new ones arrive.
#[derive(Debug, Clone)]
struct ParamSets<S, P> {
    sps: HashMap<u32, S>,
    pps: HashMap<u32, P>,
}

impl<S, P> Default for ParamSets<S, P> {
    fn default() -> Self {
        ParamSets {
            sps: HashMap::new(),
            pps: HashMap::new(),
        }
    }
}

impl<S, P> ParamSets<S, P> {
    /// Keep `nal` when it is an SPS or a PPS that parses.
    fn learn(
        &mut self,
        nal: &[u8],
        (is_sps, is_pps): (bool, bool),
        sps: fn(&[u8]) -> Option<(u32, S)>,
        pps: fn(&[u8]) -> Option<(u32, P)>,
    ) {
        if is_sps && let Some((id, s)) = sps(nal) {
            self.sps.insert(id, s);
        }
        if is_pps && let Some((id, p)) = pps(nal) {
            self.pps.insert(id, p);
        }
    }
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
    pub log2_max_frame_num: u32,
    pub poc_type: u32,
    pub log2_max_poc_lsb: u32,
    delta_pic_order_always_zero: bool,
    pub max_num_ref_frames: u32,
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

#[derive(Debug, Clone, Default)]
pub(crate) struct Avc {
    sets: ParamSets<AvcSps, AvcPps>,
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
    /// Learns an SPS or a PPS; anything else is ignored.
    pub fn observe(&mut self, nal: &[u8]) {
        let t = nal.first().map(|h| h & 0x1f);
        let kind = (t == Some(7), t == Some(8));
        self.sets.learn(nal, kind, Self::parse_sps, Self::parse_pps);
    }

    fn parse_sps(nal: &[u8]) -> Option<(u32, AvcSps)> {
        let mut b = Bits::rbsp(nal, 1);
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
            let chroma_format;
            (
                chroma_format,
                sps.separate_colour_plane,
                sps.chroma_array_type,
            ) = chroma_format_idc(&mut b)?;
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
        sps.max_num_ref_frames = ue_max(&mut b, 32)?;
        b.skip(1)?;
        b.ue()?;
        b.ue()?;
        sps.frame_mbs_only = b.flag()?;
        Some((id, sps))
    }

    fn parse_pps(nal: &[u8]) -> Option<(u32, AvcPps)> {
        let mut b = Bits::rbsp(nal, 1);
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
        let mut b = Bits::rbsp(nal, 1);
        self.slice_header(&mut b, *nal.first()?)?;
        Some(b.bytes_used())
    }

    /// Reads an H.264 slice header (7.3.3) after the NAL header byte `header`.
    pub fn slice_header(&self, b: &mut Bits<'_>, header: u8) -> Option<AvcSlice> {
        let nal_type = header & 0x1f;
        let idr = nal_type == 5;
        let mut s = AvcSlice {
            nal_ref_idc: (header >> 5) & 3,
            ..AvcSlice::default()
        };
        s.first_mb = b.ue()?;
        s.slice_type = ue_max(b, 9)? % 5;
        let (p, bslice, i, sp, si) = (
            s.slice_type == 0,
            s.slice_type == 1,
            s.slice_type == 2,
            s.slice_type == 3,
            s.slice_type == 4,
        );
        let pps = self.sets.pps.get(&ue_max(b, 255)?)?;
        let sps = self.sets.sps.get(&pps.sps_id)?;
        s.sps = *sps;
        s.cabac = pps.entropy_coding;
        if sps.separate_colour_plane {
            b.skip(2)?;
        }
        s.frame_num_at = b.position();
        s.frame_num = b.bits(sps.log2_max_frame_num)?;
        if !sps.frame_mbs_only && b.flag()? {
            s.field = Some(b.flag()?);
        }
        s.idr_pic_id.start = b.position();
        if idr {
            b.ue()?;
        }
        s.idr_pic_id.end = b.position();
        s.poc_lsb_at = b.position();
        let field = s.field.is_some();
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
        if (p || sp || bslice) && b.flag()? {
            refs[0] = ue_max(b, 31)? + 1;
            if bslice {
                refs[1] = ue_max(b, 31)? + 1;
            }
        }
        let lists = if bslice { 2 } else { 1 };
        s.modification.start = b.position();
        if !i && !si {
            s.list_ops = avc_ref_pic_list_modification(b, lists)?;
        }
        s.modification.end = b.position();
        if (pps.weighted_pred && (p || sp)) || (pps.weighted_bipred_idc == 1 && bslice) {
            avc_pred_weight_table(b, sps.chroma_array_type != 0, &refs[..lists])?;
        }
        s.marking.start = b.position();
        if s.nal_ref_idc != 0 {
            s.marking_ops = avc_dec_ref_pic_marking(b, idr)?;
        }
        s.marking.end = b.position();
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
        if pps.deblocking_filter_control && ue_max(b, 2)? != 1 {
            b.se()?;
            b.se()?;
        }
        s.end = b.position();
        Some(s)
    }
}

/// What `Avc::slice_header` learns of a slice: the values `idr_start` renumbers and the
/// bit positions of the parts it rewrites (from the RBSP's first bit after the NAL
/// header; meaningful only when the bits were read from an unescaped RBSP).
#[derive(Debug, Clone, Default)]
pub(crate) struct AvcSlice {
    pub nal_ref_idc: u8,
    pub first_mb: u32,
    /// `slice_type % 5`: 0 P, 1 B, 2 I, 3 SP, 4 SI.
    pub slice_type: u32,
    pub sps: AvcSps,
    pub cabac: bool,
    pub frame_num_at: usize,
    pub frame_num: u32,
    /// `Some(bottom_field_flag)` for a field.
    pub field: Option<bool>,
    pub idr_pic_id: Range<usize>,
    pub poc_lsb_at: usize,
    pub modification: Range<usize>,
    pub list_ops: ListModifications,
    pub marking: Range<usize>,
    pub marking_ops: Marking,
    pub end: usize,
}

/// Per list, the `ref_pic_list_modification` operations (idc, value) when its flag is
/// set.
pub(crate) type ListModifications = [Option<Vec<(u32, u32)>>; 2];

/// `dec_ref_pic_marking` (7.3.3.3).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) enum Marking {
    /// Not a reference picture: no marking.
    #[default]
    None,
    /// An IDR picture's two flags.
    Idr {
        no_output_of_prior_pics: bool,
        long_term: bool,
    },
    /// `adaptive_ref_pic_marking_mode_flag` 0.
    SlidingWindow,
    /// The memory management operations: (operation, first value, second value).
    Adaptive(Vec<(u32, u32, u32)>),
}

/// H.264 7.3.3.1 ref_pic_list_modification: per list, the operations when its flag is set.
fn avc_ref_pic_list_modification(b: &mut Bits<'_>, lists: usize) -> Option<ListModifications> {
    let mut out = [None, None];
    for ops in out.iter_mut().take(lists) {
        if b.flag()? {
            let mut list = Vec::new();
            loop {
                let idc = ue_max(b, 5)?;
                if idc == 3 {
                    break;
                }
                list.push((idc, b.ue()?));
                if list.len() > 64 {
                    return None;
                }
            }
            *ops = Some(list);
        }
    }
    Some(out)
}

/// H.264 7.3.3.2 pred_weight_table, skipped; `refs` active references per list.
fn avc_pred_weight_table(b: &mut Bits<'_>, chroma: bool, refs: &[u32]) -> Option<()> {
    b.ue()?;
    if chroma {
        b.ue()?;
    }
    for list in refs {
        for _ in 0..*list {
            if b.flag()? {
                b.se()?;
                b.se()?;
            }
            if chroma && b.flag()? {
                for _ in 0..4 {
                    b.se()?;
                }
            }
        }
    }
    Some(())
}

/// H.264 7.3.3.3 dec_ref_pic_marking.
fn avc_dec_ref_pic_marking(b: &mut Bits<'_>, idr: bool) -> Option<Marking> {
    if idr {
        return Some(Marking::Idr {
            no_output_of_prior_pics: b.flag()?,
            long_term: b.flag()?,
        });
    }
    if !b.flag()? {
        return Some(Marking::SlidingWindow);
    }
    let mut ops = Vec::new();
    loop {
        let op = ue_max(b, 6)?;
        if op == 0 {
            break;
        }
        // In syntax order: op 1 and 3 a picture number difference, 2 a long-term
        // picture number, 3 (second) and 6 a long-term frame index, 4 a maximum index.
        let first = if op == 5 { 0 } else { b.ue()? };
        let second = if op == 3 { b.ue()? } else { 0 };
        ops.push((op, first, second));
        if ops.len() > 64 {
            return None;
        }
    }
    Some(Marking::Adaptive(ops))
}

/// H.265 7.3.6.1: the picture order count, the short- and long-term reference
/// picture sets; returns NumPicTotalCurr and slice_temporal_mvp_enabled_flag.
fn hevc_poc_and_refs(b: &mut Bits<'_>, sps: &HevcSps) -> Option<(u32, bool)> {
    let mut total_curr = 0u32;
    let mut temporal_mvp = false;
    b.skip(sps.log2_max_poc_lsb)?;
    let rps = if !b.flag()? {
        parse_rps(b, sps.rps.len(), &sps.rps)?
    } else {
        let idx = b.bits(ceil_log2(sps.rps.len() as u32))? as usize;
        sps.rps.get(idx)?.clone()
    };
    total_curr += rps.used();
    if sps.long_term_refs {
        let from_sps = if sps.lt_sps_used.is_empty() {
            0
        } else {
            ue_max(b, sps.lt_sps_used.len() as u32)?
        };
        let pics = ue_max(b, 32)?;
        for i in 0..from_sps + pics {
            if i < from_sps {
                let idx = b.bits(ceil_log2(sps.lt_sps_used.len() as u32))?;
                total_curr += u32::from(*sps.lt_sps_used.get(idx as usize)?);
            } else {
                b.skip(sps.log2_max_poc_lsb)?;
                total_curr += b.bit()?;
            }
            if b.flag()? {
                b.ue()?;
            }
        }
    }
    if sps.temporal_mvp {
        temporal_mvp = b.flag()?;
    }
    Some((total_curr, temporal_mvp))
}

/// H.265 7.3.6.3 pred_weight_table, skipped; `refs` active references per list.
fn hevc_pred_weight_table(b: &mut Bits<'_>, chroma: bool, refs: &[u32]) -> Option<()> {
    b.ue()?;
    if chroma {
        b.se()?;
    }
    for list in refs {
        let n = *list as usize;
        let mut luma = Vec::with_capacity(n);
        for _ in 0..n {
            luma.push(b.flag()?);
        }
        let mut chroma_flags = vec![false; n];
        if chroma {
            for f in chroma_flags.iter_mut() {
                *f = b.flag()?;
            }
        }
        for k in 0..n {
            if luma[k] {
                b.se()?;
                b.se()?;
            }
            if chroma_flags[k] {
                for _ in 0..4 {
                    b.se()?;
                }
            }
        }
    }
    Some(())
}

/// H.265 7.3.6.1: the entry points and the slice header extension, skipped.
fn hevc_entry_points_and_extension(b: &mut Bits<'_>, pps: &HevcPps) -> Option<()> {
    if pps.tiles_or_wpp {
        let n = b.ue()?;
        if n > 0 {
            let len = ue_max(b, 31)? + 1;
            for _ in 0..n {
                b.skip(len)?;
            }
        }
    }
    if pps.slice_header_extension {
        let n = ue_max(b, 256)?;
        b.skip(8 * n)?;
    }
    Some(())
}

/// Bits needed for a value below `n` (`Ceil(Log2(n))`).
fn ceil_log2(n: u32) -> u32 {
    if n <= 1 {
        0
    } else {
        32 - (n - 1).leading_zeros()
    }
}

/// A short-term reference picture set: the POC deltas before (S0) and after (S1) the
/// current picture, each with its used-by-current-picture flag (H.265 7.4.8).
#[derive(Debug, Clone, Default)]
struct Rps {
    s0: Vec<(i32, bool)>,
    s1: Vec<(i32, bool)>,
}

impl Rps {
    fn num_delta_pocs(&self) -> usize {
        self.s0.len() + self.s1.len()
    }

    fn used(&self) -> u32 {
        self.s0.iter().chain(&self.s1).filter(|e| e.1).count() as u32
    }
}

/// `st_ref_pic_set(idx)` (H.265 7.3.7) with the derivation of 7.4.8.
fn parse_rps(b: &mut Bits<'_>, idx: usize, sets: &[Rps]) -> Option<Rps> {
    let inter = idx != 0 && b.flag()?;
    if inter {
        let delta_idx = if idx == sets.len() {
            ue_max(b, 63)? as usize + 1
        } else {
            1
        };
        let reference = sets.get(idx.checked_sub(delta_idx)?)?;
        let sign = b.flag()?;
        let abs = ue_max(b, 1 << 15)? as i32 + 1;
        let delta_rps = if sign { -abs } else { abs };
        let n = reference.num_delta_pocs();
        let mut used = Vec::with_capacity(n + 1);
        let mut use_delta = Vec::with_capacity(n + 1);
        for _ in 0..=n {
            let u = b.flag()?;
            used.push(u);
            use_delta.push(if u { true } else { b.flag()? });
        }
        let neg = reference.s0.len();
        let mut rps = Rps::default();
        for (j, &(poc, _)) in reference.s1.iter().enumerate().rev() {
            let d = poc + delta_rps;
            if d < 0 && use_delta[neg + j] {
                rps.s0.push((d, used[neg + j]));
            }
        }
        if delta_rps < 0 && use_delta[n] {
            rps.s0.push((delta_rps, used[n]));
        }
        for (j, &(poc, _)) in reference.s0.iter().enumerate() {
            let d = poc + delta_rps;
            if d < 0 && use_delta[j] {
                rps.s0.push((d, used[j]));
            }
        }
        for (j, &(poc, _)) in reference.s0.iter().enumerate().rev() {
            let d = poc + delta_rps;
            if d > 0 && use_delta[j] {
                rps.s1.push((d, used[j]));
            }
        }
        if delta_rps > 0 && use_delta[n] {
            rps.s1.push((delta_rps, used[n]));
        }
        for (j, &(poc, _)) in reference.s1.iter().enumerate() {
            let d = poc + delta_rps;
            if d > 0 && use_delta[neg + j] {
                rps.s1.push((d, used[neg + j]));
            }
        }
        Some(rps)
    } else {
        let neg = ue_max(b, 16)?;
        let pos = ue_max(b, 16)?;
        let mut rps = Rps::default();
        let mut poc = 0i32;
        for _ in 0..neg {
            poc -= ue_max(b, 1 << 15)? as i32 + 1;
            rps.s0.push((poc, b.flag()?));
        }
        poc = 0;
        for _ in 0..pos {
            poc += ue_max(b, 1 << 15)? as i32 + 1;
            rps.s1.push((poc, b.flag()?));
        }
        Some(rps)
    }
}

fn skip_hevc_scaling_list_data(b: &mut Bits<'_>) -> Option<()> {
    for size_id in 0..4u32 {
        let step = if size_id == 3 { 3 } else { 1 };
        for _ in (0..6).step_by(step) {
            if !b.flag()? {
                b.ue()?;
            } else {
                let coefs = 64.min(1 << (4 + (size_id << 1)));
                if size_id > 1 {
                    b.se()?;
                }
                for _ in 0..coefs {
                    b.se()?;
                }
            }
        }
    }
    Some(())
}

#[derive(Debug, Clone, Default)]
struct HevcSps {
    separate_colour_plane: bool,
    chroma_array_type: u32,
    log2_max_poc_lsb: u32,
    pic_size_in_ctbs: u32,
    sao: bool,
    rps: Vec<Rps>,
    long_term_refs: bool,
    /// used_by_curr_pic_lt_sps_flag of each long-term picture the SPS lists.
    lt_sps_used: Vec<bool>,
    temporal_mvp: bool,
}

#[derive(Debug, Clone, Default)]
struct HevcPps {
    sps_id: u32,
    dependent_slice_segments: bool,
    output_flag_present: bool,
    extra_slice_header_bits: u32,
    cabac_init_present: bool,
    num_ref_idx_default: [u32; 2],
    slice_chroma_qp_offsets: bool,
    weighted_pred: bool,
    weighted_bipred: bool,
    tiles_or_wpp: bool,
    loop_filter_across_slices: bool,
    deblocking_override: bool,
    deblocking_disabled: bool,
    lists_modification: bool,
    slice_header_extension: bool,
    chroma_qp_offset_list: bool,
}

#[derive(Debug, Default)]
pub(crate) struct Hevc {
    sets: ParamSets<HevcSps, HevcPps>,
}

impl Hevc {
    fn observe(&mut self, nal: &[u8]) {
        let t = nal.first().map(|h| (h >> 1) & 0x3f);
        let kind = (t == Some(33), t == Some(34));
        self.sets.learn(nal, kind, Self::parse_sps, Self::parse_pps);
    }

    fn parse_sps(nal: &[u8]) -> Option<(u32, HevcSps)> {
        let mut b = Bits::rbsp(nal, 2);
        b.skip(4)?;
        let max_sub_layers_minus1 = b.bits(3)?;
        b.skip(1)?;
        // profile_tier_level(1, max_sub_layers_minus1)
        b.skip(96)?;
        let mut present = Vec::new();
        for _ in 0..max_sub_layers_minus1 {
            present.push((b.flag()?, b.flag()?));
        }
        if max_sub_layers_minus1 > 0 {
            b.skip(2 * (8 - max_sub_layers_minus1))?;
        }
        for (profile, level) in present {
            if profile {
                b.skip(88)?;
            }
            if level {
                b.skip(8)?;
            }
        }
        let id = ue_max(&mut b, 15)?;
        let mut sps = HevcSps::default();
        (_, sps.separate_colour_plane, sps.chroma_array_type) = chroma_format_idc(&mut b)?;
        let width = b.ue()?;
        let height = b.ue()?;
        if b.flag()? {
            for _ in 0..4 {
                b.ue()?;
            }
        }
        b.ue()?;
        b.ue()?;
        sps.log2_max_poc_lsb = ue_max(&mut b, 12)? + 4;
        let ordering_all = b.flag()?;
        let from = if ordering_all {
            0
        } else {
            max_sub_layers_minus1
        };
        for _ in from..=max_sub_layers_minus1 {
            b.ue()?;
            b.ue()?;
            b.ue()?;
        }
        let min_cb = ue_max(&mut b, 3)? + 3;
        let ctb = min_cb + ue_max(&mut b, 3)?;
        if ctb > 6 {
            return None;
        }
        let ctb_size = 1u32 << ctb;
        sps.pic_size_in_ctbs = width
            .div_ceil(ctb_size)
            .checked_mul(height.div_ceil(ctb_size))?;
        for _ in 0..4 {
            b.ue()?;
        }
        if b.flag()? && b.flag()? {
            skip_hevc_scaling_list_data(&mut b)?;
        }
        b.skip(1)?; // amp
        sps.sao = b.flag()?;
        if b.flag()? {
            b.skip(8)?;
            b.ue()?;
            b.ue()?;
            b.skip(1)?;
        }
        let num_rps = ue_max(&mut b, 64)? as usize;
        for i in 0..num_rps {
            let rps = parse_rps(&mut b, i, &sps.rps)?;
            sps.rps.push(rps);
        }
        sps.long_term_refs = b.flag()?;
        if sps.long_term_refs {
            for _ in 0..ue_max(&mut b, 32)? {
                b.skip(sps.log2_max_poc_lsb)?;
                sps.lt_sps_used.push(b.flag()?);
            }
        }
        sps.temporal_mvp = b.flag()?;
        Some((id, sps))
    }

    fn parse_pps(nal: &[u8]) -> Option<(u32, HevcPps)> {
        let mut b = Bits::rbsp(nal, 2);
        let id = ue_max(&mut b, 63)?;
        let mut pps = HevcPps {
            sps_id: ue_max(&mut b, 15)?,
            dependent_slice_segments: b.flag()?,
            output_flag_present: b.flag()?,
            extra_slice_header_bits: b.bits(3)?,
            ..HevcPps::default()
        };
        b.skip(1)?; // sign_data_hiding
        pps.cabac_init_present = b.flag()?;
        pps.num_ref_idx_default = [ue_max(&mut b, 14)? + 1, ue_max(&mut b, 14)? + 1];
        b.se()?;
        b.skip(1)?;
        let transform_skip = b.flag()?;
        if b.flag()? {
            b.ue()?;
        }
        b.se()?;
        b.se()?;
        pps.slice_chroma_qp_offsets = b.flag()?;
        pps.weighted_pred = b.flag()?;
        pps.weighted_bipred = b.flag()?;
        b.skip(1)?; // transquant_bypass
        let tiles = b.flag()?;
        let wpp = b.flag()?;
        pps.tiles_or_wpp = tiles || wpp;
        if tiles {
            let cols = ue_max(&mut b, 64)?;
            let rows = ue_max(&mut b, 64)?;
            if !b.flag()? {
                for _ in 0..cols + rows {
                    b.ue()?;
                }
            }
            b.skip(1)?;
        }
        pps.loop_filter_across_slices = b.flag()?;
        if b.flag()? {
            pps.deblocking_override = b.flag()?;
            pps.deblocking_disabled = b.flag()?;
            if !pps.deblocking_disabled {
                b.se()?;
                b.se()?;
            }
        }
        if b.flag()? {
            skip_hevc_scaling_list_data(&mut b)?;
        }
        pps.lists_modification = b.flag()?;
        b.ue()?;
        pps.slice_header_extension = b.flag()?;
        if b.flag()? {
            let range = b.flag()?;
            // Multilayer, 3D and screen content extensions change the slice header in
            // ways this parser does not follow.
            if b.bits(3)? != 0 {
                return None;
            }
            b.skip(4)?;
            if range {
                if transform_skip {
                    b.ue()?;
                }
                b.skip(1)?;
                pps.chroma_qp_offset_list = b.flag()?;
            }
        }
        Some((id, pps))
    }

    fn header_len(&self, nal: &[u8]) -> Option<usize> {
        let nal_type = (nal.first()? >> 1) & 0x3f;
        let mut b = Bits::rbsp(nal, 2);
        let first_in_pic = b.flag()?;
        if (16..=23).contains(&nal_type) {
            b.skip(1)?;
        }
        let pps = self.sets.pps.get(&ue_max(&mut b, 63)?)?;
        let sps = self.sets.sps.get(&pps.sps_id)?;
        let mut dependent = false;
        if !first_in_pic {
            if pps.dependent_slice_segments {
                dependent = b.flag()?;
            }
            b.skip(ceil_log2(sps.pic_size_in_ctbs))?;
        }
        if !dependent {
            b.skip(pps.extra_slice_header_bits)?;
            let slice_type = ue_max(&mut b, 2)?;
            let (bslice, pslice) = (slice_type == 0, slice_type == 1);
            if pps.output_flag_present {
                b.skip(1)?;
            }
            if sps.separate_colour_plane {
                b.skip(2)?;
            }
            let (total_curr, temporal_mvp) = if nal_type != 19 && nal_type != 20 {
                hevc_poc_and_refs(&mut b, sps)?
            } else {
                (0, false)
            };
            let (mut sao_luma, mut sao_chroma) = (false, false);
            if sps.sao {
                sao_luma = b.flag()?;
                if sps.chroma_array_type != 0 {
                    sao_chroma = b.flag()?;
                }
            }
            if pslice || bslice {
                let mut refs = pps.num_ref_idx_default;
                if b.flag()? {
                    refs[0] = ue_max(&mut b, 14)? + 1;
                    if bslice {
                        refs[1] = ue_max(&mut b, 14)? + 1;
                    }
                }
                let lists = if bslice { 2 } else { 1 };
                if pps.lists_modification && total_curr > 1 {
                    for list in refs.iter().take(lists) {
                        if b.flag()? {
                            b.skip(list * ceil_log2(total_curr))?;
                        }
                    }
                }
                if bslice {
                    b.skip(1)?;
                }
                if pps.cabac_init_present {
                    b.skip(1)?;
                }
                if temporal_mvp {
                    let from_l0 = if bslice { b.flag()? } else { true };
                    if (from_l0 && refs[0] > 1) || (!from_l0 && refs[1] > 1) {
                        b.ue()?;
                    }
                }
                if (pps.weighted_pred && pslice) || (pps.weighted_bipred && bslice) {
                    hevc_pred_weight_table(&mut b, sps.chroma_array_type != 0, &refs[..lists])?;
                }
                b.ue()?; // five_minus_max_num_merge_cand
            }
            b.se()?; // slice_qp_delta
            if pps.slice_chroma_qp_offsets {
                b.se()?;
                b.se()?;
            }
            if pps.chroma_qp_offset_list {
                b.skip(1)?;
            }
            let mut deblocking_disabled = pps.deblocking_disabled;
            if pps.deblocking_override && b.flag()? {
                deblocking_disabled = b.flag()?;
                if !deblocking_disabled {
                    b.se()?;
                    b.se()?;
                }
            }
            if pps.loop_filter_across_slices && (sao_luma || sao_chroma || !deblocking_disabled) {
                b.skip(1)?;
            }
        }
        hevc_entry_points_and_extension(&mut b, pps)?;
        // byte_alignment(): a one bit, then zeros to the end of the byte.
        if b.bit()? != 1 {
            return None;
        }
        Some(b.bytes_used())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes the syntax elements of H.264 7.3 as an RBSP, then stores it as a NAL
    /// unit with emulation prevention bytes.
    #[derive(Default)]
    struct Writer {
        bits: Vec<bool>,
    }

    impl Writer {
        fn u(&mut self, n: u32, v: u32) -> &mut Self {
            for i in (0..n).rev() {
                self.bits.push((v >> i) & 1 == 1);
            }
            self
        }

        fn ue(&mut self, v: u32) -> &mut Self {
            let n = 32 - (v + 1).leading_zeros();
            self.u(n - 1, 0).u(n, v + 1)
        }

        fn se(&mut self, v: i32) -> &mut Self {
            self.ue(if v > 0 {
                2 * v as u32 - 1
            } else {
                2 * (-v) as u32
            })
        }

        fn len(&self) -> usize {
            self.bits.len()
        }

        /// The NAL unit: header byte, RBSP with emulation prevention, and the stored
        /// length up to the byte holding RBSP bit `end` (exclusive).
        fn nal(&self, header: u8, end: usize) -> (Vec<u8>, usize) {
            let mut rbsp: Vec<u8> = self
                .bits
                .chunks(8)
                .map(|c| {
                    c.iter()
                        .enumerate()
                        .fold(0u8, |a, (i, &b)| a | (u8::from(b) << (7 - i)))
                })
                .collect();
            rbsp.push(0x80); // rbsp_stop_one_bit after the (fake) slice data
            let last = end.div_ceil(8) - 1;
            let (mut out, mut zeros, mut stored_end) = (vec![header], 0, 0);
            for (i, &byte) in rbsp.iter().enumerate() {
                if zeros >= 2 && byte <= 3 {
                    out.push(3);
                    zeros = 0;
                }
                out.push(byte);
                zeros = if byte == 0 { zeros + 1 } else { 0 };
                if i == last {
                    stored_end = out.len();
                }
            }
            (out, stored_end)
        }
    }

    /// Main profile, frame_num and POC LSB in 4 bits each, frames only; a CABAC PPS
    /// with deblocking control and 1 reference in each list by default.
    fn avc_with_sets() -> SliceHeaders {
        let mut h = SliceHeaders::avc();
        let mut sps = Writer::default();
        sps.u(8, 77)
            .u(16, 0)
            .ue(0)
            .ue(0)
            .ue(0)
            .ue(0)
            .ue(4)
            .u(1, 0)
            .ue(19)
            .ue(14)
            .u(1, 1);
        h.observe(&sps.nal(0x67, sps.len()).0);
        let mut pps = Writer::default();
        pps.ue(0)
            .ue(0)
            .u(1, 1)
            .u(1, 0)
            .ue(0)
            .ue(0)
            .ue(0)
            .u(1, 0)
            .u(2, 0);
        pps.se(0).se(0).se(0).u(1, 1).u(1, 0).u(1, 0);
        h.observe(&pps.nal(0x68, pps.len()).0);
        h
    }

    fn check(h: &SliceHeaders, what: &str, header: u8, slice: &Writer) -> Vec<u8> {
        let end = slice.len();
        let mut with_data = Writer {
            bits: slice.bits.clone(),
        };
        with_data.u(16, 0xA5A5); // slice data after the header
        let (nal, want) = with_data.nal(header, end);
        assert_eq!(h.header_len(&nal), Some(want), "{what}: {nal:02x?}");
        nal
    }

    #[test]
    fn avc_header_length_per_slice_type() {
        let h = avc_with_sets();
        // IDR I slice: idr_pic_id, dec_ref_pic_marking's two flags, deblocking with
        // alpha and beta offsets.
        let mut i = Writer::default();
        i.ue(0)
            .ue(7)
            .ue(0)
            .u(4, 0)
            .ue(0)
            .u(4, 0)
            .u(2, 0)
            .se(-3)
            .ue(0)
            .se(1)
            .se(-1);
        check(&h, "I (IDR)", 0x65, &i);
        // P slice, a reference: override off, no list modification, no adaptive
        // marking, cabac_init_idc, deblocking off.
        let mut p = Writer::default();
        p.ue(0)
            .ue(5)
            .ue(0)
            .u(4, 1)
            .u(4, 2)
            .u(1, 0)
            .u(1, 0)
            .u(1, 0)
            .ue(1)
            .se(2)
            .ue(1);
        check(&h, "P", 0x41, &p);
        // B slice, not a reference: direct_spatial_mv_pred, an override of both list
        // sizes, two modification flags, no marking.
        let mut b = Writer::default();
        b.ue(0)
            .ue(6)
            .ue(0)
            .u(4, 2)
            .u(4, 4)
            .u(1, 1)
            .u(1, 1)
            .ue(1)
            .ue(0)
            .u(1, 0)
            .u(1, 0);
        b.ue(2).se(-2).ue(0).se(0).se(0);
        check(&h, "B", 0x01, &b);
        // A P slice whose first_mb_in_slice (2^22 - 1) starts with 22 zero bits: the
        // stored NAL unit gets an emulation prevention byte inside the header, and the
        // length counts it.
        let mut z = Writer::default();
        z.ue((1 << 22) - 1).ue(5).ue(0).u(4, 1).u(4, 2);
        z.u(1, 0).u(1, 0).u(1, 0).ue(0).se(0).ue(1);
        let nal = check(&h, "P with emulation prevention", 0x41, &z);
        assert_eq!(&nal[1..5], &[0, 0, 3, 2], "the header must need the 03");
        // An unknown PPS id, or a slice cut short, has no length.
        let mut unknown = Writer::default();
        unknown.ue(0).ue(7).ue(9);
        assert_eq!(h.header_len(&unknown.nal(0x65, unknown.len()).0), None);
        assert_eq!(h.header_len(&[0x65, 0x88]), None);
    }
}
