//! Segmenting policy: one timeline for every track (timing), where to cut (plan), and
//! building each media segment from the input's bytes (build).

pub(crate) mod build;
pub(crate) mod plan;
pub(crate) mod timing;
