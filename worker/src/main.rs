//! The `dashpack` command: `package` and `inspect` local MP4 files, `worker` to serve a
//! RabbitMQ queue with inputs and outputs in Cloud Storage, `enqueue` to submit a job.

#[cfg(feature = "worker")]
mod config;
mod healthcheck;
#[cfg(feature = "worker")]
mod job;
mod limits;
#[cfg(feature = "worker")]
mod metrics;
mod preview;
#[cfg(feature = "worker")]
mod queue;
#[cfg(feature = "worker")]
mod service;
mod specs;
#[cfg(feature = "worker")]
mod storage;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, Subcommand};
use dashpack::{Options, Timeline};
use indicatif::{ProgressBar, ProgressStyle};

/// Where the worker serves `/metrics` and `/healthz` unless DASHPACK_METRICS_ADDR says.
pub(crate) const DEFAULT_METRICS_ADDR: &str = "127.0.0.1:9464";

#[derive(Parser)]
#[command(name = "dashpack", version, about = "Package MP4 files as MPEG-DASH")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

// Parsed once per run: the size of the `package` variant costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// Package one or more MP4 files into an MPEG-DASH presentation.
    Package {
        /// Input MP4 / QuickTime files; their tracks become one presentation. Prefix
        /// `[+language=fr]` (as mp4dash does) to set the language of an input's tracks.
        #[arg(required = true)]
        inputs: Vec<String>,
        /// Output folder; it appears complete or not at all.
        #[arg(short = 'o', long = "output-dir")]
        output: PathBuf,
        /// Target segment duration in seconds.
        #[arg(long, default_value_t = dashpack::Options::DEFAULT_SEGMENT_DURATION)]
        segment_duration: f64,
        /// File name of the MPD.
        #[arg(long, default_value = dashpack::layout::DEFAULT_MPD)]
        mpd_name: String,
        /// Segment addressing: `number` ($Number$) or `time` ($Time$).
        #[arg(long, default_value_t = Timeline::default())]
        timeline: Timeline,
        /// `live` (a file per segment, SegmentTemplate) or `on-demand` (one file per
        /// Representation with a sidx, SegmentBase byte ranges).
        #[arg(long, default_value_t = dashpack::Profile::default())]
        profile: dashpack::Profile,
        /// Replace the contents of a non-empty output folder.
        #[arg(short = 'f', long)]
        force: bool,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
        /// Also write HLS playlists (master.m3u8 and one per Representation) over the
        /// same segments.
        #[arg(long)]
        hls: bool,
        /// A WebVTT, SubRip (SRT, converted to WebVTT) or TTML subtitle file and its
        /// language, `FILE:LANG`; repeatable.
        #[arg(long, value_name = "FILE:LANG")]
        subtitles: Vec<String>,
        /// Leave these tracks of every input out on purpose: track IDs, `video` or
        /// `audio`, comma-separated or repeated. Without it an audio or video track that
        /// cannot be carried is an error, never silently dropped.
        #[arg(long, value_name = "TRACKS", value_delimiter = ',')]
        skip: Vec<dashpack::TrackSelector>,
        /// A key for encrypted input (cenc, cbcs, PIFF), `KID:KEY` in hex; repeatable or
        /// comma-separated. Protected tracks with a key are decrypted.
        #[arg(long, value_name = "KID:KEY", value_delimiter = ',')]
        decryption_key: Vec<dashpack::DecryptionKey>,
        /// The language of a closed-caption channel in the video's SEI,
        /// `CHANNEL=LANG` (`CC1`..`CC4`, `SERVICE1`..`SERVICE63`); repeatable or
        /// comma-separated. Channels not named take the video track's language.
        #[arg(long, value_name = "CHANNEL=LANG", value_delimiter = ',', value_parser = specs::caption_language)]
        caption_language: Vec<(String, String)>,
        /// Encode the video to an ABR ladder of H.264 renditions: `auto` (Apple's
        /// authoring ladder up to the source's size), `compat` (only video not every
        /// browser plays, such as HEVC, kept beside its rungs; `compat-wide`: AV1 and
        /// VP9 too) or `SIZE:BITRATE,...` (`1080:6000k,720:3000k`, the size being the
        /// short side). Needs a build with the `transcode` feature.
        #[arg(long, value_name = "auto|compat|SIZE:BITRATE,...")]
        ladder: Option<dashpack::Ladder>,
        /// x264's preset for the ladder (`ultrafast` .. `placebo`).
        #[arg(long, default_value = "medium", requires = "ladder")]
        ladder_preset: String,
        #[command(flatten)]
        encryption: EncryptionArgs,
    },
    /// Describe an MP4 file's tracks and what `package` would make of them.
    Inspect {
        input: PathBuf,
        /// Target segment duration used for the plan, in seconds.
        #[arg(long, default_value_t = dashpack::Options::DEFAULT_SEGMENT_DURATION)]
        segment_duration: f64,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Serve a presentation on this machine with a player and its quality report.
    Preview {
        /// The output folder, or its MPD.
        path: PathBuf,
        /// Port to listen on; 0 picks a free one. The address is printed on stdout.
        #[arg(long, default_value_t = 8000)]
        port: u16,
        /// Address to listen on. Anything but loopback makes the files reachable from
        /// other machines.
        #[arg(long, default_value = "127.0.0.1")]
        host: std::net::IpAddr,
        /// A ClearKey key for the player, `KID:KEY` in hex; repeatable.
        #[arg(long = "key", value_name = "KID:KEY")]
        keys: Vec<String>,
        /// Open the page in the desktop's browser.
        #[arg(long)]
        open: bool,
    },
    /// Write the quality report of a presentation as one static HTML file.
    Report {
        /// The output folder, or its MPD.
        path: PathBuf,
        /// The HTML file to write.
        #[arg(short = 'o', long = "output", default_value = "report.html")]
        output: PathBuf,
    },
    /// Serve the job queue: download from Cloud Storage, package, upload, report.
    ///
    /// Settings come from the environment and an optional `.env` file (see docs/worker.md).
    #[cfg(feature = "worker")]
    Worker,
    /// Publish a job message for the worker (settings as for `worker`).
    #[cfg(feature = "worker")]
    Enqueue {
        /// The client's id for the video.
        #[arg(long)]
        resource_id: String,
        /// Object name of the input in the input bucket.
        file_path: String,
    },
    /// Ask a running worker's `/healthz`; exit 0 when it answers 200. For container
    /// health checks, where no shell tools exist.
    Healthcheck {
        /// HOST:PORT of the worker's metrics listener (an unspecified host means this
        /// machine).
        #[arg(long, env = "DASHPACK_METRICS_ADDR", default_value = DEFAULT_METRICS_ADDR)]
        addr: String,
        /// Seconds to wait for the answer.
        #[arg(long, default_value_t = 3.0)]
        timeout: f64,
    },
}

