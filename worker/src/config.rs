//! The worker's settings: the old service's environment variable names, an optional
//! `.env` file, defaults for everything but the two buckets, and one-line errors that
//! name the variable.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Everything `dashpack worker` reads from its environment.
#[derive(Clone)]
pub struct Config {
    pub input_bucket: String,
    pub output_bucket: String,
    pub work_dir: PathBuf,
    pub workers: usize,
    pub uploads: usize,
    pub broker: BrokerConfig,
    pub storage: StorageConfig,
    /// Deliveries of one message before it is dead-lettered as poison.
    pub max_deliveries: u32,
    pub shutdown_timeout: Duration,
    /// Where /healthz and /metrics listen; `None` when switched off.
    pub metrics_addr: Option<SocketAddr>,
    pub segment_duration: f64,
    /// Write `report.html` (the quality report) beside each presentation, uploaded last.
    pub report: bool,
    /// Encode every job's video to this ABR ladder (`DASHPACK_LADDER`; off by default,
    /// as the old service published the upload's one rendition).
    pub ladder: Option<dashpack::Ladder>,
}

/// The broker and the names of the worker's exchanges and queues.
#[derive(Clone)]
pub struct BrokerConfig {
    pub amqp_url: String,
    pub consumer_name: String,
    pub queue: String,
    pub failed_queue: String,
    pub result_queue: String,
    pub notification_exchange: String,
    pub routing_key: String,
    pub dlx: String,
    /// `quorum` declares the worker's queues as quorum queues (replicated, with a
    /// broker-side delivery count); `classic` is what the old service declared.
    pub queue_type: QueueType,
    /// `x-delivery-limit` on a quorum job queue: the broker dead-letters a message
    /// returned this many times, whatever the worker does.
    pub delivery_limit: Option<u32>,
    /// The broker's delivery acknowledgement timeout (RabbitMQ's `consumer_timeout`),
    /// also sent as this consumer's `x-consumer-timeout`. A job that runs longer is
    /// moved to a hold queue before the broker would close the channel on it.
    pub consumer_timeout: Option<Duration>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueueType {
    Classic,
    Quorum,
}

/// How the worker reaches Cloud Storage.
#[derive(Clone)]
pub struct StorageConfig {
    /// Base URL of the JSON API, without a trailing slash.
    pub endpoint: String,
    /// Send no credentials (an emulator).
    pub anonymous: bool,
    /// Service-account key file.
    pub credentials: Option<PathBuf>,
    /// Uploads at least this large use a resumable session.
    pub resumable_threshold: usize,
    /// Bytes per resumable request; a multiple of 256 KiB.
    pub chunk_size: usize,
    /// Timeout of one whole HTTP request (connecting has its own, shorter one).
    pub request_timeout: Duration,
    /// Tries per request for transient errors (429, 5xx, resets, timeouts).
    pub attempts: u32,
    /// First backoff step; it doubles per try, capped at 30 s, with full jitter.
    pub backoff: Duration,
}

// Debug by hand: the URL can hold the broker password.
impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("input_bucket", &self.input_bucket)
            .field("output_bucket", &self.output_bucket)
            .field("work_dir", &self.work_dir)
            .field("workers", &self.workers)
            .field("uploads", &self.uploads)
            .field("broker", &self.broker)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for BrokerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BrokerConfig")
            .field("amqp_url", &redact_url(&self.amqp_url))
            .field("queue", &self.queue)
            .finish_non_exhaustive()
    }
}

/// A setting that is missing or does not parse; the message names the variable.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {name}: {problem}")]
pub struct ConfigError {
    pub name: &'static str,
    pub problem: String,
}

/// Reads a `.env` file in the working directory (variables already set win), then the
/// environment.
pub fn from_env() -> Result<Config, ConfigError> {
    from_vars(&env_vars()?)
}

