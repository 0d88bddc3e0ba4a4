//! The one error type of the crate. Every variant says which file it is about and,
//! for malformed input, which box (as a path from the top level) and which byte offset.

use std::io;
use std::path::PathBuf;

/// Everything that can go wrong while reading, planning or writing a presentation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input is not a well-formed MP4 file.
    #[error("{file}: {path} at byte {offset}: {kind}")]
    Malformed {
        /// The input's name.
        file: String,
        /// Box path from the top level, such as `moov/trak[2]/mdia/minf/stbl/stsz`.
        path: String,
        /// Absolute byte offset in the input where the problem was found.
        offset: u64,
        /// What is wrong there.
        kind: Malformed,
    },
    /// The input is well-formed but uses something dashpack does not package.
    #[error("{file}: unsupported: {what}")]
    Unsupported {
        /// The input's name.
        file: String,
        /// What it uses.
        what: String,
    },
    /// An audio or video track that cannot be carried: packaging the rest would lose it
    /// silently. Leave it out on purpose with [`crate::Options::skip`].
    #[error(
        "{file}: track {track} ({handler}, '{codec}') cannot be carried: {reason}; to \
         publish the other tracks without it, skip track {track}"
    )]
    UncarriedTrack {
        /// The input's name.
        file: String,
        /// The track's `tkhd` track ID.
        track: u32,
        /// Handler type: `vide` or `soun`.
        handler: String,
        /// Sample entry type, such as `vvc1` or `encv`.
        codec: String,
        /// Why it cannot be carried.
        reason: String,
    },
    /// No audio or video track that could be packaged.
    #[error("{file}: no audio or video track that dashpack can package{detail}")]
    NoTracks {
        /// The input's name.
        file: String,
        /// The tracks found and why each was left out, when there were any.
        detail: String,
    },
    /// Reading the input or writing the output failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being read or written.
        context: String,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// The output folder already holds files and `force` was not set.
    #[error("output folder {} is not empty and force is not set", path.display())]
    OutputExists {
        /// The output folder.
        path: PathBuf,
    },
    /// Representations meant to switch seamlessly cannot share segment boundaries.
    #[error("segment boundaries cannot be aligned: {detail}")]
    Misaligned {
        /// Which Representations and where.
        detail: String,
    },
    /// An option has a value dashpack cannot use.
    #[error("invalid option {name}: {reason}")]
    InvalidOption {
        /// The option, by its name in [`crate::Options`] (or the input it concerns).
        name: &'static str,
        /// Why it cannot be used.
        reason: String,
    },
    /// The caller asked to stop.
    #[error("cancelled")]
    Cancelled,
    /// Something that cannot happen did (a serialiser or the thread pool failed): a bug
    /// in dashpack, never worth retrying.
    #[error("internal error: {what}")]
    Internal {
        /// What failed.
        what: String,
    },
}

/// What kind of failure an [`Error`] is: the one thing front ends (the C status, the
/// Python exception, the worker's retry decision) decide on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The input is malformed or holds nothing to package.
    Input,
    /// The input is well-formed but uses something dashpack does not package.
    Unsupported,
    /// The input exceeds one of dashpack's resource limits.
    Limit,
    /// An option has a value dashpack cannot use.
    Option,
    /// The output folder cannot be used as asked (not empty without `force`).
    Output,
    /// Reading or writing failed in the operating system: may succeed when tried again.
    Io,
    /// The caller asked to stop.
    Cancelled,
    /// A bug in dashpack.
    Internal,
}

impl ErrorKind {
    /// Every kind, for tables that must cover them all (a slice: kinds may be added).
    pub fn all() -> &'static [ErrorKind] {
        &[
            ErrorKind::Input,
            ErrorKind::Unsupported,
            ErrorKind::Limit,
            ErrorKind::Option,
            ErrorKind::Output,
            ErrorKind::Io,
            ErrorKind::Cancelled,
            ErrorKind::Internal,
        ]
    }
}

