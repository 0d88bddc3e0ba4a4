//! Sample-rate conversion to 48 kHz for PCM at rates Opus does not take (44.1, 88.2,
//! 96 kHz, ...): windowed-sinc interpolation, symmetric (linear phase), so output sample
//! `n` is the input signal at exactly `n / 48000` s and nothing moves in time. The
//! kernel is tabulated per phase when the rate ratio repeats within `MAX_PHASES`.

use std::f64::consts::PI;

/// Taps on each side of the interpolation point.
const HALF: usize = 32;
const MAX_PHASES: usize = 2048;

pub(crate) struct Resampler {
    channels: usize,
    /// Input frames per output frame, as `num / den`.
    num: u64,
    den: u64,
    /// Low-pass cut-off relative to the input's Nyquist frequency.
    cutoff: f64,
    /// `phases` tables of `2 * HALF` weights, when the ratio repeats; else computed.
    table: Option<Vec<f32>>,
    /// Interleaved input frames not yet consumed, `base` the index of the first one.
    buf: Vec<f32>,
    base: u64,
    /// Next output frame.
    next: u64,
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

impl Resampler {
    pub fn new(in_rate: u32, out_rate: u32, channels: usize) -> Resampler {
        let g = gcd(u64::from(in_rate), u64::from(out_rate));
        let (num, den) = (u64::from(in_rate) / g, u64::from(out_rate) / g);
        // Below the lower Nyquist frequency, with a little room for the window's slope.
        let cutoff = (f64::from(out_rate) / f64::from(in_rate)).min(1.0) * 0.95;
        let mut r = Resampler {
            channels,
            num,
            den,
            cutoff,
            table: None,
            buf: Vec::new(),
            base: 0,
            next: 0,
        };
        if (den as usize) <= MAX_PHASES {
            let mut table = Vec::with_capacity(den as usize * 2 * HALF);
            for phase in 0..den {
                let frac = phase as f64 / den as f64;
                table.extend(r.weights(frac));
            }
            r.table = Some(table);
        }
        r
    }

    /// The `2 * HALF` weights for input frames `i - HALF + 1 ..= i + HALF` around the
    /// point `i + frac`.
    fn weights(&self, frac: f64) -> Vec<f32> {
        (0..2 * HALF)
            .map(|k| {
                let t = (k as f64 - (HALF as f64 - 1.0)) - frac;
                let x = t * self.cutoff;
                let sinc = if x.abs() < 1e-12 {
                    1.0
                } else {
                    (PI * x).sin() / (PI * x)
                };
                // Blackman window over the span of the taps.
                let w = 0.5 + t / (2.0 * HALF as f64);
                let window = if (0.0..=1.0).contains(&w) {
                    0.42 - 0.5 * (2.0 * PI * w).cos() + 0.08 * (4.0 * PI * w).cos()
                } else {
                    0.0
                };
                (self.cutoff * sinc * window) as f32
            })
            .collect()
    }

    /// Feeds interleaved input frames; appends the output frames they complete. With
    /// `last`, the input ends here (zeros after it) and every remaining output frame up
    /// to the input's length in time is produced.
    pub fn push(&mut self, input: &[f32], last: bool, out: &mut Vec<f32>) {
        self.buf.extend_from_slice(input);
        let ch = self.channels;
        let have = self.base + (self.buf.len() / ch) as u64;
        // Output frames that cover the input: ceil(have * den / num).
        let total_out = (have * self.den).div_ceil(self.num);
        let mut weights_buf;
        loop {
            let pos = self.next * self.num; // input position times den
            let i = pos / self.den;
            let phase = (pos % self.den) as usize;
            if last {
                if self.next >= total_out {
                    break;
                }
            } else if i + HALF as u64 >= have {
                break;
            }
            let weights: &[f32] = match &self.table {
                Some(t) => &t[phase * 2 * HALF..(phase + 1) * 2 * HALF],
                None => {
                    weights_buf = self.weights(phase as f64 / self.den as f64);
                    &weights_buf
                }
            };
            let first = i as i64 - (HALF as i64 - 1);
            for c in 0..ch {
                let mut acc = 0f32;
                for (k, w) in weights.iter().enumerate() {
                    let at = first + k as i64;
                    if at < self.base as i64 || at >= have as i64 {
                        continue; // before the start (silence) or after the end
                    }
                    acc += w * self.buf[(at as u64 - self.base) as usize * ch + c];
                }
                out.push(acc);
            }
            self.next += 1;
        }
        // Keep what later output frames still need.
        let keep_from =
            ((self.next * self.num / self.den).saturating_sub(HALF as u64)).max(self.base);
        let drop = ((keep_from - self.base) as usize).min(self.buf.len() / ch);
        self.buf.drain(..drop * ch);
        self.base += drop as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(rate: u32, freq: f64, frames: usize) -> Vec<f32> {
        (0..frames)
            .map(|n| (2.0 * PI * freq * n as f64 / f64::from(rate)).sin() as f32 * 0.5)
            .collect()
    }

    #[test]
    fn a_sine_keeps_its_frequency_phase_and_level() {
        for in_rate in [44_100u32, 96_000, 32_000, 22_050] {
            let input = sine(in_rate, 1000.0, in_rate as usize);
            let mut r = Resampler::new(in_rate, 48_000, 1);
            let mut out = Vec::new();
            // Fed in uneven blocks, as the reader does.
            for chunk in input.chunks(777) {
                r.push(chunk, false, &mut out);
            }
            r.push(&[], true, &mut out);
            assert_eq!(
                out.len(),
                48_000,
                "{in_rate}: one second in, one second out"
            );
            let want = sine(48_000, 1000.0, 48_000);
            // Away from the edges the output is the same sine at the same times.
            let err = out[1000..47_000]
                .iter()
                .zip(&want[1000..47_000])
                .map(|(a, b)| (a - b).abs())
                .fold(0f32, f32::max);
            assert!(err < 0.01, "{in_rate}: max error {err}");
        }
    }

    #[test]
    fn stereo_channels_stay_apart() {
        let frames = 4410;
        let mut input = Vec::new();
        for _ in 0..frames {
            input.push(0.25);
            input.push(0.0);
        }
        let mut r = Resampler::new(44_100, 48_000, 2);
        let mut out = Vec::new();
        r.push(&input, true, &mut out);
        assert_eq!(out.len(), 2 * 4800);
        for f in out[200..9400].chunks(2) {
            assert!((f[0] - 0.25).abs() < 0.01 && f[1].abs() < 1e-6, "{f:?}");
        }
    }
}
