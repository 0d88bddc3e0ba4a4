//! The command line's text forms of inputs and subtitles (mp4dash's), read into the
//! library's types.

/// A path, or `[+language=fr]path` (mp4dash's selector form) to give every track of the
/// input that language.
pub fn input(spec: &str) -> dashpack::Result<dashpack::Input> {
    match spec
        .strip_prefix("[+language=")
        .and_then(|r| r.split_once(']'))
    {
        Some((lang, path)) => Ok(dashpack::Input::open(path)?.with_language(lang)),
        None => dashpack::Input::open(spec),
    }
}

/// `FILE:LANG` (the form `--subtitles` takes): the file, and the language after the
/// last colon, so a path may hold colons itself.
pub fn subtitles(spec: &str) -> dashpack::Result<dashpack::Subtitles> {
    let (file, lang) = spec
        .rsplit_once(':')
        .filter(|(f, l)| !f.is_empty() && !l.is_empty())
        .ok_or_else(|| dashpack::Error::InvalidOption {
            name: "subtitles",
            reason: format!("{spec:?}: expected FILE:LANG"),
        })?;
    dashpack::Subtitles::open(file, lang)
}

/// `--caption-language CHANNEL=LANG`: the library checks the channel and the tag.
pub fn caption_language(spec: &str) -> Result<(String, String), String> {
    match spec.split_once('=') {
        Some((channel, lang)) if !channel.is_empty() && !lang.is_empty() => {
            Ok((channel.to_ascii_uppercase(), lang.to_string()))
        }
        _ => Err(format!("{spec:?}: expected CHANNEL=LANG, such as CC1=en")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_name_the_file() {
        // The language is after the last colon; the path may hold colons.
        let e = subtitles("no-language").unwrap_err();
        assert_eq!(e.kind(), dashpack::ErrorKind::Option);
        let e = subtitles("dir:with:colons.vtt:en").unwrap_err();
        assert_eq!(e.kind(), dashpack::ErrorKind::Io);
        assert!(e.to_string().contains("dir:with:colons.vtt"), "{e}");
        let e = input("[+language=fr]missing.mp4").unwrap_err();
        assert!(
            e.to_string().contains("missing.mp4") && !e.to_string().contains('['),
            "{e}"
        );
    }
}
