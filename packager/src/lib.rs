//! # dashpack
//!
//! An MPEG-DASH packager: progressive MP4 (ISO BMFF) in, fragmented-MP4 segments and a
//! static MPD out. Media data is read by positional reads and never loaded whole;
//! tracks are segmented in parallel; the MPD is written last.
//!
//! ```no_run
//! let presentation = dashpack::package_files(
//!     &["input.mp4"],
//!     "out",
//!     &dashpack::Options::default(),
//! )?;
//! println!("{} with {} representations", presentation.mpd, presentation.representations.len());
//! # Ok::<(), dashpack::Error>(())
//! ```
//!
//! For inputs that are not local files, implement [`Source`]; to send output somewhere
//! other than a folder, implement [`Sink`] and call [`package`].

#[cfg(feature = "bench")]
#[doc(hidden)]
pub mod bench;
mod carriage;
mod codec;
mod crypt;
mod described;
mod error;
mod hls;
mod lang;
pub mod layout;
mod limits;
mod mp4;
mod mpd;
mod options;
mod package;
mod presentation;
pub mod report;
mod segment;
mod sink;
mod source;
mod subtitles;
mod transcode;

pub use crypt::decrypt::DecryptionKey;
pub use crypt::{ClearKey, Encryption, EncryptionKey, EncryptionOptions, KeyScope, Pssh, Scheme};
pub use error::{Error, ErrorKind, Malformed, Result};
pub use layout::Timeline;
pub use options::{
    DEFAULT_SEGMENT_DURATION, Options, Profile, Progress, ProgressFn, RunControl,
    SEGMENT_DURATION_RANGE, TrackSelector,
};
pub use package::{
    inspect, package, package_files, package_inputs, package_inputs_with, package_with,
};
pub use presentation::{ContentType, MediaInfo, Presentation, Representation, TrackInfo};
pub use sink::{DirSink, MemorySink, Sink, SinkFile};
pub use source::{BytesSource, FileSource, Input, Source};
pub use subtitles::Subtitles;