/// Common Encryption options of `package`.
#[derive(clap::Args)]
struct EncryptionArgs {
    /// Encrypt with this key: `[video:|audio:|REPRESENTATION:]KID:KEY[:IV]` in hex, as
    /// mp4dash takes it. Repeat it or separate keys with commas; the most specific
    /// prefix wins.
    #[arg(long = "encryption-key", value_name = "KEY_SPEC")]
    keys: Vec<String>,
    /// `cenc` (AES-CTR, the default) or `cbcs` (AES-CBC, 1:9 pattern for video).
    #[arg(long = "encryption-scheme", value_name = "SCHEME")]
    scheme: Option<String>,
    /// Seconds at the start left clear (whole segments).
    #[arg(long, default_value_t = 0.0, value_name = "SECONDS")]
    clear_lead: f64,
    /// Signal W3C ClearKey with this license server URL.
    #[arg(long, value_name = "URL")]
    clearkey_license_url: Option<String>,
    /// Signal W3C ClearKey with the keys inline in the MPD (for testing only: anyone
    /// with the MPD can decrypt).
    #[arg(long, conflicts_with = "clearkey_license_url")]
    clearkey_inline: bool,
    /// A DRM system's `pssh` box (Widevine, PlayReady, ...) in base64, or `@FILE`
    /// holding the box; written into the init segments and the MPD. Repeatable.
    #[arg(long, value_name = "BASE64|@FILE")]
    pssh: Vec<String>,
}

