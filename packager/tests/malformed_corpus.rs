//! The committed malformed corpus (`fixtures/malformed/`, made by `make.py` from one good
//! seed): every file fails with the error kind `expected.tsv` gives it, the message names
//! the file (and, for broken boxes, the box path and byte offset), and nothing is
//! written.
#![allow(clippy::unwrap_used)]

mod common;

use dashpack::{Error, Input, Malformed, MemorySink, Options};

fn corpus() -> Vec<(String, String, String)> {
    common::expected_tsv(&common::fixtures_dir().join("malformed/expected.tsv"))
}

#[test]
fn every_corpus_file_fails_with_its_own_kind() {
    let corpus = corpus();
    assert!(corpus.len() >= 40, "only {} files", corpus.len());
    let dir = common::fixtures_dir().join("malformed");
    let mut wrong = Vec::new();
    for (name, want, what) in &corpus {
        let path = dir.join(name);
        let sink = MemorySink::new();
        let result = Input::open(&path).and_then(|input| {
            dashpack::package(
                &[input],
                &sink,
                &Options::default(),
                &dashpack::RunControl::default(),
            )
        });
        let Err(e) = result else {
            wrong.push(format!("{name} ({what}): packaged without an error"));
            continue;
        };
        // Sample data is checked while segments are written (reading it twice would
        // double the I/O): a bad sample may follow finished segments, but the MPD, which
        // makes a presentation, is never written. Everything else is found first.
        let files = sink.into_files();
        if matches!(
            e,
            Error::Malformed {
                kind: Malformed::Bitstream { .. },
                ..
            }
        ) {
            assert!(
                !files.keys().any(|f| f.ends_with(".mpd")),
                "{name}: MPD written"
            );
        } else {
            assert!(files.is_empty(), "{name}: output written");
        }
        let text = e.to_string();
        assert!(
            text.contains(name.as_str()),
            "{name}: message does not name the file: {text}"
        );
        if let Error::Malformed { path, .. } = &e {
            assert!(!path.is_empty(), "{name}: no box path: {text}");
            assert!(text.contains("at byte"), "{name}: no offset: {text}");
        }
        let got = common::error_kind(&e);
        if &got != want {
            wrong.push(format!(
                "{name} ({what}): expected {want}, got {got}: {text}"
            ));
        }
    }
    assert!(wrong.is_empty(), "\n{}", wrong.join("\n"));
}

#[test]
fn the_kinds_are_specific() {
    let kinds: std::collections::BTreeSet<String> =
        corpus().into_iter().map(|(_, kind, _)| kind).collect();
    assert!(kinds.len() >= 10, "{kinds:?}");
}

#[test]
fn the_seed_itself_packages() {
    let seed = common::fixtures_dir().join("malformed/seed.mp4");
    let sink = MemorySink::new();
    let p = dashpack::package(
        &[Input::open(&seed).unwrap()],
        &sink,
        &Options::default(),
        &dashpack::RunControl::default(),
    )
    .unwrap();
    assert_eq!(p.representations.len(), 2);
}