/// Only the broker settings (for `dashpack enqueue`).
pub fn broker_from_env() -> Result<BrokerConfig, ConfigError> {
    broker_from_vars(&Vars(&env_vars()?))
}

fn env_vars() -> Result<HashMap<String, String>, ConfigError> {
    if let Err(e) = dotenvy::dotenv()
        && !e.not_found()
    {
        return Err(ConfigError {
            name: ".env",
            problem: e.to_string(),
        });
    }
    Ok(std::env::vars().collect())
}

fn broker_from_vars(v: &Vars) -> Result<BrokerConfig, ConfigError> {
    let queue = v.name("RABBITMQ_CONSUMER_QUEUE_NAME", "videos")?;
    let b = BrokerConfig {
        amqp_url: amqp_url(v)?,
        consumer_name: v.name("RABBITMQ_CONSUMER_NAME", "dashpack")?,
        failed_queue: v.name("RABBITMQ_FAILED_QUEUE_NAME", &format!("{queue}-failed"))?,
        result_queue: v.name("RABBITMQ_RESULT_QUEUE_NAME", &format!("{queue}-result"))?,
        queue,
        notification_exchange: v.name("RABBITMQ_NOTIFICATION_EX", "amq.direct")?,
        routing_key: v.name("RABBITMQ_NOTIFICATION_ROUTING_KEY", "jobs")?,
        dlx: v.name("RABBITMQ_DLX", "dlx")?,
        queue_type: match v.get("DASHPACK_QUEUE_TYPE").unwrap_or("classic") {
            "classic" => QueueType::Classic,
            "quorum" => QueueType::Quorum,
            s => {
                return Err(ConfigError {
                    name: "DASHPACK_QUEUE_TYPE",
                    problem: format!("expected classic or quorum, got {s:?}"),
                });
            }
        },
        delivery_limit: match v.number("DASHPACK_DELIVERY_LIMIT", 0u32, 0, 1_000_000)? {
            0 => None,
            n => Some(n),
        },
        // RabbitMQ's default is 30 minutes; 0 when the broker has no timeout.
        consumer_timeout: match v.number("DASHPACK_CONSUMER_TIMEOUT", 1800u64, 0, 7 * 86_400)? {
            0 => None,
            s => Some(Duration::from_secs(s)),
        },
    };
    if b.delivery_limit.is_some() && b.queue_type != QueueType::Quorum {
        return Err(ConfigError {
            name: "DASHPACK_DELIVERY_LIMIT",
            problem: "needs DASHPACK_QUEUE_TYPE=quorum (classic queues keep no delivery count; \
                      DASHPACK_MAX_DELIVERIES is the worker's own limit)"
                .into(),
        });
    }
    Ok(b)
}

/// `DASHPACK_LADDER` (`off`, `auto` or `SIZE:BITRATE,...`) and
/// `DASHPACK_LADDER_PRESET` (x264's, default `medium`). A ladder in a build without the
/// `transcode` feature is refused here, at start, not job by job.
fn ladder_from(v: &Vars<'_>) -> Result<Option<dashpack::Ladder>, ConfigError> {
    let spec = match v.get("DASHPACK_LADDER") {
        None | Some("" | "off" | "0") => return Ok(None),
        Some(s) => s,
    };
    if !cfg!(feature = "transcode") {
        return Err(ConfigError {
            name: "DASHPACK_LADDER",
            problem: "this dashpack was built without the `transcode` feature".into(),
        });
    }
    let problem = |name: &'static str| {
        move |e: dashpack::Error| ConfigError {
            name,
            problem: e.to_string(),
        }
    };
    let ladder: dashpack::Ladder = spec.parse().map_err(problem("DASHPACK_LADDER"))?;
    let preset = v.get("DASHPACK_LADDER_PRESET").unwrap_or("medium");
    ladder
        .with_preset(preset)
        .map(Some)
        .map_err(problem("DASHPACK_LADDER_PRESET"))
}

