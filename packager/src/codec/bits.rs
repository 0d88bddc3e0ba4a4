//! The one bit reader of the codec parsers: plain bits (AudioSpecificConfig and the
//! other audio configs) or an H.264/HEVC RBSP read in place, where emulation prevention
//! bytes (`00 00 03`) are skipped but still counted as bytes of the stored NAL unit;
//! the one bit writer (silent AAC frames, rewritten slice headers, test configuration
//! records), and emulation prevention for an RBSP written.

pub(crate) struct Bits<'a> {
    raw: &'a [u8],
    next: usize,
    zeros: usize,
    cur: u8,
    left: u8,
    rbsp: bool,
}

impl<'a> Bits<'a> {
    /// Plain bits from the first byte.
    pub fn new(data: &'a [u8]) -> Self {
        Bits {
            raw: data,
            next: 0,
            zeros: 0,
            cur: 0,
            left: 0,
            rbsp: false,
        }
    }

    /// The RBSP of a NAL unit as stored, from byte `skip` (after the NAL header).
    pub fn rbsp(raw: &'a [u8], skip: usize) -> Self {
        Bits {
            next: skip.min(raw.len()),
            rbsp: true,
            ..Bits::new(raw)
        }
    }

    fn byte(&mut self) -> Option<u8> {
        loop {
            let b = *self.raw.get(self.next)?;
            self.next += 1;
            if self.rbsp {
                if self.zeros >= 2 && b == 3 {
                    self.zeros = 0;
                    continue;
                }
                self.zeros = if b == 0 { self.zeros + 1 } else { 0 };
            }
            return Some(b);
        }
    }

    pub fn bit(&mut self) -> Option<u32> {
        if self.left == 0 {
            self.cur = self.byte()?;
            self.left = 8;
        }
        self.left -= 1;
        Some(u32::from((self.cur >> self.left) & 1))
    }

    pub fn flag(&mut self) -> Option<bool> {
        self.bit().map(|b| b == 1)
    }

    /// `n` bits (at most 32), most significant first.
    pub fn bits(&mut self, n: u32) -> Option<u32> {
        if n > 32 {
            return None;
        }
        let mut v = 0u64;
        for _ in 0..n {
            v = (v << 1) | u64::from(self.bit()?);
        }
        u32::try_from(v).ok()
    }

    /// The same as [`Bits::bits`], by the name the audio parsers use.
    pub fn read(&mut self, n: u32) -> Option<u32> {
        self.bits(n)
    }

    pub fn skip(&mut self, n: u32) -> Option<()> {
        for _ in 0..n {
            self.bit()?;
        }
        Some(())
    }

    /// Skips to the next byte boundary.
    pub fn align(&mut self) {
        self.left = 0;
    }

