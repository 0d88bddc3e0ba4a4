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

use crate::codec::bits::{BitWriter, Bits, escape};
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
#[derive(Debug, Clone)]
struct Picture {
    orig: u32,
    new: u32,
    field: Option<bool>,
    max_refs: u32,
    /// The input's marking, resolved against the reference frames held: operations on
    /// frames not held are gone, the rest carry their frame's index in `short`.
    marking: Marking,
    targets: Vec<Option<(usize, i64)>>,
}

impl Picture {
    /// The first picture, made an IDR picture.
    fn idr(&self) -> bool {
        matches!(self.marking, Marking::Idr { .. })
    }

    /// Only a reference picture has a marking.
    fn reference(&self) -> bool {
        self.marking != Marking::None
    }
}

#[derive(Debug, Clone)]
enum State {
    Renumber(Numbering),
    /// After an IDR picture of the input: nothing to change.
    Pass,
}

#[derive(Debug, Clone, Default)]
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
#[derive(Debug, Clone)]
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
                    let rbsp = Unescaped::new(&nal[1..], nal.len()).rbsp;
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
                    let at = out.len();
                    out.extend_from_slice(&[0; 4][..ls]);
                    if !n.slice(&self.params, nal, out)? {
                        // A slice damaged in transmission (a broadcast recording's lost
                        // packets) goes as it came: a decoder meets it either way.
                        out.truncate(at);
                        out.extend_from_slice(&sample[start..start + ls + nal.len()]);
                        continue;
                    }
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

/// The bytes of a slice's payload unescaped before its header is parsed: enough for any
/// usual header. The slice data is copied as stored from a little after the header
/// (CAVLC data only when the new header keeps the old one's length to the bit, as it
/// does but where left-out pictures change a picture number difference).
const HEAD: usize = 256;

impl Numbering {
    /// Appends slice `nal` of the input rewritten (NAL header byte and payload); false
    /// when its header does not parse (nothing appended).
    fn slice(&mut self, params: &Avc, nal: &[u8], out: &mut Vec<u8>) -> Result<bool, String> {
        let (header, payload) = (nal[0], &nal[1..]);
        let mut head = Unescaped::new(payload, HEAD);
        let s = match params.slice_header(&mut Bits::new(&head.rbsp), header) {
            Some(s) => s,
            None if head.whole => return Ok(false),
            None => {
                head = Unescaped::new(payload, payload.len());
                match params.slice_header(&mut Bits::new(&head.rbsp), header) {
                    Some(s) => s,
                    None => return Ok(false),
                }
            }
        };
        let (header, mut w) = self.header(header, &s, &head.rbsp)?;
        out.push(header);
        if s.cabac {
            // cabac_alignment_one_bit up to the byte the slice data starts at.
            while !w.len().is_multiple_of(8) {
                w.put(1, 1);
            }
        } else if (w.len() + 8 - s.end % 8).is_multiple_of(8) {
            // CAVLC with the header as long as before, to the bit in its last byte (the
            // usual case): the rest of that byte, then the data where it was.
            w.copy_bits(&head.rbsp, s.end..s.end.next_multiple_of(8));
        } else {
            // CAVLC data moves with the header's length, bit for bit. No stop bit
            // (damaged data): all of it, and a stop bit after.
            let whole = Unescaped::new(payload, payload.len());
            let stop = stop_bit(&whole.rbsp).unwrap_or(whole.rbsp.len() * 8);
            w.copy_bits(&whole.rbsp, s.end..stop);
            w.put(1, 1);
            escape(&w.into_bytes(), out);
            return Ok(true);
        }
        let rbsp = &head.rbsp;
        let data = s.end.div_ceil(8);
        // The stored bytes can be copied from any byte after two non-zero ones: no
        // emulation prevention byte is pending there, in the input or the output.
        let split = if head.whole {
            Some(rbsp.len())
        } else {
            (data + 2..=rbsp.len()).find(|&k| rbsp[k - 1] != 0 && rbsp[k - 2] != 0)
        };
        let Some(split) = split else {
            let whole = Unescaped::new(payload, payload.len());
            w.copy_bits(&whole.rbsp, data * 8..whole.rbsp.len() * 8);
            escape(&w.into_bytes(), out);
            return Ok(true);
        };
        w.copy_bits(rbsp, data * 8..split * 8);
        escape(&w.into_bytes(), out);
        out.extend_from_slice(&payload[head.raw[split]..]);
        Ok(true)
    }

