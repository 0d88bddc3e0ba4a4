//! The fuzz targets' bodies, shared by the cargo-fuzz binaries (nightly) and the corpus
//! replay test (stable). Each must return normally for any input: errors are fine,
//! panics, hangs and unbounded allocation are not.

use dashpack::bench::{RepDescription, write_mpd_for};
use dashpack::{Input, Options, Sink};

fn input(data: &[u8]) -> Input {
    Input::from_bytes("fuzz.mp4", data.to_vec())
}

/// Drops everything it is given.
struct Discard;

impl Sink for Discard {
    fn put(&self, _path: &str, data: &[u8]) -> std::io::Result<()> {
        std::hint::black_box(data);
        Ok(())
    }
}

/// The MP4 reader on arbitrary bytes: box scan, moov, sample tables, checks.
pub fn reader(data: &[u8]) {
    let _ = dashpack::inspect(&input(data), &Options::default());
}

/// The whole packaging path (reader, planner, segment writer, MPD) on mutated files.
/// The file's last byte picks the outputs too: encryption (cenc or cbcs, which parses
/// every slice header), the on-demand profile and HLS playlists.
pub fn package(data: &[u8]) {
    let pick = data.last().copied().unwrap_or(0);
    let scheme = if pick & 2 != 0 {
        dashpack::Scheme::Cbcs
    } else {
        dashpack::Scheme::Cenc
    };
    let key = "00112233445566778899aabbccddeeff:00112233445566778899aabbccddeeff";
    let options = Options::default()
        .with_segment_duration(1.0)
        .with_encryption((pick & 1 != 0).then(|| {
            dashpack::Encryption::new(scheme, vec![key.parse().expect("a valid key")])
                .with_clear_lead(f64::from(pick >> 6))
        }))
        .with_profile(if pick & 4 != 0 {
            dashpack::Profile::OnDemand
        } else {
            dashpack::Profile::Live
        })
        .with_hls(pick & 9 == 8);
    let _ = dashpack::package(
        &[input(data)],
        &Discard,
        &options,
        &dashpack::RunControl::default(),
    );
}

/// The MPD writer on arbitrary Representation descriptions.
pub fn mpd(data: &[u8]) {
    let mut bytes = Bytes(data);
    let count = bytes.u8() % 6;
    let mut reps = Vec::new();
    for _ in 0..count {
        let flags = bytes.u8();
        let timescale = bytes.u32();
        let pto = u64::from(bytes.u32());
        let n = bytes.u8() % 64;
        let mut time = u64::from(bytes.u32());
        let mut segments = Vec::new();
        for _ in 0..n {
            let duration = u64::from(bytes.u32());
            let size = u64::from(bytes.u32());
            segments.push((time, duration, size));
            // Mostly contiguous, sometimes with gaps or overlaps.
            time = match bytes.u8() % 4 {
                0 => time
                    .wrapping_add(duration)
                    .wrapping_add(u64::from(bytes.u8())),
                1 => time.wrapping_sub(u64::from(bytes.u8())),
                _ => time.wrapping_add(duration),
            };
        }
        reps.push(RepDescription {
            video: flags & 1 == 1,
            timescale,
            pto,
            segments,
        });
    }
    if let Some(xml) = write_mpd_for(&reps) {
        assert!(xml.starts_with("<?xml"), "not an XML document");
    }
}

/// The quality report's readers (MPD, init, segment, sidx) on arbitrary bytes.
pub fn report(data: &[u8]) {
    std::hint::black_box(dashpack_report::fuzz_parsers(data));
}

/// Reads integers off the fuzz input, zeros once it runs out.
struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn u8(&mut self) -> u8 {
        match self.0.split_first() {
            Some((b, rest)) => {
                self.0 = rest;
                *b
            }
            None => 0,
        }
    }

    fn u32(&mut self) -> u32 {
        u32::from_be_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// Replays every committed corpus file (and the malformed fixtures) through its
    /// target on stable Rust.
    fn replay(target: &str, run: fn(&[u8])) -> usize {
        let mut n = 0;
        let dirs = [
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("corpus")
                .join(target),
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/malformed"),
        ];
        for dir in &dirs[..if target == "mpd" { 1 } else { 2 }] {
            for entry in std::fs::read_dir(dir).expect("corpus folder") {
                let path = entry.expect("entry").path();
                if path.is_file() {
                    run(&std::fs::read(&path).expect("corpus file"));
                    n += 1;
                }
            }
        }
        n
    }

    #[test]
    fn reader_corpus() {
        assert!(replay("reader", super::reader) > 40);
    }

    #[test]
    fn package_corpus() {
        assert!(replay("package", super::package) > 40);
    }

    #[test]
    fn report_corpus() {
        assert!(replay("report", super::report) > 40);
    }

    #[test]
    fn mpd_corpus() {
        assert!(replay("mpd", super::mpd) > 0);
    }
}
