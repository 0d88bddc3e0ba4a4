//! H.264 that starts on an I picture that is not an IDR picture (a cut inside an open
//! GOP, a broadcast recording) rewritten to start as decoders expect. The pictures
//! after such a start still name, in their memory management operations, pictures from
//! before the cut; FFmpeg's decoder with errors made fatal, as in Chromium, stops there
//! ("mmco: unref short failure") and never recovers. So the first picture becomes an
//! IDR picture (`frame_num` 0, POC 0), the frame numbers and POC LSBs of the pictures
//! after it follow on from it, operations on pictures the stream does not hold are
//! dropped, and picture number differences (reference list modifications, marking) are
//! remapped where left-out pictures made a gap. Only slice headers change; the
//! macroblock data is copied bit for bit. Rewriting stops at the next IDR picture.

use crate::codec::bits::{BitWriter, Bits};
use crate::codec::slice_header::{Avc, AvcSlice, Marking};

/// Why a stream's start cannot be rewritten (the caller keeps it as it is).
pub(crate) type Refusal = &'static str;

/// One short-term reference frame: its `frame_num` in the input and in the output, and
/// which of its fields are references (1 top, 2 bottom).
#[derive(Debug, Clone, Copy)]
struct Ref {
    orig: u32,
    new: u32,
    fields: u8,
}

/// The picture whose slices are being rewritten.
#[derive(Debug)]
struct Picture {
    orig: u32,
    new: u32,
    field: Option<bool>,
    reference: bool,
    idr: bool,
    max_refs: u32,
    /// The input's marking, resolved against the reference frames held: operations on
    /// frames not held are gone, the rest carry their frame's index in `short`.
    marking: Marking,
    targets: Vec<Option<usize>>,
}

#[derive(Debug)]
enum State {
    Renumber(Numbering),
    /// After an IDR picture of the input: nothing to change.
    Pass,
}

#[derive(Debug, Default)]
struct Numbering {
    started: bool,
    /// Subtracted from `pic_order_cnt_lsb` so the first picture has POC 0.
    poc_shift: u32,
    /// `frame_num` of the last reference picture: (input, output).
    prev_ref: (u32, u32),
    short: Vec<Ref>,
    /// LongTermFrameIdx in use.
    long: Vec<u32>,
    picture: Option<Picture>,
}

/// Rewrites the samples of one track in decode order.
#[derive(Debug)]
pub(crate) struct IdrStart {
    params: Avc,
    length_size: usize,
    state: State,
}

impl IdrStart {
    /// Checks that `first` (the track's first sample) is a reference I frame that is not
    /// an IDR picture, of a kind this rewrite handles.
    pub fn new(parameter_sets: &[Vec<u8>], length_size: u8, first: &[u8]) -> Result<Self, Refusal> {
        let mut params = Avc::default();
        for ps in parameter_sets {
            params.observe(ps);
        }
        let length_size = usize::from(length_size);
        if !(1..=4).contains(&length_size) {
            return Err("an unusual NAL unit length size");
        }
        let mut slices = 0;
        for nal in nal_units(first, length_size) {
            let (_, nal) = nal.ok_or("a NAL unit runs past the sample")?;
            let Some(&header) = nal.first() else { continue };
            match header & 0x1f {
                7 | 8 => params.observe(nal),
                5 => return Err("it starts on an IDR picture"),
                2..=4 => return Err("data partitioning"),
                1 => {
                    let rbsp = unescape(&nal[1..]);
                    let s = params
                        .slice_header(&mut Bits::new(&rbsp), header)
                        .ok_or("a slice header that does not parse")?;
                    if s.nal_ref_idc == 0 {
                        return Err("its first picture is not a reference picture");
                    }
                    if !matches!(s.slice_type, 2 | 4) {
                        return Err("its first picture is not all I slices");
                    }
                    if s.field.is_some() {
                        return Err("its first picture is a field");
                    }
                    if s.sps.poc_type == 1 {
                        return Err("picture order count type 1");
                    }
                    if let Marking::Adaptive(ops) = &s.marking_ops
                        && ops.iter().any(|&(op, _, _)| op != 1)
                    {
                        return Err("its first picture marks long-term references");
                    }
                    slices += 1;
                }
                _ => {}
            }
        }
        if slices == 0 {
            return Err("no slice in the first sample");
        }
        Ok(IdrStart {
            params,
            length_size,
            state: State::Renumber(Numbering::default()),
        })
    }

