//! The FFmpeg calls dashpack's ABR ladder makes, behind a small safe API: decode one
//! video stream, scale its pictures, encode them to H.264 with libx264 (and still
//! pictures to JPEG); decode audio and encode it to AAC-LC. Containers stay
//! dashpack's own: packets go in and come out as bytes with their times, never through
//! FFmpeg's demuxers or muxers.
//!
//! Linked from the system's FFmpeg (5.1 or later). A build with this crate is GPL, as
//! libx264 is.

#![allow(unsafe_code)] // reading and setting AVCodecContext fields the binding does not wrap

mod audio;
pub use audio::{AacEncoder, AudioCodec, AudioDecoder};

use std::fmt;
use std::sync::Once;

use ff::codec::{self, Context};
use ff::software::scaling;
use ff::util::frame;
use ff::{Dictionary, Packet, Rational, format, picture};
use ffmpeg_next as ff;

/// What FFmpeg said, with the step that failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error(String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

type Result<T> = std::result::Result<T, Error>;

fn fail(step: &str) -> impl Fn(ff::Error) -> Error + '_ {
    move |e| Error(format!("{step}: {e}"))
}

fn init() -> Result<()> {
    static INIT: Once = Once::new();
    let mut result = Ok(());
    INIT.call_once(|| {
        result = ff::init().map_err(fail("FFmpeg init"));
        // FFmpeg's own messages go to stderr; errors come back as values instead.
        ff::util::log::set_level(ff::util::log::Level::Fatal);
    });
    result
}

/// The video codecs a source can be decoded from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VideoCodec {
    H264,
    Hevc,
    Mpeg4,
    H263,
    Vp9,
    Av1,
    Mpeg2,
    Mpeg1,
    ProRes,
    Dv,
}

impl VideoCodec {
    fn id(self) -> codec::Id {
        match self {
            VideoCodec::H264 => codec::Id::H264,
            VideoCodec::Hevc => codec::Id::HEVC,
            VideoCodec::Mpeg4 => codec::Id::MPEG4,
            VideoCodec::H263 => codec::Id::H263,
            VideoCodec::Vp9 => codec::Id::VP9,
            VideoCodec::Av1 => codec::Id::AV1,
            VideoCodec::Mpeg2 => codec::Id::MPEG2VIDEO,
            VideoCodec::Mpeg1 => codec::Id::MPEG1VIDEO,
            VideoCodec::ProRes => codec::Id::PRORES,
            VideoCodec::Dv => codec::Id::DVVIDEO,
        }
    }
}

/// Sets a codec context's `extradata` (the decoder configuration: avcC, hvcC, ...).
fn set_extradata(ctx: &mut Context, data: &[u8]) -> Result<()> {
    if data.is_empty() {
        return Ok(());
    }
    let padded = data.len() + ff::ffi::AV_INPUT_BUFFER_PADDING_SIZE as usize;
    // SAFETY: av_mallocz gives `padded` zeroed bytes or null; the context owns and
    // frees them (avcodec_free_context), as FFmpeg requires of extradata.
    unsafe {
        let buf = ff::ffi::av_mallocz(padded) as *mut u8;
        if buf.is_null() {
            return Err(Error("out of memory for the decoder configuration".into()));
        }
        std::ptr::copy_nonoverlapping(data.as_ptr(), buf, data.len());
        let raw = ctx.as_mut_ptr();
        (*raw).extradata = buf;
        (*raw).extradata_size = data.len() as i32;
    }
    Ok(())
}

/// An opened encoder's global header (with GLOBAL_HEADER): H.264's SPS and PPS, AAC's
/// AudioSpecificConfig.
fn extradata(ctx: &Context) -> Vec<u8> {
    // SAFETY: after a successful open with GLOBAL_HEADER, extradata holds
    // extradata_size bytes owned by the context (or is null).
    unsafe {
        let raw = ctx.as_ptr();
        let len = usize::try_from((*raw).extradata_size).unwrap_or(0);
        if (*raw).extradata.is_null() || len == 0 {
            Vec::new()
        } else {
            std::slice::from_raw_parts((*raw).extradata, len).to_vec()
        }
    }
}

