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

/// The first sample entry of an `stsd` (after its version, flags and entry count).
#[cfg(feature = "transcode")]
fn first_entry<'a>(
    stsd: &crate::mp4::header::Bx<'a>,
) -> std::result::Result<crate::mp4::header::Bx<'a>, String> {
    stsd.children_after(8)
        .next()
        .ok_or("no sample entry")?
        .map_err(box_err)
}

/// A box of dashpack's own (or a source's, read again) that does not read back, said
/// with its path and offset.
#[cfg(feature = "transcode")]
fn box_err(e: crate::error::BoxError) -> String {
    format!("{} at byte {}: {}", e.path, e.offset, e.kind)
}
