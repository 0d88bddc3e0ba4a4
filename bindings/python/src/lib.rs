//! `dashpack._native`: the Python face of the packager. Types are translated and
//! errors mapped here; every decision stays in the `dashpack` crate.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyKeyboardInterrupt};
use pyo3::prelude::*;

create_exception!(
    _native,
    DashpackError,
    PyException,
    "Base class of every dashpack error."
);
create_exception!(
    _native,
    InvalidInputError,
    DashpackError,
    "The input is not a well-formed MP4 file, has no usable track, or an option is invalid."
);
create_exception!(
    _native,
    UnsupportedError,
    DashpackError,
    "The input is well-formed but uses something dashpack does not package yet."
);
create_exception!(
    _native,
    LimitError,
    InvalidInputError,
    "The input exceeds one of dashpack's resource limits."
);
create_exception!(
    _native,
    InvalidOptionError,
    InvalidInputError,
    "An option has a value dashpack cannot use."
);
create_exception!(
    _native,
    InternalError,
    DashpackError,
    "A bug in dashpack: please report it."
);
create_exception!(
    _native,
    DashpackIOError,
    DashpackError,
    "Reading the input or writing the output failed."
);
create_exception!(
    _native,
    OutputExistsError,
    DashpackIOError,
    "The output folder is not empty and force was not set."
);

/// All error mapping lives here.
fn to_py(e: dashpack::Error) -> PyErr {
    let kind = e.kind();
    if kind == dashpack::ErrorKind::Cancelled {
        return PyKeyboardInterrupt::new_err("dashpack.package was cancelled");
    }
    new_error(kind, e.to_string())
}

/// The one table from error kinds to exception classes.
fn new_error(kind: dashpack::ErrorKind, msg: String) -> PyErr {
    use dashpack::ErrorKind as K;
    match kind {
        K::Input => InvalidInputError::new_err(msg),
        K::Unsupported => UnsupportedError::new_err(msg),
        K::Limit => LimitError::new_err(msg),
        K::Option => InvalidOptionError::new_err(msg),
        K::Output => OutputExistsError::new_err(msg),
        K::Io => DashpackIOError::new_err(msg),
        K::Cancelled => PyKeyboardInterrupt::new_err(msg),
        _ => InternalError::new_err(msg),
    }
}

/// The table, for the tests: each kind's name and the exception raised for it.
#[pyfunction]
fn _error_for_kinds(py: Python<'_>) -> Vec<(String, Py<PyAny>)> {
    dashpack::ErrorKind::all()
        .iter()
        .map(|k| {
            let e = new_error(*k, String::new());
            (format!("{k:?}"), e.get_type(py).into_any().unbind())
        })
        .collect()
}

/// The encryption the keyword arguments describe; `None` when none is given. Without a
/// key, packaging refuses the other encryption arguments.
fn encryption(
    specs: &[String],
    scheme: Option<&str>,
    clear_lead: f64,
    (url, inline): (Option<String>, bool),
    pssh: Vec<dashpack::Pssh>,
) -> dashpack::Result<Option<dashpack::Encryption>> {
    let mut keys = Vec::new();
    for spec in specs {
        keys.extend(dashpack::EncryptionKey::parse_list(spec)?);
    }
    let clearkey = match (url, inline) {
        (Some(_), true) => {
            let why = "give clearkey_license_url or clearkey_inline, not both";
            return Err(dashpack::Error::InvalidOption {
                name: "clearkey",
                reason: why.into(),
            });
        }
        (Some(url), false) => Some(dashpack::ClearKey::LicenseUrl(url)),
        (None, true) => Some(dashpack::ClearKey::Inline),
        (None, false) => None,
    };
    let scheme = scheme.map_or(Ok(dashpack::Scheme::default()), str::parse)?;
    if keys.is_empty() && clearkey.is_none() && pssh.is_empty() && clear_lead == 0.0 {
        return Ok(None);
    }
    Ok(Some(
        dashpack::Encryption::new(scheme, keys)
            .with_clear_lead(clear_lead)
            .with_clearkey(clearkey)
            .with_pssh(pssh),
    ))
}