/// One decoded picture, shared read-only between the renditions that scale it.
pub struct Picture(frame::Video);

impl Picture {
    /// Presentation time, in the timescale the decoder was opened with.
    pub fn pts(&self) -> Option<i64> {
        self.0.timestamp().or(self.0.pts())
    }
    pub fn width(&self) -> u32 {
        self.0.width()
    }
    pub fn height(&self) -> u32 {
        self.0.height()
    }
    /// The pixel aspect ratio the bitstream gives, when it gives one.
    pub fn pixel_aspect(&self) -> Option<(u32, u32)> {
        let r = self.0.aspect_ratio();
        let (n, d) = (r.numerator(), r.denominator());
        (n > 0 && d > 0).then_some((n as u32, d as u32))
    }
}

/// A video decoder fed with one sample at a time, in decode order.
pub struct Decoder {
    dec: codec::decoder::Video,
}

impl Decoder {
    /// Opens the decoder for `codec` with its configuration record (`avcC`, `hvcC`, the
    /// `esds` decoder-specific info, ...); times are in ticks of `timescale`.
    pub fn new(codec: VideoCodec, config: &[u8], timescale: u32) -> Result<Self> {
        init()?;
        let found = codec::decoder::find(codec.id())
            .ok_or_else(|| Error(format!("FFmpeg has no {codec:?} decoder")))?;
        let mut ctx = Context::new_with_codec(found);
        set_extradata(&mut ctx, config)?;
        ctx.set_threading(codec::threading::Config::kind(
            codec::threading::Type::Frame,
        ));
        let mut dec = ctx.decoder();
        dec.set_packet_time_base(Rational::new(1, timescale as i32));
        let dec = dec
            .open_as(found)
            .and_then(|o| o.video())
            .map_err(fail("opening the decoder"))?;
        Ok(Decoder { dec })
    }

    /// Sends one sample; take every picture it frees with [`Decoder::receive`] before
    /// the next.
    pub fn send(&mut self, data: &[u8], pts: i64, dts: i64) -> Result<()> {
        let mut packet = Packet::copy(data);
        packet.set_pts(Some(pts));
        packet.set_dts(Some(dts));
        self.dec.send_packet(&packet).map_err(fail("decoding"))
    }

    /// No more samples: the pictures still held come out of [`Decoder::receive`].
    pub fn finish(&mut self) -> Result<()> {
        self.dec.send_eof().map_err(fail("decoding"))
    }

    /// The next decoded picture, or `None` when the decoder needs more input (or,
    /// after [`Decoder::finish`], has given everything).
    pub fn receive(&mut self) -> Result<Option<Picture>> {
        let mut f = frame::Video::empty();
        match self.dec.receive_frame(&mut f) {
            Ok(()) => Ok(Some(Picture(f))),
            Err(ff::Error::Eof) => Ok(None),
            Err(ff::Error::Other { errno }) if errno == ff::util::error::EAGAIN => Ok(None),
            Err(e) => Err(fail("decoding")(e)),
        }
    }
}

/// Quarter turns clockwise applied after scaling, for sources stored sideways.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Turn {
    #[default]
    None,
    Right,
    Half,
    Left,
}

/// Scales (and converts to 8-bit 4:2:0) pictures of one source to one size.
pub struct Scaler {
    ctx: Option<scaling::Context>,
    width: u32,
    height: u32,
    turn: Turn,
    format: format::Pixel,
}

impl Scaler {
    /// Pictures of `width` x `height` as shown, after `turn`, for a video encoder.
    pub fn new(width: u32, height: u32, turn: Turn) -> Self {
        Scaler {
            ctx: None,
            width,
            height,
            turn,
            format: format::Pixel::YUV420P,
        }
    }

