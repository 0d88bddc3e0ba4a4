//! A small safe Opus encoder over the vendored libopus (see `build.rs`): one stream
//! (mono or stereo) or several (a multistream encoder, for channel mapping family 1).
//!
//! Only what dashpack uses is bound: create, set the bit rate, read the look-ahead,
//! encode 32-bit float PCM. Everything else in libopus stays unexposed.

#![allow(unsafe_code)] // the FFI; every call below checks its lengths first

use std::ffi::{CStr, c_char, c_int};
use std::fmt;
use std::ptr::NonNull;

mod ffi {
    use std::ffi::{c_char, c_int, c_uchar};

    #[repr(C)]
    pub struct OpusEncoder {
        _private: [u8; 0],
    }
    #[repr(C)]
    pub struct OpusMSEncoder {
        _private: [u8; 0],
    }

    pub const OPUS_OK: c_int = 0;
    pub const OPUS_APPLICATION_AUDIO: c_int = 2049;
    pub const OPUS_SET_BITRATE_REQUEST: c_int = 4002;
    pub const OPUS_GET_LOOKAHEAD_REQUEST: c_int = 4027;

    unsafe extern "C" {
        pub fn opus_encoder_create(
            fs: i32,
            channels: c_int,
            application: c_int,
            error: *mut c_int,
        ) -> *mut OpusEncoder;
        pub fn opus_encoder_ctl(st: *mut OpusEncoder, request: c_int, ...) -> c_int;
        pub fn opus_encode_float(
            st: *mut OpusEncoder,
            pcm: *const f32,
            frame_size: c_int,
            data: *mut c_uchar,
            max_data_bytes: i32,
        ) -> i32;
        pub fn opus_encoder_destroy(st: *mut OpusEncoder);

        pub fn opus_multistream_encoder_create(
            fs: i32,
            channels: c_int,
            streams: c_int,
            coupled_streams: c_int,
            mapping: *const c_uchar,
            application: c_int,
            error: *mut c_int,
        ) -> *mut OpusMSEncoder;
        pub fn opus_multistream_encoder_ctl(st: *mut OpusMSEncoder, request: c_int, ...) -> c_int;
        pub fn opus_multistream_encode_float(
            st: *mut OpusMSEncoder,
            pcm: *const f32,
            frame_size: c_int,
            data: *mut c_uchar,
            max_data_bytes: i32,
        ) -> c_int;
        pub fn opus_multistream_encoder_destroy(st: *mut OpusMSEncoder);

        pub fn opus_strerror(error: c_int) -> *const c_char;
        pub fn opus_get_version_string() -> *const c_char;
    }
}

/// An error code from libopus, or a call this wrapper refused before reaching it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Error {
    code: c_int,
}

/// libopus's `OPUS_BAD_ARG`, used for arguments refused before any call.
const BAD_ARG: c_int = -1;

impl Error {
    /// The libopus error code (`OPUS_BAD_ARG` is -1, and so on).
    pub fn code(&self) -> i32 {
        self.code
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // SAFETY: opus_strerror returns a static NUL-terminated string for any code.
        let s = unsafe { CStr::from_ptr(ffi::opus_strerror(self.code)) };
        write!(f, "{} ({})", s.to_string_lossy(), self.code)
    }
}

impl std::error::Error for Error {}

fn check(code: c_int) -> Result<c_int, Error> {
    if code < ffi::OPUS_OK {
        Err(Error { code })
    } else {
        Ok(code)
    }
}

/// The vendored libopus's version string, e.g. `libopus 1.6.1`.
pub fn version() -> String {
    // SAFETY: a static NUL-terminated string.
    let s: *const c_char = unsafe { ffi::opus_get_version_string() };
    // SAFETY: as above; never null.
    unsafe { CStr::from_ptr(s) }.to_string_lossy().into_owned()
}

enum State {
    One(NonNull<ffi::OpusEncoder>),
    Multi(NonNull<ffi::OpusMSEncoder>),
}

/// An Opus encoder in the `OPUS_APPLICATION_AUDIO` mode.
pub struct Encoder {
    state: State,
    channels: usize,
}

// SAFETY: the encoder state is plain memory owned by this value; libopus keeps no
// thread-local or shared state for it.
unsafe impl Send for Encoder {}

impl Encoder {
    /// One stream, `channels` 1 or 2, at 8, 12, 16, 24 or 48 kHz.
    pub fn new(rate: u32, channels: u16) -> Result<Self, Error> {
        if !(1..=2).contains(&channels) {
            return Err(Error { code: BAD_ARG });
        }
        let rate = i32::try_from(rate).map_err(|_| Error { code: BAD_ARG })?;
        let mut err = 0;
        // SAFETY: plain values and a valid out pointer.
        let p = unsafe {
            ffi::opus_encoder_create(
                rate,
                c_int::from(channels),
                ffi::OPUS_APPLICATION_AUDIO,
                &mut err,
            )
        };
        check(err)?;
        let p = NonNull::new(p).ok_or(Error { code: BAD_ARG })?;
        Ok(Encoder {
            state: State::One(p),
            channels: usize::from(channels),
        })
    }

