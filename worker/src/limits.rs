//! The worker's resource limits in one place: what a client of its HTTP endpoints or a
//! failure report can make it hold. (The packager's own limits on input are in
//! `dashpack`'s `limits` module.)

use std::time::Duration;

/// `/metrics` and `/healthz`: connections open at once.
#[cfg(feature = "worker")]
pub const METRICS_MAX_CONNECTIONS: usize = 32;
/// `/metrics` and `/healthz`: time a client has to send its request headers.
#[cfg(feature = "worker")]
pub const METRICS_HEADER_TIMEOUT: Duration = Duration::from_secs(5);
/// `/metrics` and `/healthz`: longest a connection stays open, keep-alive included.
#[cfg(feature = "worker")]
pub const METRICS_CONNECTION_LIFETIME: Duration = Duration::from_secs(30);

/// `dashpack preview`: connections served at once; more wait in the kernel's backlog.
pub const PREVIEW_MAX_CONNECTIONS: usize = 64;
/// `dashpack preview`: time a client has to send its request headers.
pub const PREVIEW_HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// Most JSON bytes of the original body a failure report carries.
#[cfg(feature = "worker")]
pub const REPORT_BODY_LIMIT: usize = 4096;
/// Most JSON bytes of error text a failure report carries.
#[cfg(feature = "worker")]
pub const REPORT_ERROR_LIMIT: usize = 2048;
