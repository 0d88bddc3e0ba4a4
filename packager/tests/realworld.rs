//! The real-world corpus: `fixtures/realworld/` holds files other projects' muxers,
//! cameras and tools wrote (sources and licences in its README). Each one must end as
//! `expected.tsv` says, and a change of verdict fails:
//!
//! - `package`: packaged, and exact by FFmpeg's reading (`common::exact`): every audio
//!   and video track in the output (or its absence named in the reason), the same
//!   packets in and out, and FFmpeg decoding the MPD, which the MPEG-DASH schema
//!   validates.
//! - any other word: refused with that error (a `Malformed` kind or an `Error` variant).
#![allow(clippy::unwrap_used)]

mod common;

use std::path::PathBuf;

use dashpack::{Input, Options};

fn corpus_dir() -> PathBuf {
    common::fixtures_dir().join("realworld")
}

/// (file, verdict, reason) from `expected.tsv`.
fn expected() -> Vec<(String, String, String)> {
    common::expected_tsv(&corpus_dir().join("expected.tsv"))
}

#[test]
fn every_real_world_file_ends_as_expected() {
    let list = expected();
    let on_disk: Vec<String> = std::fs::read_dir(corpus_dir())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.ends_with(".md") && !n.ends_with(".tsv"))
        .collect();
    for n in &on_disk {
        assert!(
            list.iter().any(|(f, _, _)| f == n),
            "{n} has no verdict in expected.tsv"
        );
    }
    let scratch = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("realworld");
    let _ = std::fs::remove_dir_all(&scratch);
    let mut wrong = Vec::new();
    let (mut packaged, mut refused) = (0, 0);
    for (name, verdict, reason) in &list {
        let path = corpus_dir().join(name);
        let out = scratch.join(name);
        let options = Options::default().with_force(true);
        let result = Input::open(&path).and_then(|i| {
            let sink = dashpack::DirSink::create(&out, options.force)?;
            let p = dashpack::package(&[i], &sink, &options, &dashpack::RunControl::default())?;
            sink.commit()?;
            Ok(p)
        });
        match (result, verdict.as_str()) {
            (Ok(p), "package") => match common::exact::check(name, reason, &path, &out, &p) {
                Ok(()) => match common::mpd_schema_error(&out.join(&p.mpd)) {
                    None => packaged += 1,
                    Some(why) => wrong.push(format!("{name}: MPD not valid by the schema: {why}")),
                },
                Err(why) => wrong.push(format!("{name}: packaged but not exact: {why}")),
            },
            (Ok(_), want) => wrong.push(format!("{name}: packaged, expected {want} ({reason})")),
            (Err(e), want) => {
                let got = common::error_kind(&e);
                let text = e.to_string();
                if got != want {
                    wrong.push(format!(
                        "{name}: expected {want} ({reason}), got {got}: {text}"
                    ));
                } else if !text.contains(name.as_str()) {
                    wrong.push(format!("{name}: the error does not name the file: {text}"));
                } else if out.exists() {
                    wrong.push(format!("{name}: refused but an output folder exists"));
                } else {
                    refused += 1;
                }
            }
        }
    }
    eprintln!(
        "real-world corpus: {packaged} packaged exactly (MPD schema-valid), {refused} refused \
         as expected, {} wrong",
        wrong.len()
    );
    assert!(wrong.is_empty(), "\n{}", wrong.join("\n"));
}