    /// The slice header `s` of `rbsp` rewritten, with the new NAL header byte.
    fn header(&mut self, header: u8, s: &AvcSlice, rbsp: &[u8]) -> Result<(u8, BitWriter), String> {
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
        if p.idr() {
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
        let header = if p.idr() { (header & 0xe0) | 5 } else { header };
        Ok((header, w))
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
                    p.targets.push(Some((i, parity)));
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
        if !p.reference() {
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
                // A field's target is one field of a frame: its parity bit 1 is the
                // current field's parity.
                let other = if bit == 3 { 3 } else { 3 - bit };
                for (&(op, first, second), target) in ops.iter().zip(&p.targets) {
                    match op {
                        1 | 3 => {
                            if let Some((i, parity)) = *target {
                                self.short[i].fields &= !if parity == 1 { bit } else { other };
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
                            self.short.iter_mut().for_each(|r| r.fields = 0);
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
                // Removed last: the targets index `short` as it was before this picture.
                self.short.retain(|r| r.fields != 0);
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

/// The start of a NAL unit's payload as RBSP: emulation prevention bytes (`00 00 03`)
/// removed, and where each RBSP byte is stored.
struct Unescaped {
    rbsp: Vec<u8>,
    /// Per RBSP byte, and one past the last, its offset in the payload.
    raw: Vec<usize>,
    /// The whole payload, not only its start.
    whole: bool,
}

impl Unescaped {
    /// The first `limit` stored bytes of `payload` (all of it when shorter).
    fn new(payload: &[u8], limit: usize) -> Unescaped {
        let stored = &payload[..limit.min(payload.len())];
        let mut rbsp = Vec::with_capacity(stored.len());
        let mut raw = Vec::with_capacity(stored.len() + 1);
        let mut zeros = 0;
        for (i, &b) in stored.iter().enumerate() {
            if zeros >= 2 && b == 3 {
                zeros = 0;
                continue;
            }
            zeros = if b == 0 { zeros + 1 } else { 0 };
            rbsp.push(b);
            raw.push(i);
        }
        raw.push(stored.len());
        Unescaped {
            rbsp,
            raw,
            whole: stored.len() == payload.len(),
        }
    }
}

/// The RBSP of a NAL unit's payload: emulation prevention bytes removed.
#[cfg(test)]
fn unescape(payload: &[u8]) -> Vec<u8> {
    Unescaped::new(payload, payload.len()).rbsp
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

#[cfg(test)]
mod tests {
    use super::*;

    fn se(w: &mut BitWriter, v: i32) {
        w.ue(if v > 0 {
            2 * v as u32 - 1
        } else {
            2 * (-v) as u32
        });
    }

    /// A NAL unit from its header byte and RBSP bits, stop bit included.
    fn nal(header: u8, mut w: BitWriter, cabac_data: Option<&[u8]>) -> Vec<u8> {
        match cabac_data {
            Some(data) => {
                while !w.len().is_multiple_of(8) {
                    w.put(1, 1);
                }
                for &b in data {
                    w.put(8, u64::from(b));
                }
            }
            None => {
                w.put(13, 0x1abc); // macroblock data, as far as a header rewrite knows
                w.put(1, 1);
            }
        }
        let mut out = vec![header];
        escape(&w.into_bytes(), &mut out);
        out
    }

    /// Main profile, 4-bit frame_num, POC type 0 with 6-bit LSBs, 4 reference frames;
    /// PPS 0 CAVLC, PPS 1 CABAC.
    fn parameter_sets() -> Vec<Vec<u8>> {
        let mut sps = BitWriter::default();
        sps.put(8, 77)
            .put(16, 0)
            .ue(0)
            .ue(0)
            .ue(0)
            .ue(2)
            .ue(4)
            .put(1, 0);
        sps.ue(19).ue(14).put(1, 1);
        let mut sets = vec![nal(0x67, sps, Some(&[]))];
        for (id, cabac) in [(0, 0), (1, 1)] {
            let mut pps = BitWriter::default();
            pps.ue(id)
                .ue(0)
                .put(1, cabac)
                .put(1, 0)
                .ue(0)
                .ue(0)
                .ue(0)
                .put(1, 0)
                .put(2, 0);
            se(&mut pps, 0);
            se(&mut pps, 0);
            se(&mut pps, 0);
            pps.put(1, 1).put(1, 0).put(1, 0);
            sets.push(nal(0x68, pps, Some(&[])));
        }
        sets
    }

    /// A slice: (NAL header, slice type, PPS, frame_num, POC LSB, list modifications
    /// (L0, L1), marking operations or `None` for the sliding window).
    struct Slice<'a> {
        header: u8,
        slice_type: u32,
        pps: u32,
        frame_num: u64,
        lsb: u64,
        lists: [Option<&'a [(u32, u32)]>; 2],
        marking: Option<&'a [(u32, u32)]>,
    }

    /// The recovery point the tests start on: a reference I frame, frame 10, POC LSB 20,
    /// CAVLC.
    fn recovery_point() -> Slice<'static> {
        Slice {
            header: 0x41,
            slice_type: 7,
            pps: 0,
            frame_num: 10,
            lsb: 20,
            lists: [None, None],
            marking: None,
        }
    }

    fn slice(s: &Slice<'_>) -> Vec<u8> {
        let mut w = BitWriter::default();
        w.ue(0)
            .ue(s.slice_type)
            .ue(s.pps)
            .put(4, s.frame_num)
            .put(6, s.lsb);
        if s.slice_type == 6 {
            w.put(1, 1); // direct_spatial_mv_pred_flag
        }
        let lists = match s.slice_type {
            7 => 0,
            6 => 2,
            _ => 1,
        };
        if lists > 0 {
            w.put(1, 0); // num_ref_idx_active_override_flag
        }
        for ops in s.lists.iter().take(lists) {
            match ops {
                Some(ops) => {
                    w.put(1, 1);
                    for &(idc, v) in *ops {
                        w.ue(idc).ue(v);
                    }
                    w.ue(3);
                }
                None => {
                    w.put(1, 0);
                }
            }
        }
        if s.header >> 5 != 0 {
            match s.marking {
                Some(ops) => {
                    w.put(1, 1);
                    for &(op, v) in ops {
                        w.ue(op).ue(v);
                    }
                    w.ue(0);
                }
                None => {
                    w.put(1, 0);
                }
            }
        }
        if s.pps == 1 && s.slice_type != 7 {
            w.ue(0); // cabac_init_idc
        }
        se(&mut w, -2); // slice_qp_delta
        w.ue(1); // deblocking off
        nal(
            s.header,
            w,
            (s.pps == 1).then_some(&[0x00, 0x00, 0x01, 0xa5][..]),
        )
    }

    fn sample(nals: &[Vec<u8>]) -> Vec<u8> {
        let mut out = Vec::new();
        for n in nals {
            out.extend_from_slice(&(n.len() as u32).to_be_bytes());
            out.extend_from_slice(n);
        }
        out
    }

    /// The slices of a rewritten sample, parsed, with their NAL header and RBSP.
    fn parsed(sets: &[Vec<u8>], out: &[u8]) -> Vec<(u8, AvcSlice, Vec<u8>)> {
        let mut avc = Avc::default();
        sets.iter().for_each(|s| avc.observe(s));
        nal_units(out, 4)
            .map(|n| {
                let (_, n) = n.expect("whole NAL units");
                let rbsp = unescape(&n[1..]);
                let s = avc
                    .slice_header(&mut Bits::new(&rbsp), n[0])
                    .expect("parses");
                (n[0], s, rbsp)
            })
            .collect()
    }

    #[test]
    fn a_recovery_point_start_becomes_an_idr_picture_and_the_rest_follows_on() {
        let sets = parameter_sets();
        // Input numbering: the I picture is frame 10 (POC LSB 20); frame 11, a leading
        // reference B picture, was left out; frames 6 to 9 are before the cut.
        let i = slice(&Slice {
            marking: Some(&[(1, 3)]),
            ..recovery_point()
        });
        // P, frame 12: list 0 starts with frame 10 (12 - 2); releases frame 11 (left
        // out) and frame 6 (before the cut).
        let p = slice(&Slice {
            header: 0x41,
            slice_type: 5,
            pps: 0,
            frame_num: 12,
            lsb: 28,
            lists: [Some(&[(0, 1)]), None],
            marking: Some(&[(1, 0), (1, 5)]),
        });
        // A CABAC B picture, not a reference, frame 13: list 0 names frame 12 (13 - 1),
        // then frame 10 (12 - 2).
        let b = slice(&Slice {
            header: 0x01,
            slice_type: 6,
            pps: 1,
            frame_num: 13,
            lsb: 24,
            lists: [Some(&[(0, 0), (0, 1)]), None],
            marking: None,
        });
        // P, frame 13: releases frame 10 (13 - 3).
        let p2 = slice(&Slice {
            header: 0x41,
            slice_type: 5,
            pps: 1,
            frame_num: 13,
            lsb: 32,
            lists: [None, None],
            marking: Some(&[(1, 2)]),
        });
        let first = sample(&[sets[0].clone(), i.clone()]);
        let mut r = IdrStart::new(&sets, 4, &first).expect("a start this rewrite handles");
        let mut out = Vec::new();
        for s in [&first, &sample(&[p]), &sample(&[b]), &sample(&[p2])] {
            out.clear();
            r.sample(s, &mut out).expect("rewrites");
            let slices = parsed(&sets, &out);
            let (header, s, rbsp) = slices.last().expect("a slice");
            let lsb = read_bits(rbsp, s.poc_lsb_at, 6);
            let data = rbsp[s.end.div_ceil(8)..].to_vec();
            match s.frame_num {
                0 => {
                    assert_eq!(header & 0x1f, 5, "the first picture is an IDR picture");
                    assert_eq!(lsb, 0, "with POC 0");
                    assert!(matches!(s.marking_ops, Marking::Idr { .. }));
                }
                1 => {
                    assert_eq!(header & 0x1f, 1);
                    assert_eq!(lsb, 8, "POC LSBs move with the first picture's");
                    // Frame 10 is now 0: one back from 1.
                    assert_eq!(s.list_ops[0], Some(vec![(0, 0)]));
                    assert_eq!(
                        s.marking_ops,
                        Marking::Adaptive(vec![]),
                        "both frames are gone"
                    );
                }
                2 if s.nal_ref_idc == 0 => {
                    assert_eq!(lsb, 4);
                    assert_eq!(s.list_ops[0], Some(vec![(0, 0), (0, 0)]));
                    assert_eq!(data, [0, 0, 1, 0xa5], "CABAC data after the alignment");
                }
                2 => {
                    assert_eq!(lsb, 12);
                    // Frame 0 seen from 2: 2 - (1 + 1).
                    assert_eq!(s.marking_ops, Marking::Adaptive(vec![(1, 1, 0)]));
                }
                n => panic!("frame_num {n}"),
            }
            if !s.cabac {
                // The 13 bits of data and the stop bit, whatever the header's length.
                assert_eq!(read_bits(rbsp, s.end, 14), 0x1abc << 1 | 1, "CAVLC data");
                assert_eq!(rbsp.len(), (s.end + 14).div_ceil(8), "then only zero bits");
            }
        }
    }

    /// CABAC slice data is copied as stored from a little after the header: long data
    /// with emulation prevention bytes everywhere, before and after that point, comes
    /// out as the same RBSP.
    #[test]
    fn long_cabac_data_is_the_same_after_the_rewrite() {
        let sets = parameter_sets();
        let i = |data: &[u8]| {
            let mut w = BitWriter::default();
            w.ue(0).ue(7).ue(1).put(4, 10).put(6, 20).put(1, 0);
            se(&mut w, -2);
            w.ue(1);
            nal(0x41, w, Some(data))
        };
        for lead in 0..40 {
            // Runs of zeros (emulation prevention) at every offset around the split.
            let mut data: Vec<u8> = (0..900)
                .map(|k: usize| if (k + lead) % 7 < 3 { 0 } else { (k % 5) as u8 })
                .collect();
            data.push(0x80); // the stop bit
            let first = sample(&[i(&data)]);
            let mut r = IdrStart::new(&sets, 4, &first).unwrap();
            let mut out = Vec::new();
            r.sample(&first, &mut out).unwrap();
            let (header, s, rbsp) = parsed(&sets, &out).pop().unwrap();
            assert_eq!(header & 0x1f, 5);
            assert_eq!(&rbsp[s.end.div_ceil(8)..], &data[..], "lead {lead}");
            // Stored as a decoder reads it: no 00 00 0x (x < 4) left unescaped.
            assert!(
                !out[4..]
                    .windows(3)
                    .any(|w| w[0] == 0 && w[1] == 0 && w[2] < 3)
            );
        }
    }

    #[test]
    fn starts_this_rewrite_does_not_take_are_refused() {
        let sets = parameter_sets();
        let of = |s: &Slice<'_>| IdrStart::new(&sets, 4, &sample(&[slice(s)])).err();
        let i = recovery_point();
        assert_eq!(of(&i), None);
        assert!(of(&Slice { header: 0x65, ..i }).is_some(), "already IDR");
        assert!(
            of(&Slice { header: 0x01, ..i }).is_some(),
            "not a reference"
        );
        assert!(of(&Slice { slice_type: 5, ..i }).is_some(), "a P picture");
        let long_term = [(6, 0)];
        assert!(
            of(&Slice {
                marking: Some(&long_term),
                ..i
            })
            .is_some()
        );
        assert!(
            IdrStart::new(&[], 4, &sample(&[slice(&i)])).is_err(),
            "no parameter sets"
        );
    }
}