    /// Appends `sample` rewritten to `out`; `Err` says what did not parse.
    pub fn sample(&mut self, sample: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
        let ls = self.length_size;
        for nal in nal_units(sample, ls) {
            let (start, nal) = nal.ok_or("a NAL unit runs past the sample")?;
            let header = nal.first().copied().unwrap_or(0);
            let kind = header & 0x1f;
            if matches!(kind, 7 | 8) {
                self.params.observe(nal);
            }
            if kind == 5 {
                self.state = State::Pass;
            }
            match &mut self.state {
                State::Renumber(n) if kind == 1 => {
                    let rbsp = unescape(&nal[1..]);
                    let s = self
                        .params
                        .slice_header(&mut Bits::new(&rbsp), header)
                        .ok_or("a slice header that does not parse against the parameter sets")?;
                    let (header, rbsp) = n.slice(header, &s, &rbsp)?;
                    let at = out.len();
                    out.extend_from_slice(&[0; 4][..ls]);
                    out.push(header);
                    escape(&rbsp, out);
                    let len = out.len() - at - ls;
                    if len >> (8 * ls).min(63) != 0 {
                        return Err("a rewritten NAL unit too long for its length field".into());
                    }
                    for (i, b) in out[at..at + ls].iter_mut().enumerate() {
                        *b = (len >> (8 * (ls - 1 - i))) as u8;
                    }
                }
                _ => out.extend_from_slice(&sample[start..start + ls + nal.len()]),
            }
        }
        if let State::Renumber(n) = &mut self.state {
            n.finish();
        }
        Ok(())
    }
}

impl Numbering {
    /// One slice of the input: its new NAL header byte and RBSP.
    fn slice(&mut self, header: u8, s: &AvcSlice, rbsp: &[u8]) -> Result<(u8, Vec<u8>), String> {
        let sps = &s.sps;
        let max = 1u32 << sps.log2_max_frame_num;
        let new_picture = match &self.picture {
            None => true,
            Some(p) => s.first_mb == 0 || p.field != s.field,
        };
        if new_picture {
            self.finish();
            self.begin(s, rbsp, max);
        }
        let p = self.picture.as_ref().ok_or("no picture")?;
        let mut w = BitWriter::default();
        let lsb_bits = sps.log2_max_poc_lsb;
        w.copy_bits(rbsp, 0..s.frame_num_at);
        w.put(sps.log2_max_frame_num, u64::from(p.new));
        w.copy_bits(
            rbsp,
            s.frame_num_at + sps.log2_max_frame_num as usize..s.idr_pic_id.start,
        );
        if p.idr {
            w.ue(0);
        }
        if sps.poc_type == 0 {
            let lsb = read_bits(rbsp, s.poc_lsb_at, lsb_bits);
            let shifted = lsb.wrapping_sub(self.poc_shift) & ((1 << lsb_bits) - 1);
            w.put(lsb_bits, u64::from(shifted));
            w.copy_bits(rbsp, s.poc_lsb_at + lsb_bits as usize..s.modification.start);
        } else {
            w.copy_bits(rbsp, s.idr_pic_id.end..s.modification.start);
        }
        self.write_modification(&mut w, s, p, max);
        w.copy_bits(rbsp, s.modification.end..s.marking.start);
        if s.nal_ref_idc != 0 {
            write_marking(&mut w, p);
        }
        w.copy_bits(rbsp, s.marking.end..s.end);
        let data = if s.cabac {
            // cabac_alignment_one_bit up to the byte the slice data starts at.
            while w.len() % 8 != 0 {
                w.put(1, 1);
            }
            s.end.next_multiple_of(8)..rbsp.len() * 8
        } else {
            let stop = stop_bit(rbsp).ok_or("a slice with no RBSP stop bit")?;
            s.end..stop
        };
        w.copy_bits(rbsp, data);
        if !s.cabac {
            w.put(1, 1);
        }
        let header = if p.idr { (header & 0xe0) | 5 } else { header };
        Ok((header, w.into_bytes()))
    }

