//! Seeded random corruption of a good file's `moov`: every variant must come back as
//! a result (a presentation or a typed error), never a panic. A small, always-on
//! stand-in for fuzzing.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use dashpack::{Input, MemorySink, Options};

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn corrupted_moov_never_panics() {
    let good = std::fs::read(fixture("h264_aac.mp4")).unwrap();
    let (start, end) = top_level(&good)
        .into_iter()
        .find(|b| &b.0 == b"moov")
        .map(|b| (b.1, b.2))
        .unwrap();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let (mut ok, mut err) = (0, 0);
    // MUTATIONS=N runs more variants locally; CI runs the default.
    let n: usize = std::env::var("MUTATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000);
    for i in 0..n {
        let mut bytes = good.clone();
        for _ in 0..1 + rng.below(4) {
            let at = start + rng.below(end - start);
            bytes[at] = match rng.below(4) {
                0 => 0,
                1 => 0xFF,
                2 => bytes[at] ^ (1 << rng.below(8)),
                _ => rng.next() as u8,
            };
        }
        let result = std::panic::catch_unwind(|| {
            let sink = MemorySink::new();
            dashpack::package(
                &[Input::from_bytes("m.mp4", bytes)],
                &sink,
                &Options::default(),
                &dashpack::RunControl::default(),
            )
            .map(|_| ())
        });
        match result {
            Ok(Ok(())) => ok += 1,
            Ok(Err(e)) => {
                assert!(
                    e.to_string().starts_with("m.mp4"),
                    "variant {i}: error does not name the file: {e}"
                );
                err += 1;
            }
            Err(_) => panic!("variant {i} panicked"),
        }
    }
    // Both outcomes occur: corruption inside sample data fields is often harmless.
    assert!(ok > 0 && err > 0, "ok {ok}, err {err}");
}
