//! `dashpack preview`: a presentation served on loopback with a player and the quality
//! report on one page; `dashpack report`: the same report as a static HTML file.

mod page;
mod serve;

use std::convert::Infallible;
use std::io::SeekFrom;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Bytes, Frame};
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::CliResult;

use crate::limits::{
    PREVIEW_HEADER_TIMEOUT as HEADER_TIMEOUT, PREVIEW_MAX_CONNECTIONS as MAX_CONNECTIONS,
};
/// File bodies are sent in chunks of this size, never read whole.
const CHUNK: usize = 256 << 10;

/// Where the presentation is: its folder (canonical) and its MPD's name.
#[derive(Clone)]
struct Site {
    root: PathBuf,
    mpd: String,
    hls: Option<String>,
    clear_keys: serde_json::Map<String, serde_json::Value>,
    /// Host header values accepted: loopback names only when bound to loopback, so a
    /// page elsewhere cannot reach the server through DNS rebinding.
    hosts: Option<Vec<String>>,
}

/// `dashpack report`: writes the report of `path` to `output`.
pub fn write_report(path: &Path, output: &Path) -> CliResult {
    let report = dashpack_report::analyze(path)?;
    write_atomically(output, report.to_html(None).as_bytes())?;
    let warnings = report.warnings().count();
    eprintln!(
        "{}: {} Representation(s), {warnings} warning(s)",
        output.display(),
        report.representations.len()
    );
    Ok(())
}

/// Writes through a temporary file beside `path`, so a reader never sees half a file.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_file_name(format!(
        ".{}.part",
        path.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("report")
    ));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

