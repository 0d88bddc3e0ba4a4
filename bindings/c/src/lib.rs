//! The C ABI of dashpack (`dashpack.h`, `libdashpack`). Opaque handles, numeric status
//! codes, caller-freed error strings; every function checks its pointers and catches
//! panics so that none crosses into C.

use std::ffi::{CStr, CString, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;

use dashpack_core as core;

/// Status codes returned by every fallible function.
pub const DASHPACK_OK: i32 = 0;
/// A pointer was NULL, a string was not UTF-8, or an option is invalid.
pub const DASHPACK_ERR_INVALID_ARGUMENT: i32 = 1;
/// The input is not a well-formed MP4 file, or has no usable track.
pub const DASHPACK_ERR_INVALID_INPUT: i32 = 2;
/// The input uses something dashpack does not package yet.
pub const DASHPACK_ERR_UNSUPPORTED: i32 = 3;
/// Reading the input or writing the output failed.
pub const DASHPACK_ERR_IO: i32 = 4;
/// The output folder is not empty and `force` was not set.
pub const DASHPACK_ERR_OUTPUT_EXISTS: i32 = 5;
/// No longer returned: inputs whose segment boundaries cannot be aligned are
/// `DASHPACK_ERR_INVALID_INPUT` (kept so that code naming it still compiles).
pub const DASHPACK_ERR_MISALIGNED: i32 = 6;
/// The input exceeds one of dashpack's resource limits.
pub const DASHPACK_ERR_LIMIT: i32 = 7;
/// The call was cancelled.
pub const DASHPACK_ERR_CANCELLED: i32 = 8;
/// An internal error (a bug): please report it.
pub const DASHPACK_ERR_INTERNAL: i32 = 99;

/// `DashpackOptions.timeline`: segments named by number (`$Number$`).
pub const DASHPACK_TIMELINE_NUMBER: i32 = 0;
/// `DashpackOptions.timeline`: segments named by start time (`$Time$`).
pub const DASHPACK_TIMELINE_TIME: i32 = 1;
/// `profile`: a file per segment, SegmentTemplate.
pub const DASHPACK_PROFILE_LIVE: i32 = 0;
/// `profile`: one file per Representation with a `sidx`, SegmentBase byte ranges.
pub const DASHPACK_PROFILE_ON_DEMAND: i32 = 1;

/// Options for `dashpack_package`. Fill with `dashpack_options_default` first: it sets
/// `struct_size` to this header's `sizeof(DashpackOptions)`. Fields are only ever added
/// at the end: a newer library serves a struct from an older header (the fields it lacks
/// take their defaults) and refuses only one larger than its own. Lists are arrays of strings with a count;
/// a NULL array with count 0 is an empty list.
#[repr(C)]
pub struct DashpackOptions {
    /// `sizeof(DashpackOptions)` as the caller's header had it; set by
    /// `dashpack_options_default`.
    pub struct_size: usize,
    /// Target segment duration in seconds (default 4).
    pub segment_duration: f64,
    /// File name of the MPD, or NULL for "stream.mpd".
    pub mpd_name: *const c_char,
    /// `DASHPACK_TIMELINE_NUMBER` (default) or `DASHPACK_TIMELINE_TIME`.
    pub timeline: i32,
    /// Non-zero: replace the contents of a non-empty output folder.
    pub force: i32,
    /// Common Encryption keys, `[video:|audio:|REPRESENTATION:]KID:KEY[:IV]` in hex;
    /// none for clear output.
    pub encryption_keys: *const *const c_char,
    pub encryption_keys_count: usize,
    /// "cenc" or "cbcs"; NULL for "cenc".
    pub encryption_scheme: *const c_char,
    /// Seconds at the start left clear (whole segments).
    pub clear_lead: f64,
    /// ClearKey license server URL to signal in the MPD, or NULL.
    pub clearkey_license_url: *const c_char,
    /// Non-zero: signal ClearKey with the keys inline in the MPD (testing only).
    pub clearkey_inline: i32,
    /// `pssh` boxes of other DRM systems in base64.
    pub pssh: *const *const c_char,
    pub pssh_count: usize,
    /// Non-zero: also write HLS playlists (master.m3u8 and one per Representation).
    pub hls: i32,
    /// WebVTT, SubRip (SRT, converted to WebVTT) or TTML files to publish, `FILE:LANG`
    /// each (the language after the last colon).
    pub subtitles: *const *const c_char,
    pub subtitles_count: usize,
    /// None, or one language per input (NULL or "" keeps the file's).
    pub input_languages: *const *const c_char,
    pub input_languages_count: usize,
    /// `DASHPACK_PROFILE_LIVE` (default) or `DASHPACK_PROFILE_ON_DEMAND`.
    pub profile: i32,
    /// Tracks of every input to leave out on purpose: track IDs, `video` or `audio`.
    /// Without it an audio or video track that cannot be carried fails the call with
    /// `DASHPACK_ERR_UNSUPPORTED`.
    pub skip_tracks: *const *const c_char,
    pub skip_tracks_count: usize,
    /// Keys for encrypted input, `KID:KEY` in hex.
    pub decryption_keys: *const *const c_char,
    pub decryption_keys_count: usize,
    /// Languages of closed-caption channels in the video, `CHANNEL=LANG` each (`CC1`..`CC4`,
    /// `SERVICE1`..`SERVICE63`); channels not named take the video's language.
    pub caption_languages: *const *const c_char,
    pub caption_languages_count: usize,
    /// Encode the video to an ABR ladder of H.264 renditions: "auto" (Apple's authoring
    /// ladder up to the source's size) or "1080:6000k,720:3000k,..."; NULL for none. A
    /// library built without the `transcode` feature refuses it.
    pub ladder: *const c_char,
    /// x264's preset for the ladder ("ultrafast" .. "placebo"); NULL for "medium".
    pub ladder_preset: *const c_char,
}

/// Track information returned by `dashpack_inspect`; read it with the accessors.
pub struct DashpackMediaInfo {
    duration: f64,
    tracks: Vec<Track>,
}

struct Track {
    id: u32,
    video: bool,
    codecs: CString,
    duration: f64,
    samples: u32,
    width: u32,
    height: u32,
    sample_rate: u32,
    channels: u32,
}

/// Store `msg` in `*error_out` (when not NULL) and return `code`.
fn fail(error_out: *mut *mut c_char, code: i32, msg: &str) -> i32 {
    if !error_out.is_null() {
        let c = CString::new(msg.replace('\0', " ")).unwrap_or_default();
        // SAFETY: the caller passed a valid, writable `char **` (checked non-NULL).
        unsafe { *error_out = c.into_raw() };
    }
    code
}

fn status(e: &core::Error) -> i32 {
    status_of(e.kind())
}

/// The one table from error kinds to status codes.
fn status_of(kind: core::ErrorKind) -> i32 {
    use core::ErrorKind as K;
    match kind {
        K::Input => DASHPACK_ERR_INVALID_INPUT,
        K::Unsupported => DASHPACK_ERR_UNSUPPORTED,
        K::Limit => DASHPACK_ERR_LIMIT,
        K::Option => DASHPACK_ERR_INVALID_ARGUMENT,
        K::Output => DASHPACK_ERR_OUTPUT_EXISTS,
        K::Io => DASHPACK_ERR_IO,
        K::Cancelled => DASHPACK_ERR_CANCELLED,
        _ => DASHPACK_ERR_INTERNAL,
    }
}

/// Run `f` behind a panic boundary; its error is (status, message).
fn guarded(error_out: *mut *mut c_char, f: impl FnOnce() -> Result<(), (i32, String)>) -> i32 {
    if !error_out.is_null() {
        // SAFETY: non-NULL `char **` from the caller.
        unsafe { *error_out = std::ptr::null_mut() };
    }
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => DASHPACK_OK,
        Ok(Err((code, msg))) => fail(error_out, code, &msg),
        Err(_) => fail(
            error_out,
            DASHPACK_ERR_INTERNAL,
            "internal error (panic) in dashpack",
        ),
    }
}