/// One Representation of the written MPD.
#[pyclass(frozen, get_all, module = "dashpack")]
struct Representation {
    id: String,
    input: String,
    track_id: u32,
    content_type: String,
    codecs: String,
    bandwidth: u64,
    width: Option<u32>,
    height: Option<u32>,
    frame_rate: Option<String>,
    sample_rate: Option<u32>,
    channels: Option<u16>,
    language: String,
    segments: u32,
    bytes: u64,
    max_segment_duration: f64,
    captions: Vec<String>,
}

#[pymethods]
impl Representation {
    fn __repr__(&self) -> String {
        format!(
            "Representation(id={:?}, codecs={:?}, bandwidth={}, segments={})",
            self.id, self.codecs, self.bandwidth, self.segments
        )
    }
}

fn content_type(c: dashpack::ContentType) -> String {
    c.as_str().to_string()
}

impl From<dashpack::Representation> for Representation {
    fn from(r: dashpack::Representation) -> Self {
        Representation {
            id: r.id,
            input: r.input,
            track_id: r.track_id,
            content_type: content_type(r.content_type),
            codecs: r.codecs,
            bandwidth: r.bandwidth,
            width: r.width,
            height: r.height,
            frame_rate: r.frame_rate,
            sample_rate: r.sample_rate,
            channels: r.channels,
            language: r.language,
            segments: r.segments,
            bytes: r.bytes,
            max_segment_duration: r.max_segment_duration,
            captions: r.captions,
        }
    }
}

/// What `package()` wrote.
#[pyclass(frozen, get_all, module = "dashpack")]
struct Presentation {
    /// Full path of the MPD.
    mpd_path: PathBuf,
    /// `mediaPresentationDuration`, seconds.
    duration: f64,
    min_buffer_time: f64,
    representations: Vec<Py<Representation>>,
    files: u64,
    bytes: u64,
    warnings: Vec<String>,
}

#[pymethods]
impl Presentation {
    fn __repr__(&self) -> String {
        format!(
            "Presentation(mpd_path={:?}, duration={}, representations={})",
            self.mpd_path,
            self.duration,
            self.representations.len()
        )
    }
}

/// One track of an inspected file.
#[pyclass(frozen, get_all, module = "dashpack")]
struct TrackInfo {
    track_id: u32,
    content_type: String,
    sample_entry: String,
    codecs: String,
    timescale: u32,
    duration: f64,
    samples: u32,
    sync_samples: u32,
    keyframe_interval: Option<f64>,
    bitrate: u64,
    width: Option<u32>,
    height: Option<u32>,
    frame_rate: Option<String>,
    sample_rate: Option<u32>,
    channels: Option<u16>,
    language: String,
    start: f64,
    planned_segments: u32,
}

#[pymethods]
impl TrackInfo {
    fn __repr__(&self) -> String {
        format!(
            "TrackInfo(track_id={}, codecs={:?}, duration={})",
            self.track_id, self.codecs, self.duration
        )
    }
}

/// What `inspect()` found.
#[pyclass(frozen, get_all, module = "dashpack")]
struct MediaInfo {
    file: String,
    size: u64,
    duration: f64,
    tracks: Vec<Py<TrackInfo>>,
    warnings: Vec<String>,
}

#[pymethods]
impl MediaInfo {
    fn __repr__(&self) -> String {
        format!(
            "MediaInfo(file={:?}, duration={}, tracks={})",
            self.file,
            self.duration,
            self.tracks.len()
        )
    }
}

/// The library's options with what the caller gave; `None` keeps the library's
/// default, so Python never restates one.
fn options(
    segment_duration: Option<f64>,
    mpd_name: Option<String>,
    timeline: Option<&str>,
    force: bool,
) -> PyResult<dashpack::Options> {
    let mut o = dashpack::Options::default().with_force(force);
    if let Some(d) = segment_duration {
        o.segment_duration = d;
    }
    if let Some(name) = mpd_name {
        o.mpd_name = name;
    }
    if let Some(t) = timeline {
        o.timeline = t.parse().map_err(to_py)?;
    }
    Ok(o)
}

/// One path, or a list of paths (str or os.PathLike).
fn input_paths(input: &Bound<'_, PyAny>) -> PyResult<Vec<PathBuf>> {
    if let Ok(p) = input.extract::<PathBuf>() {
        return Ok(vec![p]);
    }
    input
        .try_iter()?
        .map(|item| item?.extract::<PathBuf>())
        .collect()
}

