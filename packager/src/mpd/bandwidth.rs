//! The bandwidth model: `@bandwidth` as ISO/IEC 23009-1 5.3.5.2 defines it.

use crate::described::BuiltSegment;

/// The DASH bandwidth (23009-1 5.3.5.2): the smallest rate such that, starting at any
/// segment boundary with `min_buffer` seconds of data buffered, delivery at that rate
/// never falls behind playback. Every byte of every segment counts.
///
/// That is the largest ratio bits(i..=j) / (min_buffer + t_j - t_i) over all segment
/// pairs, rounded up. Instead of trying every pair (quadratic: minutes for a long input
/// with short segments), binary-search the integer rate with a linear feasibility check.
pub(crate) fn bandwidth(segments: &[BuiltSegment], timescale: u32, min_buffer: f64) -> u64 {
    let Some(first) = segments.first() else {
        return 0;
    };
    if min_buffer <= 0.0 {
        return bandwidth_pairs(segments, timescale, min_buffer);
    }
    let ts = f64::from(timescale);
    let t0 = first.time;
    let enough = |b: f64| {
        let timed = segments
            .iter()
            .map(|s| ((s.time - t0.min(s.time)) as f64 / ts, s.bytes as f64 * 8.0));
        buffer_model_holds(timed, b, min_buffer, 0.0)
    };
    let total: f64 = segments.iter().map(|s| s.bytes as f64 * 8.0).sum();
    // Every pair's denominator is at least min_buffer.
    let (mut lo, mut hi) = (0u64, (total / min_buffer).ceil() as u64 + 1);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if enough(mid as f64) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    lo
}

/// Whether `rate` satisfies the buffer model for `min_buffer` seconds: starting at any
/// segment with that much buffered, every later segment has arrived when it is due.
/// `segments` are (start in seconds, bits); `slack` bits of rounding are forgiven.
///
/// With C the bits before a segment and t its start, for every j:
/// max_j (C_{j+1} - rate t_j) - min_{i<=j} (C_i - rate t_i) <= rate * min_buffer.
fn buffer_model_holds(
    segments: impl IntoIterator<Item = (f64, f64)>,
    rate: f64,
    min_buffer: f64,
    slack: f64,
) -> bool {
    let mut bits = 0.0f64;
    let mut lowest = f64::INFINITY;
    for (t, segment_bits) in segments {
        lowest = lowest.min(bits - rate * t);
        bits += segment_bits;
        if bits - rate * t - lowest > rate * min_buffer + slack {
            return false;
        }
    }
    true
}

/// The same bandwidth by trying every pair of segments; also the test oracle.
pub(super) fn bandwidth_pairs(segments: &[BuiltSegment], timescale: u32, min_buffer: f64) -> u64 {
    let ts = f64::from(timescale);
    let mut best = 0.0f64;
    for i in 0..segments.len() {
        let start = segments[i].time as f64 / ts;
        let mut bits = 0.0;
        for s in &segments[i..] {
            bits += s.bytes as f64 * 8.0;
            let due = min_buffer + (s.time as f64 / ts - start);
            if due > 0.0 {
                best = best.max(bits / due);
            }
        }
    }
    best.ceil() as u64
}