/// SAFETY: `p` must be NULL or a NUL-terminated string.
unsafe fn text<'a>(p: *const c_char, what: &str) -> Result<&'a str, (i32, String)> {
    if p.is_null() {
        return Err((DASHPACK_ERR_INVALID_ARGUMENT, format!("{what} is NULL")));
    }
    // SAFETY: non-NULL and NUL-terminated by the caller's contract.
    unsafe { CStr::from_ptr(p) }.to_str().map_err(|_| {
        (
            DASHPACK_ERR_INVALID_ARGUMENT,
            format!("{what} is not UTF-8"),
        )
    })
}

/// SAFETY: `p` must be NULL or a NUL-terminated string.
unsafe fn optional<'a>(p: *const c_char, what: &str) -> Result<Option<&'a str>, (i32, String)> {
    if p.is_null() {
        Ok(None)
    } else {
        // SAFETY: non-NULL and NUL-terminated by the caller's contract.
        unsafe { text(p, what) }.map(Some)
    }
}

/// An array of `n` strings; NULL with `n == 0` is an empty list. A NULL entry is
/// `None` (for `input_languages`).
///
/// # Safety
/// `p` must be NULL (with `n == 0`) or point to `n` pointers, each NULL or
/// NUL-terminated.
unsafe fn strings<'a>(
    p: *const *const c_char,
    n: usize,
    what: &str,
) -> Result<Vec<Option<&'a str>>, (i32, String)> {
    if n == 0 {
        return Ok(Vec::new());
    }
    if p.is_null() {
        return Err((
            DASHPACK_ERR_INVALID_ARGUMENT,
            format!("{what} is NULL with a count of {n}"),
        ));
    }
    // SAFETY: `n` valid pointers by contract.
    let raw = unsafe { std::slice::from_raw_parts(p, n) };
    raw.iter()
        .enumerate()
        // SAFETY: each NULL or NUL-terminated by contract.
        .map(|(i, &s)| unsafe { optional(s, &format!("{what}[{i}]")) })
        .collect()
}