/// package(input, output_dir, *, segment_duration=None, mpd_name=None,
///         timeline=None, force=False, progress=None, encryption_key=None,
///         encryption_scheme=None, clear_lead=0.0, clearkey_license_url=None,
///         clearkey_inline=False, pssh=None, hls=False, subtitles=None,
///         languages=None, profile=None, skip=None, decryption_key=None)
/// --
///
/// Package one MP4 file, or a list of them forming one presentation, into an
/// MPEG-DASH folder: an init segment and media segments per track and the MPD.
///
/// input: a path (str or os.PathLike) or a list of paths.
/// output_dir: the folder to create; it appears complete or not at all.
/// segment_duration: target segment length in seconds (None: 4.0); video is cut at
///     the first keyframe at or after each multiple of it.
/// mpd_name: file name of the MPD (None: "stream.mpd").
/// timeline: "number" ($Number$ segment names, the default) or "time" ($Time$).
/// force: replace the contents of a non-empty output_dir.
/// progress: called as progress(bytes_done, bytes_total) while segments are written.
/// encryption_key: Common Encryption key(s), "[video:|audio:|REP_ID:]KID:KEY[:IV]" in
///     hex (as mp4dash takes them), a str (comma-separated) or a list; None: clear.
/// encryption_scheme: "cenc" (AES-CTR, the default) or "cbcs" (AES-CBC, 1:9 pattern
///     for video).
/// clear_lead: seconds at the start left unencrypted (whole segments).
/// clearkey_license_url: signal W3C ClearKey with this license server in the MPD.
/// clearkey_inline: signal ClearKey with the keys inline in the MPD (testing only).
/// pssh: pssh boxes of other DRM systems (bytes, or str in base64).
/// hls: also write HLS playlists (master.m3u8 and one per Representation).
/// subtitles: WebVTT or SubRip (SRT, converted to WebVTT) files to publish, as (path,
/// language) pairs.
/// languages: one language per input (None keeps the file's), overriding the tracks'.
/// profile: "live" (a file per segment, the default) or "on-demand" (one file per Representation,
///     sidx and byte ranges).
/// skip: tracks of every input to leave out on purpose: track IDs (int) or "video" /
///     "audio". Without it, an audio or video track that cannot be carried raises
///     UnsupportedError instead of being dropped.
/// decryption_key: key(s) for encrypted input, "KID:KEY" in hex (a str or a list).
/// caption_languages: the language of each closed-caption channel in the video's SEI,
///     {"CC1": "en", "SERVICE1": "es"}; channels not named take the video's language.
/// ladder: encode the video to an ABR ladder of H.264 renditions: "auto" (Apple's
///     authoring ladder up to the source's size) or "1080:6000k,720:3000k,..." (a build
///     with the `transcode` feature; others raise InvalidOptionError).
/// ladder_preset: x264's preset for the ladder ("ultrafast" .. "placebo", default
///     "medium").
///
/// Returns a Presentation. Raises InvalidInputError, UnsupportedError,
/// DashpackIOError (OutputExistsError when output_dir is not empty) or
/// KeyboardInterrupt when interrupted; the GIL is released while packaging.
#[pyfunction]
#[pyo3(signature = (input, output_dir, *, segment_duration=None, mpd_name=None, timeline=None, force=false, progress=None, encryption_key=None, encryption_scheme=None, clear_lead=0.0, clearkey_license_url=None, clearkey_inline=false, pssh=None, hls=false, subtitles=None, languages=None, profile=None, skip=None, decryption_key=None, caption_languages=None, ladder=None, ladder_preset=None))]
#[allow(clippy::too_many_arguments)]
fn package(
    py: Python<'_>,
    input: &Bound<'_, PyAny>,
    output_dir: PathBuf,
    segment_duration: Option<f64>,
    mpd_name: Option<String>,
    timeline: Option<&str>,
    force: bool,
    progress: Option<Py<PyAny>>,
    encryption_key: Option<&Bound<'_, PyAny>>,
    encryption_scheme: Option<String>,
    clear_lead: f64,
    clearkey_license_url: Option<String>,
    clearkey_inline: bool,
    pssh: Option<Vec<Bound<'_, PyAny>>>,
    hls: bool,
    subtitles: Option<Vec<(PathBuf, String)>>,
    languages: Option<Vec<Option<String>>>,
    profile: Option<&str>,
    skip: Option<Vec<Bound<'_, PyAny>>>,
    decryption_key: Option<&Bound<'_, PyAny>>,
    caption_languages: Option<std::collections::BTreeMap<String, String>>,
    ladder: Option<String>,
    ladder_preset: Option<String>,
) -> PyResult<Presentation> {
    let paths = input_paths(input)?;
    let languages = languages.unwrap_or_default();
    if !languages.is_empty() && languages.len() != paths.len() {
        return Err(InvalidOptionError::new_err(format!(
            "languages has {} entries for {} inputs",
            languages.len(),
            paths.len()
        )));
    }
    let mut opts = options(segment_duration, mpd_name, timeline, force)?;
    let keys: Vec<String> = match encryption_key {
        None => Vec::new(),
        Some(k) => match k.extract::<String>() {
            Ok(one) => vec![one],
            Err(_) => k.extract::<Vec<String>>()?,
        },
    };
    let pssh = pssh
        .unwrap_or_default()
        .iter()
        .map(|p| -> PyResult<dashpack::Pssh> {
            let parsed = if p.is_instance_of::<pyo3::types::PyBytes>() {
                dashpack::Pssh::from_box(p.extract::<Vec<u8>>()?)
            } else {
                dashpack::Pssh::from_base64(&p.extract::<String>()?)
            };
            parsed.map_err(to_py)
        })
        .collect::<PyResult<Vec<_>>>()?;
    opts.encryption = encryption(
        &keys,
        encryption_scheme.as_deref(),
        clear_lead,
        (clearkey_license_url, clearkey_inline),
        pssh,
    )
    .map_err(to_py)?;
    opts.hls = hls;
    opts.caption_languages = caption_languages.unwrap_or_default().into_iter().collect();
    if let Some(spec) = ladder {
        let ladder: dashpack::Ladder = spec.parse().map_err(to_py)?;
        let preset = ladder_preset.as_deref().unwrap_or("medium");
        opts.ladder = Some(ladder.with_preset(preset).map_err(to_py)?);
    } else if ladder_preset.is_some() {
        return Err(InvalidOptionError::new_err(
            "ladder_preset is given without ladder",
        ));
    }
    if let Some(p) = profile {
        opts.profile = p.parse().map_err(to_py)?;
    }
    let decryption: Vec<String> = match decryption_key {
        None => Vec::new(),
        Some(k) => match k.extract::<String>() {
            Ok(one) => one.split(',').map(str::to_string).collect(),
            Err(_) => k.extract::<Vec<String>>()?,
        },
    };
    opts.decryption_keys = decryption
        .iter()
        .filter(|k| !k.trim().is_empty())
        .map(|k| k.parse().map_err(to_py))
        .collect::<PyResult<Vec<_>>>()?;
    opts.skip = skip
        .unwrap_or_default()
        .iter()
        .map(|t| {
            let text = match t.extract::<u32>() {
                Ok(id) => id.to_string(),
                Err(_) => t.extract::<String>()?,
            };
            text.parse::<dashpack::TrackSelector>().map_err(to_py)
        })
        .collect::<PyResult<Vec<_>>>()?;
    opts.subtitles = subtitles
        .unwrap_or_default()
        .iter()
        .map(|(path, lang)| dashpack::Subtitles::open(path, lang))
        .collect::<Result<_, _>>()
        .map_err(to_py)?;
    let inputs = paths
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let input = dashpack::Input::open(p)?;
            Ok(match languages.get(i).cloned().flatten() {
                Some(lang) => input.with_language(&lang),
                None => input,
            })
        })
        .collect::<Result<Vec<_>, dashpack::Error>>()
        .map_err(to_py)?;
    let cancel = Arc::new(AtomicBool::new(false));
    let mut run = dashpack::RunControl::default().with_cancel(cancel.clone());
    // An exception raised by the progress callback stops packaging and is re-raised.
    let callback_error: Arc<Mutex<Option<PyErr>>> = Arc::new(Mutex::new(None));
    if let Some(cb) = progress {
        let (cancel, slot) = (cancel.clone(), callback_error.clone());
        run = run.with_progress(move |p: dashpack::Progress| {
            Python::attach(|py| {
                if let Err(e) = cb.call1(py, (p.bytes_done, p.bytes_total)) {
                    cancel.store(true, Ordering::Relaxed);
                    slot.lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .get_or_insert(e);
                }
            });
        });
    }
    let out = output_dir.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    let worker = std::thread::spawn(move || {
        let result = dashpack::DirSink::create(&out, opts.force).and_then(|sink| {
            let p = dashpack::package(&inputs, &sink, &opts, &run)?;
            sink.commit()?;
            Ok(p)
        });
        let _ = tx.send(result);
    });
    // Wait without the GIL, waking up to let Python deliver signals (Ctrl-C). The
    // Mutex only makes the receiver shareable with the GIL-free closure.
    let rx = Mutex::new(rx);
    let recv = |timeout: Duration| {
        rx.lock()
            .unwrap_or_else(|e| e.into_inner())
            .recv_timeout(timeout)
    };
    let result = loop {
        match py.detach(|| recv(Duration::from_millis(50))) {
            Ok(r) => break r,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                if let Err(e) = py.check_signals() {
                    cancel.store(true, Ordering::Relaxed);
                    let _ = py.detach(|| recv(Duration::from_secs(3600)));
                    let _ = py.detach(|| worker.join());
                    return Err(e);
                }
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                return Err(DashpackError::new_err(
                    "packaging thread stopped unexpectedly",
                ));
            }
        }
    };
    let _ = py.detach(|| worker.join());
    if let Some(e) = callback_error
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take()
    {
        return Err(e);
    }
    let p = result.map_err(to_py)?;
    Ok(Presentation {
        mpd_path: output_dir.join(&p.mpd),
        duration: p.duration,
        min_buffer_time: p.min_buffer_time,
        representations: p
            .representations
            .into_iter()
            .map(|r| Py::new(py, Representation::from(r)))
            .collect::<PyResult<_>>()?,
        files: p.files,
        bytes: p.bytes,
        warnings: p.warnings,
    })
}

