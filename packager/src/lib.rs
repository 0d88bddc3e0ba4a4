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

#![warn(missing_docs)]

#[cfg(feature = "bench")]
#[doc(hidden)]
pub mod bench;
mod carriage;
mod codec;
mod crypt;
mod described;
mod error;
mod hls;
mod ladder;
mod lang;
pub mod layout;
mod limits;
mod mp4;
mod mpd;
mod options;
mod package;
mod presentation;
mod segment;
mod sink;
mod source;
mod subtitles;
mod transcode;

pub use crypt::{ClearKey, DecryptionKey, Encryption, EncryptionKey, KeyScope, Pssh, Scheme};
pub use error::{Error, ErrorKind, Malformed, Result};
pub use ladder::Ladder;
pub use layout::{ContentType, Timeline};
pub use options::{Options, Profile, Progress, RunControl, TrackSelector};
pub use package::{inspect, package, package_files};
pub use presentation::{MediaInfo, Presentation, Representation, TrackInfo};
pub use sink::{DirSink, MemorySink, Sink, SinkFile};
pub use source::{Input, Source};
pub use subtitles::Subtitles;