    /// The same for still pictures ([`Tile`]): full-range 4:2:0, as JPEG has it.
    pub fn for_stills(width: u32, height: u32, turn: Turn) -> Self {
        Scaler {
            format: format::Pixel::YUVJ420P,
            ..Scaler::new(width, height, turn)
        }
    }

    /// The picture scaled; the scaler is set up on the first picture and again when the
    /// source's size or format changes.
    pub fn scale(&mut self, src: &Picture) -> Result<Frame> {
        let (w, h) = match self.turn {
            Turn::Right | Turn::Left => (self.height, self.width),
            Turn::None | Turn::Half => (self.width, self.height),
        };
        let s = &src.0;
        let stale = self.ctx.as_ref().is_none_or(|c| {
            let i = c.input();
            (i.format, i.width, i.height) != (s.format(), s.width(), s.height())
        });
        if stale {
            self.ctx = Some(
                scaling::Context::get(
                    s.format(),
                    s.width(),
                    s.height(),
                    self.format,
                    w,
                    h,
                    scaling::Flags::BICUBIC,
                )
                .map_err(fail("setting up the scaler"))?,
            );
        }
        let mut out = frame::Video::new(self.format, w, h);
        if let Some(ctx) = self.ctx.as_mut() {
            ctx.run(s, &mut out).map_err(fail("scaling"))?;
        }
        let out = match self.turn {
            Turn::None => out,
            turn => rotate(&out, turn),
        };
        Ok(Frame(out))
    }
}

/// A picture turned by quarter turns, plane by plane (4:2:0, 8-bit).
fn rotate(src: &frame::Video, turn: Turn) -> frame::Video {
    let (w, h) = (src.width() as usize, src.height() as usize);
    let (ow, oh) = match turn {
        Turn::Right | Turn::Left => (h, w),
        _ => (w, h),
    };
    let mut out = frame::Video::new(src.format(), ow as u32, oh as u32);
    for p in 0..3 {
        let (pw, ph) = if p == 0 {
            (w, h)
        } else {
            (w.div_ceil(2), h.div_ceil(2))
        };
        let (opw, oph) = if p == 0 {
            (ow, oh)
        } else {
            (ow.div_ceil(2), oh.div_ceil(2))
        };
        let (ss, os) = (src.stride(p), out.stride(p));
        let sdata = src.data(p);
        let odata = out.data_mut(p);
        for y in 0..oph {
            for x in 0..opw {
                let (sx, sy) = match turn {
                    Turn::Right => (y, ph - 1 - x),
                    Turn::Left => (pw - 1 - y, x),
                    Turn::Half => (pw - 1 - x, ph - 1 - y),
                    Turn::None => (x, y),
                };
                odata[y * os + x] = sdata[sy * ss + sx];
            }
        }
    }
    out
}

/// A picture ready for an encoder.
pub struct Frame(frame::Video);

impl Frame {
    pub fn width(&self) -> u32 {
        self.0.width()
    }
    pub fn height(&self) -> u32 {
        self.0.height()
    }
}

/// A grid of still pictures in one image (thumbnail tiles), full-range 4:2:0, black
/// where nothing is placed.
pub struct Tile(frame::Video);

impl Tile {
    pub fn new(width: u32, height: u32) -> Self {
        let mut f = frame::Video::new(format::Pixel::YUVJ420P, width, height);
        for (p, value) in [(0, 0u8), (1, 128), (2, 128)] {
            f.data_mut(p).fill(value);
        }
        Tile(f)
    }