/// What exactly is wrong with a malformed input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Malformed {
    /// Fewer bytes than a field or box needs.
    #[error("truncated: {needed} bytes needed, {available} available")]
    Truncated {
        /// Bytes needed.
        needed: u64,
        /// Bytes there.
        available: u64,
    },
    /// A box size smaller than its header.
    #[error("invalid box size {size}")]
    BadBoxSize {
        /// The size given.
        size: u64,
    },
    /// A box larger than the box holding it.
    #[error("box of {size} bytes runs past its parent, which ends at byte {parent_end}")]
    PastParent {
        /// The box's size.
        size: u64,
        /// Where its parent ends.
        parent_end: u64,
    },
    /// A box larger than what is left of the file.
    #[error("box of {size} bytes runs past the end of the file ({file_len} bytes)")]
    PastEndOfFile {
        /// The box's size.
        size: u64,
        /// The file's size.
        file_len: u64,
    },
    /// Boxes nested deeper than any real file nests them.
    #[error("boxes nested deeper than {limit} levels")]
    TooDeep {
        /// The deepest nesting followed.
        limit: usize,
    },
    /// A box the specification requires is not there.
    #[error("required box {0} is missing")]
    Missing(&'static str),
    /// A box allowed once appears again.
    #[error("box {0} appears more than once")]
    Duplicate(&'static str),
    /// A field holds a value that cannot be used.
    #[error("invalid {field}: {value}")]
    InvalidField {
        /// The field.
        field: &'static str,
        /// Its value.
        value: i64,
    },
    /// The sample tables disagree on how many samples the track has.
    #[error("{table} describes {found} samples, the track has {expected}")]
    CountMismatch {
        /// The table that disagrees.
        table: &'static str,
        /// Samples the track has.
        expected: u64,
        /// Samples the table describes.
        found: u64,
    },
    /// A sample the tables place past the end of the file.
    #[error(
        "sample {sample} ({size} bytes at byte {data_offset}) lies past the end of the file ({file_len} bytes)"
    )]
    SampleOutOfFile {
        /// The sample's number, from 1.
        sample: u32,
        /// Where the table says it starts.
        data_offset: u64,
        /// Its size.
        size: u32,
        /// The file's size.
        file_len: u64,
    },
    /// The file does not start with an ISO BMFF box.
    #[error("not an ISO BMFF / MP4 file (first box type {found:?})")]
    NotMp4 {
        /// What the first bytes read as.
        found: String,
    },
    /// More than one of dashpack's resource limits allows ([`crate::ErrorKind::Limit`]).
    #[error("{what} exceeds the limit of {limit}")]
    Limit {
        /// What is counted.
        what: &'static str,
        /// The limit.
        limit: u64,
    },
    /// The coded data inside a sample, read to encrypt it, does not parse.
    #[error("sample {sample}: {detail}")]
    Bitstream {
        /// The sample's number, from 1.
        sample: u32,
        /// What does not parse.
        detail: String,
    },
}

impl Error {
    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Malformed {
                kind: Malformed::Limit { .. },
                ..
            } => ErrorKind::Limit,
            Error::Malformed { .. } | Error::NoTracks { .. } | Error::Misaligned { .. } => {
                ErrorKind::Input
            }
            Error::Unsupported { .. } | Error::UncarriedTrack { .. } => ErrorKind::Unsupported,
            Error::Io { .. } => ErrorKind::Io,
            Error::OutputExists { .. } => ErrorKind::Output,
            Error::InvalidOption { .. } => ErrorKind::Option,
            Error::Cancelled => ErrorKind::Cancelled,
            Error::Internal { .. } => ErrorKind::Internal,
        }
    }

    pub(crate) fn option(name: &'static str, reason: impl Into<String>) -> Self {
        Error::InvalidOption {
            name,
            reason: reason.into(),
        }
    }

    pub(crate) fn internal(what: impl Into<String>) -> Self {
        Error::Internal { what: what.into() }
    }

    pub(crate) fn io(context: impl Into<String>, source: io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }
}

/// A malformed-box error before the file name is attached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BoxError {
    pub path: String,
    pub offset: u64,
    pub kind: Malformed,
}

impl BoxError {
    pub(crate) fn new(path: impl Into<String>, offset: u64, kind: Malformed) -> Self {
        BoxError {
            path: path.into(),
            offset,
            kind,
        }
    }

    pub(crate) fn in_file(self, file: &str) -> Error {
        Error::Malformed {
            file: file.to_string(),
            path: self.path,
            offset: self.offset,
            kind: self.kind,
        }
    }
}

/// The result of every fallible call of the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_has_its_kind() {
        let malformed = |kind| Error::Malformed {
            file: "f".into(),
            path: "moov".into(),
            offset: 0,
            kind,
        };
        let cases = [
            (malformed(Malformed::Missing("moov")), ErrorKind::Input),
            (
                malformed(Malformed::Limit {
                    what: "x",
                    limit: 1,
                }),
                ErrorKind::Limit,
            ),
            (
                Error::NoTracks {
                    file: "f".into(),
                    detail: String::new(),
                },
                ErrorKind::Input,
            ),
            (
                Error::Misaligned {
                    detail: String::new(),
                },
                ErrorKind::Input,
            ),
            (
                Error::Unsupported {
                    file: "f".into(),
                    what: "x".into(),
                },
                ErrorKind::Unsupported,
            ),
            (
                Error::UncarriedTrack {
                    file: "f".into(),
                    track: 1,
                    handler: "vide".into(),
                    codec: "s263".into(),
                    reason: "x".into(),
                },
                ErrorKind::Unsupported,
            ),
            (Error::io("x", io::Error::other("y")), ErrorKind::Io),
            (Error::OutputExists { path: "o".into() }, ErrorKind::Output),
            (Error::option("timeline", "x"), ErrorKind::Option),
            (Error::Cancelled, ErrorKind::Cancelled),
            (Error::internal("x"), ErrorKind::Internal),
        ];
        for (e, kind) in cases {
            assert_eq!(e.kind(), kind, "{e}");
        }
        // The public parsers say which option is wrong, typed.
        let e = "sometimes".parse::<crate::Timeline>().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Option);
        assert!(e.to_string().contains("timeline"), "{e}");
        let e = crate::Pssh::from_base64("!!").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Option);
    }
}