/// inspect(path, *, segment_duration=None)
/// --
///
/// Describe an MP4 file's audio and video tracks (codecs, duration, samples,
/// keyframe interval, bitrate, language) and how many segments package() would
/// write for each with the given segment_duration. Returns a MediaInfo.
#[pyfunction]
#[pyo3(signature = (path, *, segment_duration=None))]
fn inspect(py: Python<'_>, path: PathBuf, segment_duration: Option<f64>) -> PyResult<MediaInfo> {
    let opts = options(segment_duration, None, None, false)?;
    let info = py
        .detach(|| dashpack::Input::open(&path).and_then(|i| dashpack::inspect(&i, &opts)))
        .map_err(to_py)?;
    let tracks = info
        .tracks
        .into_iter()
        .map(|t| {
            Py::new(
                py,
                TrackInfo {
                    track_id: t.track_id,
                    content_type: content_type(t.content_type),
                    sample_entry: t.sample_entry,
                    codecs: t.codecs,
                    timescale: t.timescale,
                    duration: t.duration,
                    samples: t.samples,
                    sync_samples: t.sync_samples,
                    keyframe_interval: t.keyframe_interval,
                    bitrate: t.bitrate,
                    width: t.width,
                    height: t.height,
                    frame_rate: t.frame_rate,
                    sample_rate: t.sample_rate,
                    channels: t.channels,
                    language: t.language,
                    start: t.start,
                    planned_segments: t.planned_segments,
                },
            )
        })
        .collect::<PyResult<_>>()?;
    Ok(MediaInfo {
        file: info.file,
        size: info.size,
        duration: info.duration,
        tracks,
        warnings: info.warnings,
    })
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_function(wrap_pyfunction!(package, m)?)?;
    m.add_function(wrap_pyfunction!(inspect, m)?)?;
    m.add_function(wrap_pyfunction!(_error_for_kinds, m)?)?;
    m.add_class::<Presentation>()?;
    m.add_class::<Representation>()?;
    m.add_class::<MediaInfo>()?;
    m.add_class::<TrackInfo>()?;
    m.add("DashpackError", py.get_type::<DashpackError>())?;
    m.add("InvalidInputError", py.get_type::<InvalidInputError>())?;
    m.add("UnsupportedError", py.get_type::<UnsupportedError>())?;
    m.add("DashpackIOError", py.get_type::<DashpackIOError>())?;
    m.add("OutputExistsError", py.get_type::<OutputExistsError>())?;
    m.add("LimitError", py.get_type::<LimitError>())?;
    m.add("InvalidOptionError", py.get_type::<InvalidOptionError>())?;
    m.add("InternalError", py.get_type::<InternalError>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