impl EncryptionArgs {
    /// `None` without keys. Errors never repeat the key material.
    fn parse(self) -> Result<Option<dashpack::Encryption>, Box<dyn std::error::Error>> {
        let pssh: Vec<dashpack::Pssh> = self
            .pssh
            .iter()
            .map(|p| match p.strip_prefix('@') {
                Some(path) => std::fs::read(path)
                    .map_err(|e| format!("--pssh {path}: {e}"))
                    .and_then(|b| {
                        dashpack::Pssh::from_box(b).map_err(|e| format!("--pssh {path}: {e}"))
                    }),
                None => dashpack::Pssh::from_base64(p).map_err(|e| format!("--pssh: {e}")),
            })
            .collect::<Result<_, String>>()?;
        let mut keys = Vec::new();
        for (i, spec) in self.keys.iter().enumerate() {
            let list = dashpack::EncryptionKey::parse_list(spec)
                .map_err(|e| format!("--encryption-key {}: {e}", i + 1))?;
            keys.extend(list);
        }
        let clearkey = match (self.clearkey_license_url, self.clearkey_inline) {
            (Some(url), _) => Some(dashpack::ClearKey::LicenseUrl(url)),
            (None, true) => Some(dashpack::ClearKey::Inline),
            (None, false) => None,
        };
        let scheme = match &self.scheme {
            Some(s) => s.parse()?,
            None => dashpack::Scheme::default(),
        };
        // Without a key, packaging refuses the other options naming what is missing.
        let given = !keys.is_empty() || clearkey.is_some() || !pssh.is_empty();
        if !given && self.clear_lead == 0.0 {
            return Ok(None);
        }
        Ok(Some(
            dashpack::Encryption::new(scheme, keys)
                .with_clear_lead(self.clear_lead)
                .with_clearkey(clearkey)
                .with_pssh(pssh),
        ))
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Package {
            inputs,
            output,
            segment_duration,
            mpd_name,
            timeline,
            profile,
            force,
            json,
            hls,
            subtitles,
            skip,
            decryption_key,
            caption_language,
            ladder,
            ladder_preset,
            encryption,
        } => encryption.parse().and_then(|encryption| {
            let subtitles = subtitles
                .iter()
                .map(|spec| specs::subtitles(spec))
                .collect::<Result<Vec<_>, _>>()?;
            let mut options = Options::default()
                .with_segment_duration(segment_duration)
                .with_mpd_name(mpd_name)
                .with_timeline(timeline)
                .with_profile(profile)
                .with_force(force)
                .with_encryption(encryption)
                .with_hls(hls)
                .with_subtitles(subtitles)
                .with_skip(skip)
                .with_decryption_keys(decryption_key)
                .with_caption_languages(caption_language);
            if let Some(ladder) = ladder {
                options = options.with_ladder(ladder.with_preset(&ladder_preset)?);
            }
            run_package(&inputs, &output, options, json)
        }),
        Command::Inspect {
            input,
            segment_duration,
            json,
        } => run_inspect(&input, segment_duration, json),
        Command::Preview {
            path,
            port,
            host,
            keys,
            open,
        } => preview::run(&path, host, port, &keys, open),
        Command::Report { path, output } => preview::write_report(&path, &output),
        Command::Healthcheck { addr, timeout } => healthcheck::run(&addr, timeout),
        #[cfg(feature = "worker")]
        Command::Worker => run_async(async {
            let cfg = config::from_env()?;
            tracing::info!(config = ?cfg, "starting");
            service::run(cfg).await
        }),
        #[cfg(feature = "worker")]
        Command::Enqueue {
            resource_id,
            file_path,
        } => run_async(enqueue(resource_id, file_path)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let exists = e
                .downcast_ref::<dashpack::Error>()
                .is_some_and(|e| e.kind() == dashpack::ErrorKind::Output);
            let hint = if exists {
                " (use --force to replace its contents)"
            } else {
                ""
            };
            eprintln!("dashpack: error: {e}{hint}");
            ExitCode::FAILURE
        }
    }
}

pub(crate) type CliResult = Result<(), Box<dyn std::error::Error>>;

/// Runs a networked command on a Tokio runtime with JSON logs.
#[cfg(feature = "worker")]
fn run_async(fut: impl Future<Output = CliResult>) -> CliResult {
    // One crypto provider for every TLS client (reqwest, lapin, yup-oauth2), installed
    // before any of them is built.
    let _ = rustls::crypto::ring::default_provider().install_default();
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,lapin=warn,amq_protocol=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(fut)
}

#[cfg(feature = "worker")]
async fn enqueue(resource_id: String, file_path: String) -> CliResult {
    let b = config::broker_from_env()?;
    let msg = job::JobMessage {
        resource_id,
        file_path,
    };
    let body = serde_json::to_vec(&msg)?;
    // Refuse what the worker would refuse, before it reaches the queue.
    let ids = job::JobMessage::parse(&body)?.ids();
    let conn = queue::connect(&b, "dashpack-enqueue").await?;
    queue::declare(&conn, &b).await?;
    let ch = queue::publisher(&conn).await?;
    queue::publish(&ch, "", &b.queue, &body, queue::json_props()).await?;
    let _ = conn.close(200, "done".into()).await;
    println!(
        "{}",
        serde_json::json!({"queue": b.queue, "job_id": ids.job_id, "video_id": ids.video_id})
    );
    Ok(())
}

