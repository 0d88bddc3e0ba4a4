//! Several audio tracks: none is dropped; tracks of one file that share a language are
//! different programmes (main, commentary), so each gets its own AdaptationSet, with
//! `Role` main for the first and alternate for the others; an input's language can be
//! overridden. Read back with dash-mpd.
#![allow(clippy::unwrap_used)]

#[macro_use]
mod common;

use common::*;
use dashpack::{Input, MemorySink, Options};

fn audio_sets(inputs: &[Input]) -> Vec<(String, Vec<String>, String)> {
    let sink = MemorySink::new();
    let p = dashpack::package(
        inputs,
        &sink,
        &Options::default(),
        &dashpack::RunControl::default(),
    )
    .unwrap();
    let files = sink.into_files();
    let mpd = dash_mpd::parse(std::str::from_utf8(&files[&p.mpd]).unwrap()).unwrap();
    mpd.periods[0]
        .adaptations
        .iter()
        .filter(|a| a.contentType.as_deref() == Some("audio"))
        .map(|a| {
            (
                a.lang.clone().unwrap(),
                a.representations
                    .iter()
                    .map(|r| r.id.clone().unwrap())
                    .collect(),
                a.Role[0].value.clone().unwrap(),
            )
        })
        .collect()
}

#[test]
fn every_audio_track_gets_its_own_set() {
    let sets = audio_sets(&[Input::open(fixture("languages.mp4")).unwrap()]);
    assert_eq!(
        sets,
        [
            (
                "en".to_string(),
                vec!["audio-1".to_string()],
                "main".to_string()
            ),
            (
                "en".to_string(),
                vec!["audio-2".to_string()],
                "alternate".to_string()
            ),
            (
                "fr".to_string(),
                vec!["audio-3".to_string()],
                "alternate".to_string()
            ),
        ]
    );
}

#[test]
fn a_second_input_is_a_rung_of_the_first_ones_sets_and_languages_can_be_set() {
    // audio_only.m4a says "und"; given "en" it joins the first English set as a second
    // bitrate, as a ladder input would.
    let sets = audio_sets(&[
        Input::open(fixture("languages.mp4")).unwrap(),
        Input::open(fixture("audio_only.m4a"))
            .unwrap()
            .with_language("eng"),
    ]);
    assert_eq!(sets[0].0, "en");
    assert_eq!(sets[0].1, ["audio-1", "audio-4"]);
    assert_eq!(sets.len(), 3);
    // Overriding a whole input's language moves all its tracks.
    let sets = audio_sets(&[Input::open(fixture("languages.mp4"))
        .unwrap()
        .with_language("de")]);
    assert!(sets.iter().all(|s| s.0 == "de"), "{sets:?}");
    assert_eq!(sets.len(), 3, "still three programmes");
}