/// Builds the configuration from a set of variables (the environment, or a test's map).
pub fn from_vars(vars: &HashMap<String, String>) -> Result<Config, ConfigError> {
    let v = Vars(vars);
    let storage = StorageConfig {
        endpoint: storage_endpoint(&v)?,
        anonymous: v.get("STORAGE_EMULATOR_HOST").is_some(),
        credentials: v.get("GOOGLE_APPLICATION_CREDENTIALS").map(PathBuf::from),
        resumable_threshold: v.number("DASHPACK_RESUMABLE_THRESHOLD", 8 << 20, 1, usize::MAX)?,
        chunk_size: {
            let c = v.number("DASHPACK_UPLOAD_CHUNK_SIZE", 8 << 20, 256 << 10, 1 << 30)?;
            if c % (256 << 10) != 0 {
                return Err(ConfigError {
                    name: "DASHPACK_UPLOAD_CHUNK_SIZE",
                    problem: format!("must be a multiple of 262144 bytes, got {c}"),
                });
            }
            c
        },
        request_timeout: Duration::from_secs(v.number("DASHPACK_HTTP_TIMEOUT", 120, 1, 86_400)?),
        attempts: v.number("DASHPACK_HTTP_ATTEMPTS", 6, 1, 100)?,
        backoff: Duration::from_millis(v.number("DASHPACK_BACKOFF_MS", 250, 1, 60_000)?),
    };
    if !storage.anonymous && storage.credentials.is_none() {
        return Err(ConfigError {
            name: "GOOGLE_APPLICATION_CREDENTIALS",
            problem: "not set: give a service-account key file, or set STORAGE_EMULATOR_HOST \
                      for an emulator"
                .into(),
        });
    }
    let metrics_addr = match v
        .get("DASHPACK_METRICS_ADDR")
        .unwrap_or(crate::DEFAULT_METRICS_ADDR)
    {
        "off" | "" => None,
        s => Some(s.parse().map_err(|_| ConfigError {
            name: "DASHPACK_METRICS_ADDR",
            problem: format!("expected HOST:PORT or `off`, got {s:?}"),
        })?),
    };
    let workers = v.number("CONCURRENCY_WORKERS", 2, 1, 256)?;
    let segment_duration = match v.get("DASHPACK_SEGMENT_DURATION") {
        None => dashpack::Options::DEFAULT_SEGMENT_DURATION,
        Some(s) => match s.parse::<f64>() {
            Ok(d) if d.is_finite() && dashpack::Options::SEGMENT_DURATION_RANGE.contains(&d) => d,
            _ => {
                let r = dashpack::Options::SEGMENT_DURATION_RANGE;
                return Err(ConfigError {
                    name: "DASHPACK_SEGMENT_DURATION",
                    problem: format!(
                        "expected seconds from {} to {}, got {s:?}",
                        r.start(),
                        r.end()
                    ),
                });
            }
        },
    };
    let report = match v.get("DASHPACK_REPORT").unwrap_or("0") {
        "1" | "true" | "yes" => true,
        "0" | "false" | "no" => false,
        s => {
            return Err(ConfigError {
                name: "DASHPACK_REPORT",
                problem: format!("expected 1 or 0, got {s:?}"),
            });
        }
    };
    let ladder = ladder_from(&v)?;
    Ok(Config {
        ladder,
        input_bucket: v.bucket("inputBucketName")?,
        output_bucket: v.bucket("outputBucketName")?,
        work_dir: v
            .get("localStoragePath")
            .map(PathBuf::from)
            .unwrap_or_else(std::env::temp_dir),
        workers,
        uploads: v.number("CONCURRENCY_UPLOAD", 8, 1, 1024)?,
        broker: broker_from_vars(&v)?,
        storage,
        max_deliveries: v.number("DASHPACK_MAX_DELIVERIES", 5, 1, 1000)?,
        shutdown_timeout: Duration::from_secs(v.number(
            "DASHPACK_SHUTDOWN_TIMEOUT",
            600,
            0,
            86_400,
        )?),
        metrics_addr,
        segment_duration,
        report,
    })
}