/// `dashpack preview`: serves until interrupted.
pub fn run(path: &Path, host: IpAddr, port: u16, keys: &[String], open: bool) -> CliResult {
    let report = dashpack_report::analyze(path)?;
    let root = report.folder.canonicalize()?;
    let mut clear_keys = serde_json::Map::new();
    for k in keys {
        let (kid, key) = k
            .split_once(':')
            .filter(|(a, b)| is_hex16(a) && is_hex16(b))
            .ok_or_else(|| format!("--key {k}: expected KID:KEY, 32 hex digits each"))?;
        clear_keys.insert(kid.to_ascii_lowercase(), key.to_ascii_lowercase().into());
    }
    if page::SHAKA.is_none() {
        eprintln!("dashpack: warning: built without Shaka Player; the page shows the report only");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = TcpListener::bind(SocketAddr::new(host, port)).await?;
        let bound = listener.local_addr()?;
        let hosts = host.is_loopback().then(|| {
            let p = bound.port();
            vec![
                format!("127.0.0.1:{p}"),
                format!("localhost:{p}"),
                format!("[::1]:{p}"),
            ]
        });
        if !host.is_loopback() {
            eprintln!("dashpack: warning: serving on {host}, reachable from other machines");
        }
        let site = Arc::new(Site {
            root,
            mpd: report.mpd.clone(),
            hls: report.hls.clone(),
            clear_keys,
            hosts,
        });
        let shown = if host.is_unspecified() {
            "127.0.0.1".parse()?
        } else {
            host
        };
        let url = format!("http://{}/", SocketAddr::new(shown, bound.port()));
        // The one line on stdout: scripts read the address from it.
        println!("{url}");
        eprintln!(
            "dashpack: serving {} ({}) at {url}; Ctrl-C stops",
            site.root.display(),
            site.mpd
        );
        if open {
            let _ = std::process::Command::new("xdg-open")
                .arg(&url)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn();
        }
        let limit = Arc::new(Semaphore::new(MAX_CONNECTIONS));
        loop {
            let (stream, _) = tokio::select! {
                r = listener.accept() => match r {
                    Ok(s) => s,
                    Err(_) => {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                },
                _ = tokio::signal::ctrl_c() => return Ok(()),
            };
            let permit = limit.clone().acquire_owned().await?;
            let site = site.clone();
            tokio::spawn(async move {
                let _permit = permit;
                let service = hyper::service::service_fn(move |req| {
                    let site = site.clone();
                    async move { Ok::<_, Infallible>(answer(&site, req).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(HEADER_TIMEOUT)
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    })
}

fn is_hex16(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

type Body = BoxBody<Bytes, std::io::Error>;

fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed()
}

fn text(status: StatusCode, body: &str) -> Response<Body> {
    let mut r = Response::new(full(format!("{body}\n")));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

async fn answer<B>(site: &Site, req: Request<B>) -> Response<Body> {
    let (req, _) = req.into_parts();
    let mut resp = route(site, &req).await;
    let h = resp.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    h.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("Content-Range, Content-Length, Accept-Ranges"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if req.method == Method::HEAD {
        let (parts, _) = resp.into_parts();
        return Response::from_parts(parts, full(Bytes::new()));
    }
    resp
}

async fn route(site: &Site, req: &hyper::http::request::Parts) -> Response<Body> {
    if let Some(hosts) = &site.hosts {
        let host = req
            .headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("");
        if !hosts.iter().any(|h| h.eq_ignore_ascii_case(host)) {
            return text(
                StatusCode::FORBIDDEN,
                "this server answers loopback addresses only",
            );
        }
    }
    match req.method {
        Method::GET | Method::HEAD => {}
        Method::OPTIONS => {
            let mut r = text(StatusCode::NO_CONTENT, "");
            *r.body_mut() = full(Bytes::new());
            let h = r.headers_mut();
            h.insert(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static("GET, HEAD, OPTIONS"),
            );
            h.insert(
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                HeaderValue::from_static("Range"),
            );
            return r;
        }
        _ => {
            let mut r = text(StatusCode::METHOD_NOT_ALLOWED, "GET and HEAD only");
            r.headers_mut().insert(
                header::ALLOW,
                HeaderValue::from_static("GET, HEAD, OPTIONS"),
            );
            return r;
        }
    }
    let path = req.uri.path();
    match path {
        "/" | "/_dashpack/report.html" | "/_dashpack/report.json" => {
            let root = site.root.join(&site.mpd);
            let with_player = path == "/";
            let json = path.ends_with(".json");
            let site = site.clone();
            let made = tokio::task::spawn_blocking(move || {
                let report = dashpack_report::analyze(&root)?;
                if json {
                    return Ok::<_, dashpack::Error>(
                        serde_json::to_string(&report).unwrap_or_default(),
                    );
                }
                let player = with_player.then(|| {
                    page::player(&serde_json::json!({
                        "mpd": site.mpd,
                        "hls": site.hls,
                        "clearKeys": site.clear_keys,
                    }))
                });
                Ok(report.to_html(player.as_deref()))
            })
            .await;
            match made {
                Ok(Ok(body)) => {
                    let kind = if json {
                        "application/json"
                    } else {
                        "text/html; charset=utf-8"
                    };
                    let mut r = Response::new(full(body));
                    r.headers_mut()
                        .insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
                    r.headers_mut()
                        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
                    r
                }
                Ok(Err(e)) => text(StatusCode::INTERNAL_SERVER_ERROR, &format!("report: {e}")),
                Err(_) => text(StatusCode::INTERNAL_SERVER_ERROR, "report failed"),
            }
        }
        "/_dashpack/shaka-player.js" | "/_dashpack/shaka-player.LICENSE" => match page::SHAKA {
            Some((js, licence)) => {
                let (body, kind) = if path.ends_with(".js") {
                    (Bytes::from_static(js), "text/javascript; charset=utf-8")
                } else {
                    (
                        Bytes::from_static(licence.as_bytes()),
                        "text/plain; charset=utf-8",
                    )
                };
                let mut r = Response::new(full(body));
                r.headers_mut()
                    .insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
                r
            }
            None => text(StatusCode::NOT_FOUND, "built without Shaka Player"),
        },
        _ => match serve::resolve(&site.root, path) {
            Ok(file) => {
                let kind = serve::content_type(&site.root, &file, &site.mpd);
                send_file(&file, kind, req.headers.get(header::RANGE)).await
            }
            Err(serve::Refusal::BadPath) => text(StatusCode::BAD_REQUEST, "bad path"),
            Err(serve::Refusal::Outside) => {
                text(StatusCode::FORBIDDEN, "outside the presentation folder")
            }
            Err(serve::Refusal::NotFound) => text(StatusCode::NOT_FOUND, "not found"),
        },
    }
}

async fn send_file(
    path: &Path,
    content_type: &'static str,
    range: Option<&HeaderValue>,
) -> Response<Body> {
    let Ok(mut file) = tokio::fs::File::open(path).await else {
        return text(StatusCode::NOT_FOUND, "not found");
    };
    let Ok(len) = file.metadata().await.map(|m| m.len()) else {
        return text(StatusCode::NOT_FOUND, "not found");
    };
    let range = serve::parse_range(range.and_then(|r| r.to_str().ok()), len);
    let (status, first, count) = match range {
        serve::Range::Whole => (StatusCode::OK, 0, len),
        serve::Range::Part(a, b) => (StatusCode::PARTIAL_CONTENT, a, b - a + 1),
        serve::Range::Unsatisfiable => {
            let mut r = text(StatusCode::RANGE_NOT_SATISFIABLE, "range not satisfiable");
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{len}")) {
                r.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            return r;
        }
    };
    if first > 0 && file.seek(SeekFrom::Start(first)).await.is_err() {
        return text(StatusCode::INTERNAL_SERVER_ERROR, "seek failed");
    }
    let reader = file.take(count);
    let stream = futures_util::stream::unfold(reader, |mut reader| async move {
        let mut buf = vec![0u8; CHUNK];
        match reader.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(Frame::data(Bytes::from(buf))), reader))
            }
            Err(e) => Some((Err(e), reader)),
        }
    });
    let mut r = Response::new(StreamBody::new(stream).boxed());
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(v) = HeaderValue::from_str(&count.to_string()) {
        h.insert(header::CONTENT_LENGTH, v);
    }
    if status == StatusCode::PARTIAL_CONTENT
        && let Ok(v) = HeaderValue::from_str(&format!("bytes {first}-{}/{len}", first + count - 1))
    {
        h.insert(header::CONTENT_RANGE, v);
    }
    r
}
