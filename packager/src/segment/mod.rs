//! Segmenting policy: one timeline for every track (timing), where to cut (plan), and
//! building each media segment from the input's bytes (build: read, transform, write).

pub(crate) mod build;
pub(crate) mod captions;
mod job;
pub(crate) mod plan;
mod read;
pub(crate) mod timing;
mod transform;
mod write;
