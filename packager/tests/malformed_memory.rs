//! Peak memory over the whole malformed corpus stays small: a file that claims a
//! billion samples in a few kilobytes fails before allocating for them. One test in its
//! own binary, so no other test shares the process's peak.
#![allow(clippy::unwrap_used)]

mod common;

use dashpack::{Input, MemorySink, Options};

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[test]
fn the_corpus_never_needs_64_mib() {
    let dir = common::fixtures_dir().join("malformed");
    let mut files = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "mp4") {
            let sink = MemorySink::new();
            let _ = Input::open(&path).and_then(|input| {
                dashpack::package(
                    &[input],
                    &sink,
                    &Options::default(),
                    &dashpack::RunControl::default(),
                )
            });
            files += 1;
        }
    }
    let peak = peak_rss_kib();
    eprintln!("{files} files, peak RSS {peak} KiB");
    assert!(files >= 40);
    assert!(peak < 64 * 1024, "peak RSS {peak} KiB");
}
