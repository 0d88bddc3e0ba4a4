//! Subsample layout of NAL-structured video (ISO/IEC 23001-7 10.2, 10.4.2): in every
//! slice NAL unit the length prefix, the NAL header and the slice header stay clear,
//! and the rest is protected in whole 16-byte blocks (the remainder joins the clear
//! part, so the same layout serves `cenc` and `cbcs`); other NAL units stay clear.

use super::cipher::Subsample;
use crate::codec::Family;
use crate::codec::slice_header::SliceHeaders;

pub(crate) struct NalLayout {
    length_size: usize,
    headers: SliceHeaders,
}

impl NalLayout {
    pub fn new(family: Family, length_size: u8, parameter_sets: &[Vec<u8>]) -> NalLayout {
        let mut headers = match family {
            Family::Hevc => SliceHeaders::hevc(),
            _ => SliceHeaders::avc(),
        };
        for ps in parameter_sets {
            headers.observe(ps);
        }
        NalLayout {
            length_size: usize::from(length_size),
            headers,
        }
    }

    /// The subsamples of one sample, covering it exactly; `Err` names what did not
    /// parse, with its byte offset in the sample.
    pub fn subsamples(&mut self, sample: &[u8]) -> Result<Vec<Subsample>, String> {
        let ls = self.length_size;
        let mut out: Vec<Subsample> = Vec::new();
        let mut clear = 0usize;
        let mut pos = 0usize;
        while pos < sample.len() {
            let Some(prefix) = sample.get(pos..pos + ls) else {
                return Err(format!("NAL unit length cut off at byte {pos}"));
            };
            let len = prefix
                .iter()
                .fold(0usize, |a, &b| (a << 8) | usize::from(b));
            let nal = sample.get(pos + ls..pos + ls + len).ok_or_else(|| {
                format!("NAL unit of {len} bytes at byte {pos} runs past the sample")
            })?;
            if self.headers.is_vcl(nal) {
                let header = self.headers.header_len(nal).ok_or_else(|| {
                    format!("slice header at byte {pos} does not parse against the parameter sets")
                })?;
                let protected = (len.saturating_sub(header)) & !15;
                clear += ls + len - protected;
                if protected > 0 {
                    push(&mut out, clear, protected);
                    clear = 0;
                }
            } else {
                self.headers.observe(nal);
                clear += ls + len;
            }
            pos += ls + len;
        }
        if clear > 0 || out.is_empty() {
            push(&mut out, clear, 0);
        }
        Ok(out)
    }
}

/// Append one subsample; clear runs beyond the 16-bit field become entries of their own.
fn push(out: &mut Vec<Subsample>, mut clear: usize, protected: usize) {
    while clear > usize::from(u16::MAX) {
        out.push((u16::MAX, 0));
        clear -= usize::from(u16::MAX);
    }
    out.push((clear as u16, protected as u32));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_clear_runs_split() {
        let mut out = Vec::new();
        push(&mut out, 70_000, 32);
        assert_eq!(out, [(65_535, 0), (4_465, 32)]);
    }

    #[test]
    fn non_vcl_units_stay_clear_and_lengths_are_checked() {
        let mut l = NalLayout::new(Family::Avc, 4, &[]);
        // An SEI (type 6) of 3 bytes: all clear.
        let sample = [0, 0, 0, 3, 6, 1, 2];
        assert_eq!(l.subsamples(&sample).unwrap(), [(7, 0)]);
        assert!(l.subsamples(&[0, 0, 0, 9, 6, 1]).is_err());
        // A slice whose PPS is unknown is refused rather than encrypted blindly.
        assert!(l.subsamples(&[0, 0, 0, 4, 0x65, 0x88, 0x80, 0x40]).is_err());
    }
}