/// An array of strings, each parsed; NULL entries are refused.
///
/// # Safety
/// As [`strings`].
unsafe fn parsed<T: std::str::FromStr<Err = core::Error>>(
    p: *const *const c_char,
    n: usize,
    what: &str,
) -> Result<Vec<T>, (i32, String)> {
    // SAFETY: as this function's contract.
    unsafe { required(p, n, what) }?
        .into_iter()
        .map(|v| {
            v.parse()
                .map_err(|e: core::Error| (status(&e), e.to_string()))
        })
        .collect()
}

/// An array of strings none of which may be NULL.
///
/// # Safety
/// As [`strings`].
unsafe fn required<'a>(
    p: *const *const c_char,
    n: usize,
    what: &str,
) -> Result<Vec<&'a str>, (i32, String)> {
    // SAFETY: as this function's contract.
    unsafe { strings(p, n, what) }?
        .into_iter()
        .enumerate()
        .map(|(i, v)| {
            v.ok_or_else(|| {
                (
                    DASHPACK_ERR_INVALID_ARGUMENT,
                    format!("{what}[{i}] is NULL"),
                )
            })
        })
        .collect()
}

/// SAFETY: the string fields of `o` must be NULL or NUL-terminated, its arrays as
/// their counts say.
unsafe fn encryption(o: &DashpackOptions) -> Result<Option<core::Encryption>, (i32, String)> {
    let invalid = |e: core::Error| (status(&e), e.to_string());
    // SAFETY (all four): NULL or NUL-terminated by contract.
    let keys = unsafe {
        required(
            o.encryption_keys,
            o.encryption_keys_count,
            "encryption_keys",
        )
    }?;
    let scheme = unsafe { optional(o.encryption_scheme, "encryption_scheme") }?;
    let url = unsafe { optional(o.clearkey_license_url, "clearkey_license_url") }?;
    let pssh = unsafe { required(o.pssh, o.pssh_count, "pssh") }?
        .into_iter()
        .map(core::Pssh::from_base64)
        .collect::<Result<Vec<_>, _>>()
        .map_err(invalid)?;
    let mut parsed = Vec::new();
    for spec in keys {
        parsed.extend(core::EncryptionKey::parse_list(spec).map_err(invalid)?);
    }
    let inline = o.clearkey_inline != 0;
    let clearkey = match (url, inline) {
        (Some(_), true) => {
            let why = "give clearkey_license_url or clearkey_inline, not both";
            return Err((
                DASHPACK_ERR_INVALID_ARGUMENT,
                format!("invalid option clearkey: {why}"),
            ));
        }
        (Some(url), false) => Some(core::ClearKey::LicenseUrl(url.to_string())),
        (None, true) => Some(core::ClearKey::Inline),
        (None, false) => None,
    };
    let scheme = scheme
        .map_or(Ok(core::Scheme::default()), str::parse)
        .map_err(invalid)?;
    // Without a key, packaging refuses the other options naming what is missing.
    let given = !parsed.is_empty() || clearkey.is_some() || !pssh.is_empty();
    if !given && o.clear_lead == 0.0 {
        return Ok(None);
    }
    Ok(Some(
        core::Encryption::new(scheme, parsed)
            .with_clear_lead(o.clear_lead)
            .with_clearkey(clearkey)
            .with_pssh(pssh),
    ))
}

