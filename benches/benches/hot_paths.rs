//! The packager's hot paths: reading and walking sample tables, writing a segment
//! header, writing the MPD, and packaging a whole clip into memory.
#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use dashpack::{Input, Options, Sink, bench};

/// A fixture held in memory, and its size.
fn fixture(name: &str) -> (Input, u64) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures")
        .join(name);
    let bytes = std::fs::read(path).unwrap();
    let len = bytes.len() as u64;
    let input = Input::from_bytes(name, bytes);
    (input, len)
}

/// Counts bytes and drops them: packaging cost without the file system.
struct Discard;

impl Sink for Discard {
    fn put(&self, _path: &str, data: &[u8]) -> std::io::Result<()> {
        black_box(data);
        Ok(())
    }
}

fn sample_tables(c: &mut Criterion) {
    let (input, _) = fixture("h264_aac.mp4");
    let samples = bench::read_sample_tables(&input).unwrap();
    let mut g = c.benchmark_group("sample_tables");
    g.throughput(Throughput::Elements(samples));
    g.bench_function("read_and_check", |b| {
        b.iter(|| bench::read_sample_tables(black_box(&input)).unwrap())
    });
    g.bench_function("walk_cursor", |b| {
        b.iter(|| bench::walk_samples(black_box(&input)).unwrap())
    });
    g.finish();
}

fn segment_header(c: &mut Criterion) {
    let mut buf = Vec::with_capacity(1 << 16);
    let mut g = c.benchmark_group("segment_header");
    g.throughput(Throughput::Elements(120));
    g.bench_function("moof_trun_120_samples", |b| {
        b.iter(|| bench::segment_header(black_box(&mut buf), 120))
    });
    g.finish();
}

fn mpd(c: &mut Criterion) {
    c.bench_function("mpd/5_reps_x_900_segments", |b| {
        b.iter(|| bench::write_mpd(black_box(5), black_box(900)))
    });
}

fn package(c: &mut Criterion) {
    let (input, len) = fixture("h264_aac.mp4");
    let options = Options::default();
    let mut g = c.benchmark_group("package");
    g.throughput(Throughput::Bytes(len));
    g.bench_function("h264_aac_to_memory", |b| {
        b.iter(|| {
            dashpack::package(
                std::slice::from_ref(&input),
                &Discard,
                &options,
                &dashpack::RunControl::default(),
            )
            .unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, sample_tables, segment_header, mpd, package);
criterion_main!(benches);