    /// Copies `picture` (from [`Scaler::for_stills`]) with its top left corner at
    /// (`x`, `y`), both even; what falls outside the tile is cut off.
    pub fn place(&mut self, picture: &Frame, x: u32, y: u32) {
        let (src, dst) = (&picture.0, &mut self.0);
        for p in 0..3 {
            let shift = u32::from(p > 0);
            let (sw, sh) = (
                src.width().div_ceil(1 << shift) as usize,
                src.height().div_ceil(1 << shift) as usize,
            );
            let (dw, dh) = (
                dst.width().div_ceil(1 << shift) as usize,
                dst.height().div_ceil(1 << shift) as usize,
            );
            let (x, y) = ((x >> shift) as usize, (y >> shift) as usize);
            if x >= dw || y >= dh {
                continue;
            }
            let w = sw.min(dw - x);
            let (ss, ds) = (src.stride(p), dst.stride(p));
            let sdata = src.data(p);
            let ddata = dst.data_mut(p);
            for row in 0..sh.min(dh - y) {
                let to = (y + row) * ds + x;
                ddata[to..to + w].copy_from_slice(&sdata[row * ss..row * ss + w]);
            }
        }
    }

    /// The tile as a baseline JPEG; `quality` is FFmpeg's scale (2 best, 31 worst).
    pub fn jpeg(&mut self, quality: u32) -> Result<Vec<u8>> {
        init()?;
        let mjpeg = codec::encoder::find(codec::Id::MJPEG)
            .ok_or_else(|| Error("FFmpeg has no JPEG encoder".into()))?;
        let mut ctx = Context::new_with_codec(mjpeg);
        ctx.set_flags(codec::Flags::QSCALE);
        let mut enc = ctx.encoder().video().map_err(fail("the JPEG encoder"))?;
        enc.set_width(self.0.width());
        enc.set_height(self.0.height());
        enc.set_format(format::Pixel::YUVJ420P);
        enc.set_time_base(Rational::new(1, 25));
        // FF_QP2LAMBDA: the quantiser scale in lambda units.
        enc.set_global_quality(quality.clamp(2, 31) as i32 * 118);
        let mut enc = enc
            .open_as(mjpeg)
            .map_err(fail("opening the JPEG encoder"))?;
        self.0.set_pts(Some(0));
        enc.send_frame(&self.0).map_err(fail("encoding a JPEG"))?;
        enc.send_eof().map_err(fail("encoding a JPEG"))?;
        let mut p = Packet::empty();
        enc.receive_packet(&mut p)
            .map_err(fail("encoding a JPEG"))?;
        Ok(p.data().unwrap_or_default().to_vec())
    }
}

/// How one H.264 rendition is encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct H264Settings {
    pub width: u32,
    pub height: u32,
    /// Ticks per second of the times given with each frame.
    pub timescale: u32,
    /// The average frame rate (for rate control), as a fraction.
    pub frame_rate: (i32, i32),
    /// Average bit rate; the peak is capped at `max_rate` over `buffer` bits.
    pub bit_rate: u64,
    pub max_rate: u64,
    pub buffer: u64,
    /// x264's preset (`veryfast`, `medium`, ...).
    pub preset: String,
    /// Longest distance between keyframes, in frames.
    pub gop: u32,
    /// Encoder threads; 0 lets x264 choose (about 1.5 per core).
    pub threads: u32,
    /// Whether frames may be reordered (B-frames, as the preset has them); without,
    /// frames are decoded in the order they are shown.
    pub reorder: bool,
}

/// One encoded sample.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    /// The access unit, as Annex B (start codes), as libx264 writes it.
    pub data: Vec<u8>,
    pub pts: i64,
    pub key: bool,
}

/// An H.264 encoder (libx264) with closed GOPs and keyframes where asked.
pub struct H264Encoder {
    enc: codec::encoder::Video,
    parameter_sets: Vec<u8>,
    delay: u32,
}

impl fmt::Debug for H264Encoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("H264Encoder")
            .field("delay", &self.delay)
            .finish_non_exhaustive()
    }
}

impl H264Encoder {
    pub fn new(s: &H264Settings) -> Result<Self> {
        let e = Self::open(s, None)?;
        // x264 gives a very small picture level 1b, which High profile writes as
        // level_idc 9 and browsers' codec checks refuse (`avc1.640009`): level 1.1
        // instead, which holds everything 1b does.
        if e.level_idc() == Some(9) {
            return Self::open(s, Some("1.1"));
        }
        Ok(e)
    }

