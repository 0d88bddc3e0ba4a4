//! Media no player takes, or too much of it for a slow link, made into what players
//! take: PCM audio encoded to Opus (`opus`, libopus, built with the library by default)
//! and the ABR ladder, the source video decoded once and encoded to H.264 renditions
//! (`video`, FFmpeg's libraries, with the `transcode` feature).

#[cfg(feature = "opus")]
pub(crate) mod opus;
#[cfg(feature = "transcode")]
pub(crate) mod video;