    /// Starts the picture `s` is the first slice of.
    fn begin(&mut self, s: &AvcSlice, rbsp: &[u8], max: u32) {
        let idr = !self.started;
        self.started = true;
        let new = if idr {
            if s.sps.poc_type == 0 {
                self.poc_shift = read_bits(rbsp, s.poc_lsb_at, s.sps.log2_max_poc_lsb);
            }
            0
        } else if s.frame_num == self.prev_ref.0 {
            // The second field of a reference frame.
            self.prev_ref.1
        } else {
            (self.prev_ref.1 + 1) % max
        };
        let mut p = Picture {
            orig: s.frame_num,
            new,
            field: s.field,
            reference: s.nal_ref_idc != 0,
            idr,
            max_refs: s.sps.max_num_ref_frames,
            marking: if idr {
                Marking::Idr {
                    no_output_of_prior_pics: false,
                    long_term: false,
                }
            } else {
                s.marking_ops.clone()
            },
            targets: Vec::new(),
        };
        if let Marking::Adaptive(ops) = &p.marking {
            let mut kept = Vec::new();
            for &(op, first, second) in ops {
                if matches!(op, 1 | 3) {
                    let pic_num = curr_pic_num(p.orig, p.field) - i64::from(first) - 1;
                    let Some((i, parity)) = self.find(pic_num, &p, max) else {
                        continue; // a picture from before the start
                    };
                    let new_num = self.new_pic_num(i, parity, &p, max);
                    let diff = curr_pic_num(p.new, p.field) - new_num - 1;
                    kept.push((op, u32::try_from(diff).unwrap_or(first), second));
                    p.targets.push(Some(i));
                } else {
                    kept.push((op, first, second));
                    p.targets.push(None);
                }
            }
            p.marking = Marking::Adaptive(kept);
        }
        self.picture = Some(p);
    }

    /// The short-term reference frame that picture number `pic_num` of picture `p`
    /// (input numbering) names, and the parity bit of a field's picture number.
    fn find(&self, pic_num: i64, p: &Picture, max: u32) -> Option<(usize, i64)> {
        let (wrap, parity) = match p.field {
            Some(_) => (pic_num.div_euclid(2), pic_num.rem_euclid(2)),
            None => (pic_num, 0),
        };
        let i = self
            .short
            .iter()
            .position(|r| frame_num_wrap(r.orig, p.orig, max) == wrap)?;
        Some((i, parity))
    }

    /// The picture number, in the output's numbering, of `short[i]` seen from `p`.
    fn new_pic_num(&self, i: usize, parity: i64, p: &Picture, max: u32) -> i64 {
        let wrap = frame_num_wrap(self.short[i].new, p.new, max);
        match p.field {
            Some(_) => 2 * wrap + parity,
            None => wrap,
        }
    }