/// The defaults, with `struct_size` as given.
fn defaults(struct_size: usize) -> DashpackOptions {
    DashpackOptions {
        struct_size,
        segment_duration: core::Options::DEFAULT_SEGMENT_DURATION,
        mpd_name: std::ptr::null(),
        timeline: DASHPACK_TIMELINE_NUMBER,
        force: 0,
        encryption_keys: std::ptr::null(),
        encryption_keys_count: 0,
        encryption_scheme: std::ptr::null(),
        clear_lead: 0.0,
        clearkey_license_url: std::ptr::null(),
        clearkey_inline: 0,
        pssh: std::ptr::null(),
        pssh_count: 0,
        hls: 0,
        subtitles: std::ptr::null(),
        subtitles_count: 0,
        input_languages: std::ptr::null(),
        input_languages_count: 0,
        skip_tracks: std::ptr::null(),
        skip_tracks_count: 0,
        decryption_keys: std::ptr::null(),
        decryption_keys_count: 0,
        caption_languages: std::ptr::null(),
        caption_languages_count: 0,
        ladder: std::ptr::null(),
        ladder_preset: std::ptr::null(),
        profile: DASHPACK_PROFILE_LIVE,
    }
}

/// Fewest bytes an options struct may have: `struct_size` and `segment_duration`.
const MIN_OPTIONS_SIZE: usize = std::mem::offset_of!(DashpackOptions, mpd_name);

/// Fill the first `size` bytes of `options` with the defaults and set `struct_size` to
/// `size`, which is `sizeof(DashpackOptions)` in the caller's header (the
/// `dashpack_options_default` macro passes it). Fields are only ever added at the end,
/// so a program built against an older, smaller header gets exactly the fields it
/// knows, and never a byte written past its struct.
///
/// # Safety
/// `options` must be NULL or point to `size` writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dashpack_options_init(options: *mut DashpackOptions, size: usize) {
    if options.is_null() || size < MIN_OPTIONS_SIZE {
        return;
    }
    let d = defaults(size);
    let n = size.min(std::mem::size_of::<DashpackOptions>());
    // SAFETY: `options` has `size` writable bytes and n <= size; the source is a whole
    // `DashpackOptions` of at least n bytes.
    unsafe {
        std::ptr::copy_nonoverlapping((&raw const d).cast::<u8>(), options.cast::<u8>(), n);
    }
}