    /// Exp-Golomb `ue(v)`.
    pub fn ue(&mut self) -> Option<u32> {
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

    /// Exp-Golomb `se(v)`.
    pub fn se(&mut self) -> Option<i32> {
        let k = self.ue()?;
        Some(if k % 2 == 1 {
            k.div_ceil(2) as i32
        } else {
            -((k / 2) as i32)
        })
    }

    /// Bytes of the data up to and including the one holding the last bit read.
    pub fn bytes_used(&self) -> usize {
        self.next
    }

    /// Bits read so far from the start of the data (in an RBSP read in place,
    /// emulation prevention bytes count too).
    pub fn position(&self) -> usize {
        self.next * 8 - usize::from(self.left)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_and_rbsp() {
        let mut b = Bits::new(&[0b1010_0000, 0xff]);
        assert_eq!(b.bits(3), Some(0b101));
        b.align();
        assert_eq!(b.bits(8), Some(0xff));
        assert_eq!(b.bit(), None);
        // ue(v): 1 -> 0, 010 -> 1, 011 -> 2, 00100 -> 3; se(v) of 3 is 2.
        let mut b = Bits::new(&[0b1010_0110, 0b0100_0000]);
        assert_eq!(
            (b.ue(), b.ue(), b.ue(), b.se()),
            (Some(0), Some(1), Some(2), Some(2))
        );
        // 00 00 03 01: the 03 is skipped in an RBSP and counted as a stored byte.
        let mut b = Bits::rbsp(&[0x65, 0, 0, 3, 1], 1);
        assert_eq!(b.bits(24), Some(1));
        assert_eq!(b.bytes_used(), 5);
        let mut b = Bits::new(&[0, 0, 3, 1]);
        assert_eq!(b.bits(32), Some(0x301));
        assert_eq!(Bits::new(&[0; 8]).bits(33), None);
    }
}

/// Appends `rbsp` stored as in a NAL unit (H.264 7.4.1, H.265 7.4.2): a 0x03 after two
/// zero bytes wherever the next byte is 0x03 or less, and after a last zero byte.
pub(crate) fn escape(rbsp: &[u8], out: &mut Vec<u8>) {
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

/// Most significant bit first.
#[derive(Default)]
pub(crate) struct BitWriter {
    bytes: Vec<u8>,
    bits: usize,
}

impl BitWriter {
    /// Appends the low `n` bits of `v`.
    pub fn put(&mut self, n: u32, v: u64) -> &mut Self {
        for i in (0..n).rev() {
            if self.bits.is_multiple_of(8) {
                self.bytes.push(0);
            }
            if (v >> i) & 1 == 1
                && let Some(last) = self.bytes.last_mut()
            {
                *last |= 0x80 >> (self.bits % 8);
            }
            self.bits += 1;
        }
        self
    }

    /// Bits written so far.
    pub fn len(&self) -> usize {
        self.bits
    }

    /// Exp-Golomb `ue(v)`.
    pub fn ue(&mut self, v: u32) -> &mut Self {
        let v = u64::from(v) + 1;
        let n = 64 - v.leading_zeros();
        self.put(n - 1, 0).put(n, v)
    }

    /// Bits `range` of `data` (most significant bit of byte 0 first), a byte at a time
    /// where it can.
    pub fn copy_bits(&mut self, data: &[u8], range: std::ops::Range<usize>) -> &mut Self {
        let mut at = range.start;
        if at.is_multiple_of(8) && self.bits.is_multiple_of(8) && range.end >= at + 8 {
            let whole = (range.end - at) / 8;
            self.bytes.extend_from_slice(&data[at / 8..at / 8 + whole]);
            self.bits += whole * 8;
            at += whole * 8;
        }
        while range.end >= at + 8 {
            let (i, shift) = (at / 8, at % 8);
            let byte = if shift == 0 {
                data[i]
            } else {
                (data[i] << shift) | (data[i + 1] >> (8 - shift))
            };
            let k = self.bits % 8;
            match self.bytes.last_mut() {
                Some(last) if k != 0 => {
                    *last |= byte >> k;
                    self.bytes.push(byte << (8 - k));
                }
                _ => self.bytes.push(byte),
            }
            self.bits += 8;
            at += 8;
        }
        while at < range.end {
            self.put(1, u64::from(data[at / 8] >> (7 - at % 8)) & 1);
            at += 1;
        }
        self
    }

    /// Pads with zero bits to the next byte.
    pub fn align(&mut self) -> &mut Self {
        self.bits = self.bytes.len() * 8;
        self
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}

#[cfg(test)]
mod writer_tests {
    use super::*;

    #[test]
    fn copied_bits_land_where_they_are_put() {
        let data: Vec<u8> = (0u32..40).map(|i| (i * 37 + 11) as u8).collect();
        let bit = |d: &[u8], i: usize| (d[i / 8] >> (7 - i % 8)) & 1;
        for lead in 0..9u32 {
            for (start, end) in [(0, 320), (3, 3), (5, 12), (7, 301), (8, 200), (13, 317)] {
                let mut w = BitWriter::default();
                w.put(lead, 0x155);
                w.copy_bits(&data, start..end);
                assert_eq!(w.len(), lead as usize + end - start);
                let out = w.into_bytes();
                for i in start..end {
                    let at = lead as usize + i - start;
                    assert_eq!(bit(&out, at), bit(&data, i), "lead {lead}, bit {i}");
                }
            }
        }
        let mut w = BitWriter::default();
        w.ue(0).ue(1).ue(6);
        assert_eq!(w.into_bytes(), [0b1010_0011, 0b1000_0000]);
    }
}