    /// `ref_pic_list_modification` with the short-term picture number differences
    /// remapped (8.2.4.3.1); a difference naming a frame not held is kept as it was.
    fn write_modification(&self, w: &mut BitWriter, s: &AvcSlice, p: &Picture, max: u32) {
        let lists = match s.slice_type {
            2 | 4 => 0,
            1 => 2,
            _ => 1,
        };
        let max_pic = i64::from(max) * if p.field.is_some() { 2 } else { 1 };
        for ops in s.list_ops.iter().take(lists) {
            let Some(ops) = ops else {
                w.put(1, 0);
                continue;
            };
            w.put(1, 1);
            let (mut pred, mut new_pred) =
                (curr_pic_num(p.orig, p.field), curr_pic_num(p.new, p.field));
            for &(idc, value) in ops {
                w.ue(idc);
                if idc > 1 {
                    w.ue(value);
                    continue;
                }
                let abs = i64::from(value) + 1;
                let step = |from: i64, by: i64| (from + by).rem_euclid(max_pic);
                let no_wrap = step(pred, if idc == 0 { -abs } else { abs });
                let pic_num = if no_wrap > curr_pic_num(p.orig, p.field) {
                    no_wrap - max_pic
                } else {
                    no_wrap
                };
                pred = no_wrap;
                let new_no_wrap = match self.find(pic_num, p, max) {
                    Some((i, parity)) => self.new_pic_num(i, parity, p, max).rem_euclid(max_pic),
                    None => step(new_pred, if idc == 0 { -abs } else { abs }),
                };
                let d = if idc == 0 {
                    new_pred - new_no_wrap
                } else {
                    new_no_wrap - new_pred
                }
                .rem_euclid(max_pic);
                let d = if d == 0 { max_pic } else { d };
                w.ue((d - 1) as u32);
                new_pred = new_no_wrap;
            }
            w.ue(3);
        }
    }

    /// Applies the finished picture's marking to the frames held (8.2.5).
    fn finish(&mut self) {
        let Some(p) = self.picture.take() else { return };
        if !p.reference {
            return;
        }
        let bit = match p.field {
            Some(true) => 2,
            Some(false) => 1,
            None => 3,
        };
        let second_field = p.field.is_some()
            && self
                .short
                .last()
                .is_some_and(|r| r.orig == p.orig && r.fields & bit == 0);
        let mut long_current = false;
        let mut reset = false;
        match &p.marking {
            Marking::Idr { .. } => {
                self.short.clear();
                self.long.clear();
            }
            Marking::SlidingWindow if !second_field => {
                let max_refs = p.max_refs.max(1) as usize;
                if self.short.len() + self.long.len() >= max_refs && !self.short.is_empty() {
                    self.short.remove(0);
                }
            }
            Marking::Adaptive(ops) => {
                // Targets index `short` as it was before this picture: remove them last.
                let mut gone = Vec::new();
                for (&(op, first, second), target) in ops.iter().zip(&p.targets) {
                    match op {
                        1 | 3 => {
                            if let Some(i) = *target {
                                gone.push(i);
                            }
                            if op == 3 {
                                self.long.retain(|&l| l != second);
                                self.long.push(second);
                            }
                        }
                        2 => {
                            let idx = if p.field.is_some() { first / 2 } else { first };
                            self.long.retain(|&l| l != idx);
                        }
                        4 => self.long.retain(|&l| l < first),
                        5 => {
                            gone.extend(0..self.short.len());
                            self.long.clear();
                            reset = true;
                        }
                        6 => {
                            self.long.retain(|&l| l != first);
                            self.long.push(first);
                            long_current = true;
                        }
                        _ => {}
                    }
                }
                gone.sort_unstable();
                gone.dedup();
                for i in gone.into_iter().rev() {
                    self.short.remove(i);
                }
            }
            _ => {}
        }
        if !long_current {
            match self.short.last_mut() {
                Some(r) if second_field => r.fields |= bit,
                _ => self.short.push(Ref {
                    orig: p.orig,
                    new: p.new,
                    fields: bit,
                }),
            }
        }
        self.prev_ref = (p.orig, p.new);
        if reset {
            // Memory management operation 5: the picture counts as frame 0 and POC 0,
            // in the input as in the output.
            self.short.clear();
            if !long_current {
                self.short.push(Ref {
                    orig: 0,
                    new: 0,
                    fields: bit,
                });
            }
            self.prev_ref = (0, 0);
            self.poc_shift = 0;
        }
    }
}

