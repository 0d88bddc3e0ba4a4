//! Closed captions found in the video's SEI, named for the manifests: each channel with
//! the language the options give it, or the video track's.

use crate::codec::captions::Captions;
use crate::options::Options;
use crate::{Error, Result};

/// Refuses a caption channel name that is neither `CC1`..`CC4` nor `SERVICE1`..`SERVICE63`,
/// and an empty or malformed language tag.
pub(super) fn check_options(options: &Options) -> Result<()> {
    for (channel, language) in &options.caption_languages {
        let known = match (channel.strip_prefix("CC"), channel.strip_prefix("SERVICE")) {
            (Some(n), _) => n.parse::<u8>().is_ok_and(|n| (1..=4).contains(&n)),
            (_, Some(n)) => n.parse::<u8>().is_ok_and(|n| (1..=63).contains(&n)),
            _ => false,
        };
        if !known {
            return Err(Error::InvalidOption {
                name: "caption_languages",
                reason: format!(
                    "{channel:?} is not a caption channel (CC1 to CC4, SERVICE1 to SERVICE63)"
                ),
            });
        }
        if !crate::lang::is_tag(language) {
            return Err(Error::InvalidOption {
                name: "caption_languages",
                reason: format!("{channel}: {language:?} is not a language tag"),
            });
        }
    }
    Ok(())
}

/// The channels `found`, each with its language: the one the options name, else
/// `track_language`.
pub(super) fn named(
    found: Captions,
    options: &Options,
    track_language: &str,
) -> Vec<(String, String)> {
    found
        .channels()
        .into_iter()
        .map(|channel| {
            let language = options
                .caption_languages
                .iter()
                .find(|(c, _)| *c == channel)
                .map_or_else(
                    || track_language.to_string(),
                    |(_, l)| crate::lang::shortest(l),
                );
            (channel, language)
        })
        .collect()
}

/// A warning for each channel the options name that no video carries.
pub(super) fn unfound(options: &Options, all: Captions, warnings: &mut Vec<String>) {
    let found = all.channels();
    for (channel, _) in &options.caption_languages {
        if !found.contains(channel) {
            warnings.push(format!(
                "caption channel {channel} has a language in the options but no video carries it"
            ));
        }
    }
}