/// Package `n_inputs` MP4 files into the folder `output_dir` (it appears complete or
/// not at all). `options` may be NULL for the defaults. Returns `DASHPACK_OK` or an
/// error status; on error, when `error_out` is not NULL, `*error_out` receives a
/// message to release with `dashpack_string_free`.
///
/// # Safety
/// `inputs` must point to `n_inputs` NUL-terminated strings; `output_dir` must be a
/// NUL-terminated string; `options` NULL or valid; `error_out` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dashpack_package(
    inputs: *const *const c_char,
    n_inputs: usize,
    output_dir: *const c_char,
    options: *const DashpackOptions,
    error_out: *mut *mut c_char,
) -> i32 {
    guarded(error_out, || {
        if inputs.is_null() || n_inputs == 0 {
            return Err((DASHPACK_ERR_INVALID_ARGUMENT, "no input given".into()));
        }
        // SAFETY: the caller passes `n_inputs` valid pointers.
        let raw = unsafe { std::slice::from_raw_parts(inputs, n_inputs) };
        let paths = raw
            .iter()
            // SAFETY: each element is a NUL-terminated string or NULL (rejected).
            .map(|&p| unsafe { text(p, "input path") }.map(PathBuf::from))
            .collect::<Result<Vec<_>, _>>()?;
        // SAFETY: as documented above.
        let out = PathBuf::from(unsafe { text(output_dir, "output_dir") }?);
        let mut opts = core::Options::default();
        let mut languages: Vec<String> = Vec::new();
        if !options.is_null() {
            // SAFETY: non-NULL and valid by contract.
            // Only `struct_size` is read first: every version of the struct begins with it.
            let size = unsafe { options.cast::<usize>().read_unaligned() };
            let ours = std::mem::size_of::<DashpackOptions>();
            if size > ours || size < MIN_OPTIONS_SIZE || size % std::mem::align_of::<usize>() != 0 {
                return Err((
                    DASHPACK_ERR_INVALID_ARGUMENT,
                    format!(
                        "options.struct_size is {size}: this library takes {MIN_OPTIONS_SIZE} to \
                         {ours} bytes (a larger struct comes from a newer dashpack.h; fill it \
                         with dashpack_options_default)"
                    ),
                ));
            }
            // The caller's fields over the defaults: an older, smaller header's struct
            // leaves the fields it lacks at their defaults.
            let mut own = defaults(size);
            // SAFETY: the caller's struct has `size` readable bytes, size <= ours, and
            // every field of `DashpackOptions` is valid for any bit pattern.
            unsafe {
                std::ptr::copy_nonoverlapping(
                    options.cast::<u8>(),
                    (&raw mut own).cast::<u8>(),
                    size,
                );
            }
            let o = &own;
            opts.segment_duration = o.segment_duration;
            if !o.mpd_name.is_null() {
                // SAFETY: non-NULL, NUL-terminated by contract.
                opts.mpd_name = unsafe { text(o.mpd_name, "mpd_name") }?.to_string();
            }
            opts.timeline = match o.timeline {
                DASHPACK_TIMELINE_NUMBER => core::Timeline::Number,
                DASHPACK_TIMELINE_TIME => core::Timeline::Time,
                t => {
                    return Err((
                        DASHPACK_ERR_INVALID_ARGUMENT,
                        format!("unknown timeline {t}"),
                    ));
                }
            };
            opts.force = o.force != 0;
            // SAFETY: the string fields are NULL or NUL-terminated by contract.
            opts.encryption = unsafe { encryption(o) }?;
            opts.hls = o.hls != 0;
            opts.profile = match o.profile {
                DASHPACK_PROFILE_LIVE => core::Profile::Live,
                DASHPACK_PROFILE_ON_DEMAND => core::Profile::OnDemand,
                p => {
                    return Err((
                        DASHPACK_ERR_INVALID_ARGUMENT,
                        format!("unknown profile {p}"),
                    ));
                }
            };
            // SAFETY (all four): arrays as their counts say, by contract.
            for spec in unsafe { required(o.subtitles, o.subtitles_count, "subtitles") }? {
                // `FILE:LANG`: the language after the last colon (paths may hold colons).
                let Some((file, lang)) = spec
                    .rsplit_once(':')
                    .filter(|(f, l)| !f.is_empty() && !l.is_empty())
                else {
                    let why = format!("invalid option subtitles: {spec:?}: expected FILE:LANG");
                    return Err((DASHPACK_ERR_INVALID_ARGUMENT, why));
                };
                opts.subtitles.push(
                    core::Subtitles::open(file, lang).map_err(|e| (status(&e), e.to_string()))?,
                );
            }
            opts.decryption_keys = unsafe {
                parsed(
                    o.decryption_keys,
                    o.decryption_keys_count,
                    "decryption_keys",
                )
            }?;
            opts.skip = unsafe { parsed(o.skip_tracks, o.skip_tracks_count, "skip_tracks") }?;
            // SAFETY: an array as its count says, by contract.
            let captions = unsafe {
                required(
                    o.caption_languages,
                    o.caption_languages_count,
                    "caption_languages",
                )
            }?;
            for spec in captions {
                let Some((channel, lang)) = spec.split_once('=') else {
                    let why = format!(
                        "invalid option caption_languages: {spec:?}: expected CHANNEL=LANG"
                    );
                    return Err((DASHPACK_ERR_INVALID_ARGUMENT, why));
                };
                opts.caption_languages
                    .push((channel.to_ascii_uppercase(), lang.to_string()));
            }
            let fail = |e: core::Error| (status(&e), e.to_string());
            // SAFETY: NUL-terminated strings or NULL, by contract.
            let (ladder, preset) = unsafe {
                (
                    optional(o.ladder, "ladder")?,
                    optional(o.ladder_preset, "ladder_preset")?,
                )
            };
            if let Some(spec) = ladder {
                let ladder: core::Ladder = spec.parse().map_err(fail)?;
                opts.ladder = Some(
                    ladder
                        .with_preset(preset.unwrap_or("medium"))
                        .map_err(fail)?,
                );
            }
            let given = unsafe {
                strings(
                    o.input_languages,
                    o.input_languages_count,
                    "input_languages",
                )
            }?;
            if !given.is_empty() {
                languages = given
                    .into_iter()
                    .map(|l| l.unwrap_or("").trim().to_string())
                    .collect();
                if languages.len() != paths.len() {
                    return Err((
                        DASHPACK_ERR_INVALID_ARGUMENT,
                        format!(
                            "input_languages has {} entries for {} inputs",
                            languages.len(),
                            paths.len()
                        ),
                    ));
                }
            }
        }
        let inputs = paths
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let input = core::Input::open(p)?;
                Ok(match languages.get(i).filter(|l| !l.is_empty()) {
                    Some(lang) => input.with_language(lang),
                    None => input,
                })
            })
            .collect::<Result<Vec<_>, core::Error>>()
            .map_err(|e| (status(&e), e.to_string()))?;
        core::DirSink::create(out.as_ref(), opts.force)
            .and_then(|sink| {
                core::package(&inputs, &sink, &opts, &core::RunControl::default())?;
                sink.commit()
            })
            .map_err(|e| (status(&e), e.to_string()))
    })
}