struct Vars<'a>(&'a HashMap<String, String>);

impl Vars<'_> {
    /// A set, non-blank value.
    fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(|s| s.trim()).filter(|s| !s.is_empty())
    }

    fn number<T>(&self, name: &'static str, default: T, min: T, max: T) -> Result<T, ConfigError>
    where
        T: std::str::FromStr + PartialOrd + fmt::Display + Copy,
    {
        let Some(s) = self.get(name) else {
            return Ok(default);
        };
        match s.parse::<T>() {
            Ok(n) if n >= min && n <= max => Ok(n),
            _ => Err(ConfigError {
                name,
                problem: format!("expected a whole number from {min} to {max}, got {s:?}"),
            }),
        }
    }

    /// An AMQP name: printable, at most 255 bytes.
    fn name(&self, name: &'static str, default: &str) -> Result<String, ConfigError> {
        let s = self.get(name).unwrap_or(default);
        if s.len() > 255 || s.chars().any(char::is_control) {
            return Err(ConfigError {
                name,
                problem: format!("not a valid AMQP name: {s:?}"),
            });
        }
        Ok(s.to_string())
    }

    fn bucket(&self, name: &'static str) -> Result<String, ConfigError> {
        let s = self.get(name).ok_or_else(|| ConfigError {
            name,
            problem: "required, not set".into(),
        })?;
        // Cloud Storage bucket names: 3-222 characters of a-z, 0-9, -, _ and dots.
        let ok = (3..=222).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.".contains(&b));
        if !ok {
            return Err(ConfigError {
                name,
                problem: format!("not a valid bucket name: {s:?}"),
            });
        }
        Ok(s.to_string())
    }
}

fn storage_endpoint(v: &Vars) -> Result<String, ConfigError> {
    let (name, url) = if let Some(u) = v.get("STORAGE_EMULATOR_HOST") {
        // Google's client libraries accept a bare host:port here.
        let u = if u.contains("://") {
            u.to_string()
        } else {
            format!("http://{u}")
        };
        ("STORAGE_EMULATOR_HOST", u)
    } else if let Some(u) = v.get("DASHPACK_GCS_ENDPOINT") {
        ("DASHPACK_GCS_ENDPOINT", u.to_string())
    } else {
        return Ok("https://storage.googleapis.com".into());
    };
    if !(url.starts_with("http://") || url.starts_with("https://")) || url.len() < 10 {
        return Err(ConfigError {
            name,
            problem: format!("expected an http(s) URL or HOST:PORT, got {url:?}"),
        });
    }
    Ok(url.trim_end_matches('/').to_string())
}

fn amqp_url(v: &Vars) -> Result<String, ConfigError> {
    if let Some(u) = v.get("AMQP_URL") {
        if !(u.starts_with("amqp://") || u.starts_with("amqps://")) {
            return Err(ConfigError {
                name: "AMQP_URL",
                problem: format!("expected amqp:// or amqps://, got {:?}", redact_url(u)),
            });
        }
        return Ok(u.to_string());
    }
    let user = v.get("RABBITMQ_DEFAULT_USER").unwrap_or("guest");
    let pass = v.get("RABBITMQ_DEFAULT_PASS").unwrap_or("guest");
    let host = v.get("RABBITMQ_DEFAULT_HOST").unwrap_or("127.0.0.1");
    let port: u16 = v.number("RABBITMQ_DEFAULT_PORT", 5672, 1, u16::MAX)?;
    let vhost = v.get("RABBITMQ_DEFAULT_VHOST").unwrap_or("/");
    if host.contains(['/', '@', '?', '#']) {
        return Err(ConfigError {
            name: "RABBITMQ_DEFAULT_HOST",
            problem: format!("not a host name: {host:?}"),
        });
    }
    Ok(format!(
        "amqp://{}:{}@{host}:{port}/{}",
        encode(user),
        encode(pass),
        encode(vhost)
    ))
}