    /// The SPS's level_idc.
    fn level_idc(&self) -> Option<u8> {
        let at = self
            .parameter_sets
            .windows(4)
            .position(|w| w[..3] == [0, 0, 1] && w[3] & 0x1f == 7)?;
        // start code (3), NAL header, profile_idc, constraint flags, level_idc
        self.parameter_sets.get(at + 6).copied()
    }

    fn open(s: &H264Settings, level: Option<&str>) -> Result<Self> {
        init()?;
        let x264 = codec::encoder::find_by_name("libx264")
            .ok_or_else(|| Error("FFmpeg was built without libx264".into()))?;
        let mut ctx = Context::new_with_codec(x264);
        ctx.set_flags(codec::Flags::GLOBAL_HEADER);
        let mut enc = ctx.encoder().video().map_err(fail("the H.264 encoder"))?;
        enc.set_width(s.width);
        enc.set_height(s.height);
        enc.set_format(format::Pixel::YUV420P);
        enc.set_time_base(Rational::new(1, s.timescale as i32));
        enc.set_frame_rate(Some(Rational::new(s.frame_rate.0, s.frame_rate.1)));
        enc.set_gop(s.gop);
        enc.set_bit_rate(s.bit_rate as usize);
        enc.set_max_bit_rate(s.max_rate as usize);
        if !s.reorder {
            enc.set_max_b_frames(0);
        }
        // SAFETY: a plain field of the context this encoder owns, set before opening.
        unsafe {
            (*enc.as_mut_ptr()).rc_buffer_size = s.buffer.min(i32::MAX as u64) as i32;
        }
        let mut opts = Dictionary::new();
        opts.set("preset", &s.preset);
        // A keyframe asked for is an IDR (a segment start), never an open-GOP I frame.
        opts.set("forced-idr", "1");
        opts.set("threads", &s.threads.to_string());
        if let Some(level) = level {
            opts.set("level", level);
        }

        let enc = enc
            .open_as_with(x264, opts)
            .map_err(fail("opening the H.264 encoder"))?;
        let parameter_sets = extradata(&enc);
        // SAFETY: a plain field of the opened context.
        let delay = unsafe { u32::try_from((*enc.as_ptr()).has_b_frames).unwrap_or(0) };
        Ok(H264Encoder {
            enc,
            parameter_sets,
            delay,
        })
    }

    /// The SPS and PPS, Annex B.
    pub fn parameter_sets(&self) -> &[u8] {
        &self.parameter_sets
    }

    /// How many frames a sample may be decoded before it is shown (B-frame depth).
    pub fn reorder_delay(&self) -> u32 {
        self.delay
    }

    /// Sends a frame shown at `pts`; `keyframe` makes it an IDR.
    pub fn send(&mut self, frame: Frame, pts: i64, keyframe: bool) -> Result<()> {
        let mut f = frame.0;
        f.set_pts(Some(pts));
        f.set_kind(if keyframe {
            picture::Type::I
        } else {
            picture::Type::None
        });
        self.enc.send_frame(&f).map_err(fail("encoding"))
    }

    /// No more frames: the samples still held come out of [`H264Encoder::receive`].
    pub fn finish(&mut self) -> Result<()> {
        self.enc.send_eof().map_err(fail("encoding"))
    }

    /// The next sample in decode order, or `None` when the encoder needs more frames
    /// (or, after [`H264Encoder::finish`], has given everything).
    pub fn receive(&mut self) -> Result<Option<Encoded>> {
        let mut p = Packet::empty();
        match self.enc.receive_packet(&mut p) {
            Ok(()) => Ok(Some(Encoded {
                data: p.data().unwrap_or_default().to_vec(),
                pts: p.pts().unwrap_or(0),
                key: p.is_key(),
            })),
            Err(ff::Error::Eof) => Ok(None),
            Err(ff::Error::Other { errno }) if errno == ff::util::error::EAGAIN => Ok(None),
            Err(e) => Err(fail("encoding")(e)),
        }
    }
}