/// Read an MP4 file's tracks. On success `*info_out` receives a handle to release
/// with `dashpack_media_info_free`.
///
/// # Safety
/// `path` must be a NUL-terminated string, `info_out` writable, `error_out` NULL or
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dashpack_inspect(
    path: *const c_char,
    info_out: *mut *mut DashpackMediaInfo,
    error_out: *mut *mut c_char,
) -> i32 {
    guarded(error_out, || {
        if info_out.is_null() {
            return Err((DASHPACK_ERR_INVALID_ARGUMENT, "info_out is NULL".into()));
        }
        // SAFETY: checked non-NULL.
        unsafe { *info_out = std::ptr::null_mut() };
        // SAFETY: NUL-terminated by contract.
        let path = unsafe { text(path, "path") }?;
        let err = |e: core::Error| (status(&e), e.to_string());
        let input = core::Input::open(path).map_err(err)?;
        let info = core::inspect(&input, &core::Options::default()).map_err(err)?;
        let tracks = info
            .tracks
            .into_iter()
            .map(|t| Track {
                id: t.track_id,
                video: t.content_type == core::ContentType::Video,
                codecs: CString::new(t.codecs).unwrap_or_default(),
                duration: t.duration,
                samples: t.samples,
                width: t.width.unwrap_or(0),
                height: t.height.unwrap_or(0),
                sample_rate: t.sample_rate.unwrap_or(0),
                channels: u32::from(t.channels.unwrap_or(0)),
            })
            .collect();
        let handle = Box::new(DashpackMediaInfo {
            duration: info.duration,
            tracks,
        });
        // SAFETY: checked non-NULL.
        unsafe { *info_out = Box::into_raw(handle) };
        Ok(())
    })
}

