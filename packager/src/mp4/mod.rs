//! ISO BMFF (ISO/IEC 14496-12): reading progressive MP4 files and writing fragmented ones.

pub(crate) mod concat;
pub(crate) mod file;
pub(crate) mod fragments;
pub(crate) mod header;
pub(crate) mod moov;
pub(crate) mod sample_table;
pub(crate) mod timed_text;
pub(crate) mod write;