    /// Several streams (RFC 7845 5.1.1): `mapping` has one entry per channel, each a
    /// stream index (coupled streams first, two channels each) or 255 for silence.
    pub fn multistream(rate: u32, streams: u8, coupled: u8, mapping: &[u8]) -> Result<Self, Error> {
        let channels = mapping.len();
        if channels == 0 || channels > 255 || coupled > streams {
            return Err(Error { code: BAD_ARG });
        }
        let rate = i32::try_from(rate).map_err(|_| Error { code: BAD_ARG })?;
        let mut err = 0;
        // SAFETY: `mapping` holds `channels` bytes, as the call reads.
        let p = unsafe {
            ffi::opus_multistream_encoder_create(
                rate,
                channels as c_int,
                c_int::from(streams),
                c_int::from(coupled),
                mapping.as_ptr(),
                ffi::OPUS_APPLICATION_AUDIO,
                &mut err,
            )
        };
        check(err)?;
        let p = NonNull::new(p).ok_or(Error { code: BAD_ARG })?;
        Ok(Encoder {
            state: State::Multi(p),
            channels,
        })
    }

    /// The target bit rate in bits per second, for all streams together.
    pub fn set_bitrate(&mut self, bits_per_second: i32) -> Result<(), Error> {
        let r = match self.state {
            // SAFETY: a live state; the request takes one opus_int32 argument.
            State::One(p) => unsafe {
                ffi::opus_encoder_ctl(p.as_ptr(), ffi::OPUS_SET_BITRATE_REQUEST, bits_per_second)
            },
            // SAFETY: as above.
            State::Multi(p) => unsafe {
                ffi::opus_multistream_encoder_ctl(
                    p.as_ptr(),
                    ffi::OPUS_SET_BITRATE_REQUEST,
                    bits_per_second,
                )
            },
        };
        check(r).map(drop)
    }

    /// Samples per channel (at the encoder's rate) the encoder delays its output by:
    /// what an Ogg or MP4 file writes as pre-skip.
    pub fn lookahead(&mut self) -> Result<i32, Error> {
        let mut v: i32 = 0;
        let r = match self.state {
            // SAFETY: a live state; the request writes one opus_int32 through the pointer.
            State::One(p) => unsafe {
                ffi::opus_encoder_ctl(
                    p.as_ptr(),
                    ffi::OPUS_GET_LOOKAHEAD_REQUEST,
                    &mut v as *mut i32,
                )
            },
            // SAFETY: as above.
            State::Multi(p) => unsafe {
                ffi::opus_multistream_encoder_ctl(
                    p.as_ptr(),
                    ffi::OPUS_GET_LOOKAHEAD_REQUEST,
                    &mut v as *mut i32,
                )
            },
        };
        check(r)?;
        Ok(v)
    }

    /// Encodes one frame of interleaved samples (`pcm.len()` a multiple of the channel
    /// count, a legal Opus frame size per channel) into `out`; returns the packet length.
    pub fn encode_float(&mut self, pcm: &[f32], out: &mut [u8]) -> Result<usize, Error> {
        if !pcm.len().is_multiple_of(self.channels) {
            return Err(Error { code: BAD_ARG });
        }
        let frame =
            c_int::try_from(pcm.len() / self.channels).map_err(|_| Error { code: BAD_ARG })?;
        let max = i32::try_from(out.len()).unwrap_or(i32::MAX);
        let n = match self.state {
            // SAFETY: `pcm` holds frame * channels samples and `out` max bytes, as the
            // call reads and writes.
            State::One(p) => unsafe {
                ffi::opus_encode_float(p.as_ptr(), pcm.as_ptr(), frame, out.as_mut_ptr(), max)
            },
            // SAFETY: as above.
            State::Multi(p) => unsafe {
                ffi::opus_multistream_encode_float(
                    p.as_ptr(),
                    pcm.as_ptr(),
                    frame,
                    out.as_mut_ptr(),
                    max,
                )
            },
        };
        Ok(check(n)? as usize)
    }
}

impl Drop for Encoder {
    fn drop(&mut self) {
        match self.state {
            // SAFETY: created by opus_encoder_create, destroyed once.
            State::One(p) => unsafe { ffi::opus_encoder_destroy(p.as_ptr()) },
            // SAFETY: created by opus_multistream_encoder_create, destroyed once.
            State::Multi(p) => unsafe { ffi::opus_multistream_encoder_destroy(p.as_ptr()) },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_a_stereo_tone_with_the_vendored_library() {
        assert!(version().starts_with("libopus 1."), "{}", version());
        let mut e = Encoder::new(48_000, 2).expect("encoder");
        e.set_bitrate(128_000).expect("bitrate");
        let delay = e.lookahead().expect("lookahead");
        assert!(delay > 0 && delay < 1000, "{delay}");
        let pcm: Vec<f32> = (0..960 * 2)
            .map(|i| ((i / 2) as f32 * 0.05).sin() * 0.5)
            .collect();
        let mut out = vec![0u8; 1275];
        let n = e.encode_float(&pcm, &mut out).expect("encode");
        // A CELT/hybrid packet of a loud tone at 128 kbit/s is far more than the TOC byte.
        assert!(n > 100 && n <= 1275, "{n}");
        // Stereo TOC: bit 2 set.
        assert_eq!(out[0] & 0x04, 0x04);
    }

    #[test]
    fn refuses_what_libopus_would_misread() {
        assert!(Encoder::new(44_100, 2).is_err());
        assert!(Encoder::new(48_000, 3).is_err());
        let mut e = Encoder::new(48_000, 1).expect("encoder");
        let mut out = [0u8; 1275];
        // 961 samples is no Opus frame size.
        assert!(e.encode_float(&[0.0; 961], &mut out).is_err());
        let e = Encoder::multistream(48_000, 4, 2, &[0, 4, 1, 2, 3, 5]);
        assert!(e.is_ok());
        assert!(Encoder::multistream(48_000, 1, 2, &[0, 1]).is_err());
    }
}