/// Percent-encodes everything but unreserved characters (RFC 3986).
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The URL with any password replaced, for logs and errors.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    match rest.split_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{scheme}://{user}:***@{host}")
        }
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        let mut m: HashMap<String, String> = [
            ("inputBucketName", "in-bucket"),
            ("outputBucketName", "out-bucket"),
            ("STORAGE_EMULATOR_HOST", "127.0.0.1:4443"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        for (k, v) in pairs {
            m.insert(k.to_string(), v.to_string());
        }
        m
    }

    #[test]
    fn defaults_follow_the_old_service() {
        let c = from_vars(&vars(&[])).unwrap();
        let b = &c.broker;
        assert_eq!(c.broker.amqp_url, "amqp://guest:guest@127.0.0.1:5672/%2F");
        assert_eq!(
            (
                b.queue.as_str(),
                b.failed_queue.as_str(),
                b.result_queue.as_str()
            ),
            ("videos", "videos-failed", "videos-result")
        );
        assert_eq!((c.workers, c.uploads), (2, 8));
        assert_eq!(b.notification_exchange, "amq.direct");
        assert_eq!((b.routing_key.as_str(), b.dlx.as_str()), ("jobs", "dlx"));
        assert_eq!(c.storage.endpoint, "http://127.0.0.1:4443");
        assert!(c.storage.anonymous);
    }

    #[test]
    fn amqp_url_wins_over_parts() {
        let c = from_vars(&vars(&[
            ("AMQP_URL", "amqp://a:b@broker:5673/v"),
            ("RABBITMQ_DEFAULT_HOST", "other"),
        ]))
        .unwrap();
        assert_eq!(c.broker.amqp_url, "amqp://a:b@broker:5673/v");
        let c = from_vars(&vars(&[
            ("RABBITMQ_DEFAULT_USER", "us er"),
            ("RABBITMQ_DEFAULT_PASS", "p@ss"),
            ("RABBITMQ_DEFAULT_VHOST", "prod"),
        ]))
        .unwrap();
        assert_eq!(
            c.broker.amqp_url,
            "amqp://us%20er:p%40ss@127.0.0.1:5672/prod"
        );
        assert_eq!(
            redact_url(&c.broker.amqp_url),
            "amqp://us%20er:***@127.0.0.1:5672/prod"
        );
        assert!(!format!("{c:?}").contains("p%40ss"));
    }

    #[test]
    fn errors_name_the_variable() {
        let mut m = vars(&[]);
        m.remove("inputBucketName");
        let e = from_vars(&m).unwrap_err();
        assert_eq!(e.name, "inputBucketName");
        assert_eq!(
            e.to_string(),
            "configuration: inputBucketName: required, not set"
        );
        for (name, value) in [
            ("CONCURRENCY_WORKERS", "zero"),
            ("CONCURRENCY_WORKERS", "0"),
            ("CONCURRENCY_UPLOAD", "-3"),
            ("RABBITMQ_DEFAULT_PORT", "70000"),
            ("AMQP_URL", "http://x"),
            ("DASHPACK_UPLOAD_CHUNK_SIZE", "300000"),
            ("DASHPACK_METRICS_ADDR", "nowhere"),
            ("outputBucketName", "Has Spaces"),
            ("DASHPACK_SEGMENT_DURATION", "NaN"),
        ] {
            let e = from_vars(&vars(&[(name, value)])).unwrap_err();
            assert_eq!(e.name, name, "{value}");
        }
        let mut m = vars(&[]);
        m.remove("STORAGE_EMULATOR_HOST");
        assert_eq!(
            from_vars(&m).unwrap_err().name,
            "GOOGLE_APPLICATION_CREDENTIALS"
        );
    }
}