fn run_package(
    inputs: &[String],
    output: &std::path::Path,
    options: Options,
    json: bool,
) -> CliResult {
    let started = Instant::now();
    let bar = if std::io::IsTerminal::is_terminal(&std::io::stderr()) && !json {
        let bar = ProgressBar::new(0);
        bar.set_style(
            ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {bytes_per_sec} {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        Some(bar)
    } else {
        None
    };
    let mut run = dashpack::RunControl::default();
    if let Some(bar) = &bar {
        let bar = bar.clone();
        run = run.with_progress(move |p: dashpack::Progress| {
            bar.set_length(p.bytes_total);
            bar.set_position(p.bytes_done);
        });
    }
    let inputs = inputs
        .iter()
        .map(|s| specs::input(s))
        .collect::<Result<Vec<_>, _>>()?;
    let result = dashpack::DirSink::create(output, options.force).and_then(|sink| {
        let p = dashpack::package(&inputs, &sink, &options, &run)?;
        sink.commit()?;
        Ok(p)
    });
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let p = result?;
    let elapsed = started.elapsed().as_secs_f64();
    if json {
        let mut v = serde_json::to_value(&p)?;
        v["output"] = serde_json::Value::String(output.display().to_string());
        v["seconds"] = serde_json::json!(elapsed);
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    for w in &p.warnings {
        eprintln!("dashpack: warning: {w}");
    }
    println!("{}", output.join(&p.mpd).display());
    for r in &p.representations {
        let what = match (r.width, r.height, r.sample_rate) {
            (Some(w), Some(h), _) if r.content_type == dashpack::ContentType::Image => {
                format!("{w}x{h} JPEG tiles of thumbnails")
            }
            (Some(w), Some(h), _) => {
                format!("{w}x{h} @ {}", r.frame_rate.as_deref().unwrap_or("?"))
            }
            (_, _, Some(rate)) => {
                format!("{rate} Hz, {} ch, {}", r.channels.unwrap_or(0), r.language)
            }
            _ if r.content_type == dashpack::ContentType::Text && r.codecs.is_empty() => {
                format!("WebVTT, {}", r.language)
            }
            _ if r.content_type == dashpack::ContentType::Text => {
                format!("text in fMP4, {}", r.language)
            }
            _ => String::new(),
        };
        println!(
            "  {:<10} {:<22} {:>8} kbit/s  {:>4} segments  {}",
            r.id,
            r.codecs,
            r.bandwidth / 1000,
            r.segments,
            what
        );
    }
    println!(
        "{} representations, {:.3} s, {} files, {} bytes in {:.2} s",
        p.representations.len(),
        p.duration,
        p.files,
        p.bytes,
        elapsed
    );
    Ok(())
}

fn run_inspect(input: &PathBuf, segment_duration: f64, json: bool) -> CliResult {
    let options = Options::default().with_segment_duration(segment_duration);
    let info = dashpack::inspect(&dashpack::Input::open(input)?, &options)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&info)?);
        return Ok(());
    }
    println!("{}: {} bytes, {:.3} s", info.file, info.size, info.duration);
    for t in &info.tracks {
        println!(
            "  track {} {:?} {} ({}) {:.3} s from {:.3} s, {} samples, {} kbit/s, lang {}",
            t.track_id,
            t.content_type,
            t.sample_entry,
            t.codecs,
            t.duration,
            t.start,
            t.samples,
            t.bitrate / 1000,
            t.language
        );
        if let (Some(w), Some(h)) = (t.width, t.height) {
            println!(
                "    {w}x{h} @ {} fps, {} sync samples, keyframe every {:.2} s",
                t.frame_rate.as_deref().unwrap_or("?"),
                t.sync_samples,
                t.keyframe_interval.unwrap_or(0.0)
            );
        }
        if let Some(rate) = t.sample_rate {
            println!("    {rate} Hz, {} channels", t.channels.unwrap_or(0));
        }
        println!("    package: {} segments", t.planned_segments);
    }
    for w in &info.warnings {
        println!("  warning: {w}");
    }
    Ok(())
}
