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
        file: String,
        /// Box path from the top level, such as `moov/trak[2]/mdia/minf/stbl/stsz`.
        path: String,
        /// Absolute byte offset in the input where the problem was found.
        offset: u64,
        kind: Malformed,
    },
    /// The input is well-formed but uses something dashpack does not package.
    #[error("{file}: unsupported: {what}")]
    Unsupported { file: String, what: String },
    /// An audio or video track that cannot be carried: packaging the rest would lose it
    /// silently. Leave it out on purpose with [`crate::Options::skip`].
    #[error(
        "{file}: track {track} ({handler}, '{codec}') cannot be carried: {reason}; to \
         publish the other tracks without it, skip track {track}"
    )]
    UncarriedTrack {
        file: String,
        track: u32,
        /// Handler type: `vide` or `soun`.
        handler: String,
        /// Sample entry type, such as `vvc1` or `encv`.
        codec: String,
        reason: String,
    },
    /// No audio or video track that could be packaged.
    #[error("{file}: no audio or video track that dashpack can package{detail}")]
    NoTracks { file: String, detail: String },
    /// Reading the input or writing the output failed.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },
    /// The output folder already holds files and `force` was not set.
    #[error("output folder {} is not empty (use --force to replace its contents)", path.display())]
    OutputExists { path: PathBuf },
    /// Representations meant to switch seamlessly cannot share segment boundaries.
    #[error("segment boundaries cannot be aligned: {detail}")]
    Misaligned { detail: String },
    /// An option has a value dashpack cannot use.
    #[error("invalid option {name}: {reason}")]
    InvalidOption { name: &'static str, reason: String },
    /// The caller asked to stop.
    #[error("cancelled")]
    Cancelled,
}

/// What exactly is wrong with a malformed input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Malformed {
    #[error("truncated: {needed} bytes needed, {available} available")]
    Truncated { needed: u64, available: u64 },
    #[error("invalid box size {size}")]
    BadBoxSize { size: u64 },
    #[error("box of {size} bytes runs past its parent, which ends at byte {parent_end}")]
    PastParent { size: u64, parent_end: u64 },
    #[error("box of {size} bytes runs past the end of the file ({file_len} bytes)")]
    PastEndOfFile { size: u64, file_len: u64 },
    #[error("boxes nested deeper than {limit} levels")]
    TooDeep { limit: usize },
    #[error("required box {0} is missing")]
    Missing(&'static str),
    #[error("box {0} appears more than once")]
    Duplicate(&'static str),
    #[error("invalid {field}: {value}")]
    InvalidField { field: &'static str, value: i64 },
    #[error("{table} describes {found} samples, the track has {expected}")]
    CountMismatch {
        table: &'static str,
        expected: u64,
        found: u64,
    },
    #[error(
        "sample {sample} ({size} bytes at byte {data_offset}) lies past the end of the file ({file_len} bytes)"
    )]
    SampleOutOfFile {
        sample: u32,
        data_offset: u64,
        size: u32,
        file_len: u64,
    },
    #[error("not an ISO BMFF / MP4 file (first box type {found:?})")]
    NotMp4 { found: String },
    #[error("{what} exceeds the limit of {limit}")]
    Limit { what: &'static str, limit: u64 },
    /// The coded data inside a sample, read to encrypt it, does not parse.
    #[error("sample {sample}: {detail}")]
    Bitstream { sample: u32, detail: String },
}

impl Error {
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

pub type Result<T, E = Error> = std::result::Result<T, E>;
