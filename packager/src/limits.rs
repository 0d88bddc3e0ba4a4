//! Every resource limit in one place: the sizes and counts beyond which hostile or
//! broken input is refused (`ErrorKind::Limit`) instead of read into memory or looped
//! over. Each is far above what real files need.

/// A `moov` larger than this is refused rather than read into memory.
pub(crate) const MAX_MOOV: u64 = 1 << 30;
/// Deepest box nesting followed; real files stay under ten.
pub(crate) const MAX_DEPTH: usize = 16;
/// A segment larger than this is refused: it would have to sit in memory whole.
pub(crate) const MAX_SEGMENT_BYTES: u64 = 1 << 31;
/// A subtitle file larger than this is refused (it is held in memory).
pub(crate) const MAX_SUBTITLE_BYTES: u64 = 64 << 20;
/// A caption track (`c608`) with more bytes than this is refused: its pairs are held in
/// memory with their times (4 Mi pairs: 38 hours at one pair a frame at 30 fps).
pub(crate) const MAX_CAPTION_BYTES: u64 = 8 << 20;