/// `CurrPicNum` (7.4.3).
fn curr_pic_num(frame_num: u32, field: Option<bool>) -> i64 {
    match field {
        Some(_) => 2 * i64::from(frame_num) + 1,
        None => i64::from(frame_num),
    }
}

/// `FrameNumWrap` of a reference frame seen from the current picture (8.2.4.1).
fn frame_num_wrap(frame_num: u32, current: u32, max: u32) -> i64 {
    if frame_num > current {
        i64::from(frame_num) - i64::from(max)
    } else {
        i64::from(frame_num)
    }
}

/// The marking of the rewritten picture.
fn write_marking(w: &mut BitWriter, p: &Picture) {
    match &p.marking {
        Marking::Idr {
            no_output_of_prior_pics,
            long_term,
        } => {
            w.put(1, u64::from(*no_output_of_prior_pics));
            w.put(1, u64::from(*long_term));
        }
        Marking::Adaptive(ops) => {
            // Kept adaptive even when every operation went: the sliding window would
            // drop a frame the input keeps.
            w.put(1, 1);
            for &(op, first, second) in ops {
                w.ue(op);
                if op != 5 {
                    w.ue(first);
                }
                if op == 3 {
                    w.ue(second);
                }
            }
            w.ue(0);
        }
        Marking::SlidingWindow | Marking::None => {
            w.put(1, 0);
        }
    }
}

/// The NAL units of a length-prefixed sample, each with the offset of its length
/// field; `None` for one that runs past the sample's end.
fn nal_units(sample: &[u8], ls: usize) -> impl Iterator<Item = Option<(usize, &[u8])>> {
    let mut pos = 0usize;
    std::iter::from_fn(move || {
        if pos >= sample.len() {
            return None;
        }
        let Some(prefix) = sample.get(pos..pos + ls) else {
            pos = sample.len();
            return Some(None);
        };
        let len = prefix
            .iter()
            .fold(0usize, |a, &b| (a << 8) | usize::from(b));
        let at = pos;
        let nal = sample.get(pos + ls..pos + ls + len);
        pos = if nal.is_some() {
            pos + ls + len
        } else {
            sample.len()
        };
        Some(nal.map(|n| (at, n)))
    })
}

/// The RBSP of a NAL unit's payload: emulation prevention bytes (`00 00 03`) removed.
fn unescape(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len());
    let mut zeros = 0;
    for &b in payload {
        if zeros >= 2 && b == 3 {
            zeros = 0;
            continue;
        }
        zeros = if b == 0 { zeros + 1 } else { 0 };
        out.push(b);
    }
    out
}

/// Appends `rbsp` with emulation prevention bytes where it needs them (7.4.1).
fn escape(rbsp: &[u8], out: &mut Vec<u8>) {
    let mut zeros = 0;
    for &b in rbsp {
        if zeros >= 2 && b <= 3 {
            out.push(3);
            zeros = 0;
        }
        out.push(b);
        zeros = if b == 0 { zeros + 1 } else { 0 };
    }
    if rbsp.last() == Some(&0) {
        out.push(3);
    }
}

/// The bit position of the RBSP stop bit: the last one bit.
fn stop_bit(rbsp: &[u8]) -> Option<usize> {
    let i = rbsp.iter().rposition(|&b| b != 0)?;
    Some(i * 8 + 7 - rbsp[i].trailing_zeros() as usize)
}

fn read_bits(data: &[u8], at: usize, n: u32) -> u32 {
    (0..n as usize).fold(0, |v, k| {
        let bit = at + k;
        let b = data.get(bit / 8).map_or(0, |b| (b >> (7 - bit % 8)) & 1);
        (v << 1) | u32::from(b)
    })
}
