//! A real decoder reads each packaged presentation end to end: FFmpeg (the Debian
//! package) must decode the MPD with no error and produce exactly the input's video
//! frames, picture for picture, and every audio frame.
#![allow(clippy::unwrap_used)]

#[macro_use]
mod common;

use std::path::PathBuf;

use common::*;
use dashpack::Options;

fn out_dir(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("ffmpeg-{name}"))
}

fn decode(name: &str) {
    let input = fixture(name);
    let dir = out_dir(name);
    let options = Options::default().with_force(true);
    let p = dashpack::package_files(&[&input], &dir, &options).unwrap();
    let mpd = dir.join(&p.mpd);
    let tracks = read_input(&std::fs::read(&input).unwrap());
    if tracks.iter().any(|t| t.video) {
        let want = frame_hashes(&input, "0:v:0");
        let got = frame_hashes(&mpd, "0:v:0");
        assert_eq!(got.len(), want.len(), "{name}: decoded video frames");
        assert!(got == want, "{name}: decoded pictures differ");
    }
    if let Some(audio) = tracks.iter().find(|t| !t.video) {
        // FFmpeg's DASH reader does not apply presentationTimeOffset, so it also
        // decodes the priming frames the input's edit list hides: all packets.
        let got = frame_hashes(&mpd, "0:a:0");
        assert_eq!(
            got.len(),
            audio.samples.len(),
            "{name}: decoded audio frames"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

macro_rules! decode_tests {
    ($($test:ident => $file:literal),* $(,)?) => {$(
        #[test]
        fn $test() {
            decode($file);
        }
    )*};
}

for_each_fixture!(decode_tests);
