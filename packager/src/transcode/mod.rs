//! Media no player takes, or too much of it for a slow link, made into what players
//! take: PCM audio encoded to Opus (`opus`, libopus, built with the library by default);
//! with the `transcode` feature (FFmpeg's libraries), the ABR ladder, the source video
//! decoded once and encoded to H.264 renditions (`video`), and audio every browser
//! plays, AAC-LC (`aac`).

#[cfg(feature = "transcode")]
pub(crate) mod aac;
#[cfg(feature = "opus")]
pub(crate) mod opus;
#[cfg(feature = "transcode")]
pub(crate) mod video;
