//! ISO BMFF (ISO/IEC 14496-12): reading progressive MP4 files and writing fragmented ones.

pub(crate) mod cenc;
pub(crate) mod file;
pub(crate) mod fragments;
pub(crate) mod header;
pub(crate) mod moov;
pub(crate) mod sample_table;
pub(crate) mod write;