/// SAFETY: `info` must be NULL or a live handle from `dashpack_inspect`.
unsafe fn track<'a>(info: *const DashpackMediaInfo, index: usize) -> Option<&'a Track> {
    // SAFETY: per the function contract.
    unsafe { info.as_ref() }?.tracks.get(index)
}

/// Number of audio and video tracks; 0 for NULL.
///
/// # Safety
/// `info` must be NULL or a live handle from `dashpack_inspect`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dashpack_media_info_track_count(info: *const DashpackMediaInfo) -> usize {
    // SAFETY: per the function contract.
    unsafe { info.as_ref() }.map_or(0, |i| i.tracks.len())
}

/// Presentation duration in seconds; 0 for NULL.
///
/// # Safety
/// `info` must be NULL or a live handle from `dashpack_inspect`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dashpack_media_info_duration(info: *const DashpackMediaInfo) -> f64 {
    // SAFETY: per the function contract.
    unsafe { info.as_ref() }.map_or(0.0, |i| i.duration)
}

/// RFC 6381 codecs string of track `index`, owned by `info`; NULL when out of range.
///
/// # Safety
/// `info` must be NULL or a live handle from `dashpack_inspect`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dashpack_track_codecs(
    info: *const DashpackMediaInfo,
    index: usize,
) -> *const c_char {
    // SAFETY: per the function contract.
    unsafe { track(info, index) }.map_or(std::ptr::null(), |t| t.codecs.as_ptr())
}

/// 1 if track `index` is video, 0 if audio, -1 when out of range.
///
/// # Safety
/// `info` must be NULL or a live handle from `dashpack_inspect`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dashpack_track_is_video(
    info: *const DashpackMediaInfo,
    index: usize,
) -> i32 {
    // SAFETY: per the function contract.
    unsafe { track(info, index) }.map_or(-1, |t| i32::from(t.video))
}

/// Track ID in the input; 0 when out of range.
///
/// # Safety
/// `info` must be NULL or a live handle from `dashpack_inspect`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dashpack_track_id(info: *const DashpackMediaInfo, index: usize) -> u32 {
    // SAFETY: per the function contract.
    unsafe { track(info, index) }.map_or(0, |t| t.id)
}

/// Track duration in seconds; 0 when out of range.
///
/// # Safety
/// `info` must be NULL or a live handle from `dashpack_inspect`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dashpack_track_duration(
    info: *const DashpackMediaInfo,
    index: usize,
) -> f64 {
    // SAFETY: per the function contract.
    unsafe { track(info, index) }.map_or(0.0, |t| t.duration)
}

