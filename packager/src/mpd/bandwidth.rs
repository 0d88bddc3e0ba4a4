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
    // Rate `b` is enough when, for every j, the bits due by segment j since the worst
    // earlier start i stay within what `b` delivers: with C the bits before a segment,
    // max_j (C_{j+1} - b t_j) - min_{i<=j} (C_i - b t_i) <= b * min_buffer.
    let enough = |b: f64| {
        let mut bits = 0.0f64;
        let mut lowest = f64::INFINITY;
        for s in segments {
            let t = (s.time - t0.min(s.time)) as f64 / ts;
            lowest = lowest.min(bits - b * t);
            bits += s.bytes as f64 * 8.0;
            if bits - b * t - lowest > b * min_buffer {
                return false;
            }
        }
        true
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