/// Number of samples (frames) in the track; 0 when out of range.
///
/// # Safety
/// `info` must be NULL or a live handle from `dashpack_inspect`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dashpack_track_samples(
    info: *const DashpackMediaInfo,
    index: usize,
) -> u32 {
    // SAFETY: per the function contract.
    unsafe { track(info, index) }.map_or(0, |t| t.samples)
}

/// Picture width and height (video; 0 otherwise) written to the non-NULL pointers.
///
/// # Safety
/// `info` must be NULL or a live handle; `width`/`height` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dashpack_track_dimensions(
    info: *const DashpackMediaInfo,
    index: usize,
    width: *mut u32,
    height: *mut u32,
) {
    // SAFETY: per the function contract.
    let (w, h) = unsafe { track(info, index) }.map_or((0, 0), |t| (t.width, t.height));
    // SAFETY: each pointer is NULL or writable.
    unsafe {
        if let Some(p) = width.as_mut() {
            *p = w;
        }
        if let Some(p) = height.as_mut() {
            *p = h;
        }
    }
}

/// Sampling rate in Hz (audio; 0 otherwise).
///
/// # Safety
/// `info` must be NULL or a live handle from `dashpack_inspect`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dashpack_track_sample_rate(
    info: *const DashpackMediaInfo,
    index: usize,
) -> u32 {
    // SAFETY: per the function contract.
    unsafe { track(info, index) }.map_or(0, |t| t.sample_rate)
}

/// Channel count (audio; 0 otherwise).
///
/// # Safety
/// `info` must be NULL or a live handle from `dashpack_inspect`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dashpack_track_channels(
    info: *const DashpackMediaInfo,
    index: usize,
) -> u32 {
    // SAFETY: per the function contract.
    unsafe { track(info, index) }.map_or(0, |t| t.channels)
}

/// Release a handle from `dashpack_inspect`; NULL is ignored.
///
/// # Safety
/// `info` must be NULL or a handle from `dashpack_inspect` not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dashpack_media_info_free(info: *mut DashpackMediaInfo) {
    if !info.is_null() {
        // SAFETY: created by Box::into_raw in dashpack_inspect, freed once.
        drop(unsafe { Box::from_raw(info) });
    }
}

/// Release an error message; NULL is ignored.
///
/// # Safety
/// `s` must be NULL or a string returned through an `error_out` and not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dashpack_string_free(s: *mut c_char) {
    if !s.is_null() {
        // SAFETY: created by CString::into_raw in `fail`, freed once.
        drop(unsafe { CString::from_raw(s) });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every error kind's documented status (`dashpack.h`, README).
    #[test]
    fn error_kinds_map_to_documented_statuses() {
        use dashpack_core::ErrorKind as K;
        let documented = [
            (K::Input, DASHPACK_ERR_INVALID_INPUT),
            (K::Unsupported, DASHPACK_ERR_UNSUPPORTED),
            (K::Limit, DASHPACK_ERR_LIMIT),
            (K::Option, DASHPACK_ERR_INVALID_ARGUMENT),
            (K::Output, DASHPACK_ERR_OUTPUT_EXISTS),
            (K::Io, DASHPACK_ERR_IO),
            (K::Cancelled, DASHPACK_ERR_CANCELLED),
            (K::Internal, DASHPACK_ERR_INTERNAL),
        ];
        assert_eq!(documented.len(), K::all().len());
        for (kind, code) in documented {
            assert_eq!(status_of(kind), code, "{kind:?}");
        }
        // Misaligned inputs are an input error now, as in Python and the worker.
        let e = core::Error::Misaligned {
            detail: String::new(),
        };
        assert_eq!(status(&e), DASHPACK_ERR_INVALID_INPUT);
    }
}
