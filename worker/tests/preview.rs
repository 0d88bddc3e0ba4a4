//! `dashpack preview` as a server, spoken to over raw TCP so that paths reach it exactly
//! as written (an HTTP client would normalise `..` away): files only and only inside the
//! folder, byte ranges, content types and CORS for players, loopback only by default;
//! and `dashpack report` writing its page.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

struct Server {
    child: Child,
    port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_dashpack"))
}

fn packaged(name: &str) -> PathBuf {
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("preview-{name}"));
    let _ = std::fs::remove_dir_all(&out);
    let fixture = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/h264_aac.mp4");
    let r = bin()
        .args(["package", "--hls", "-o"])
        .arg(&out)
        .arg(fixture)
        .output()
        .unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    out
}

fn start(dir: &Path) -> Server {
    let mut child = bin()
        .args(["preview", "--port", "0"])
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line.trim();
    // Loopback unless asked otherwise.
    let port = url
        .strip_prefix("http://127.0.0.1:")
        .and_then(|p| p.strip_suffix('/'))
        .unwrap_or_else(|| panic!("printed {url:?}"))
        .parse()
        .unwrap();
    Server { child, port }
}

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn request(port: u16, method: &str, target: &str, extra: &[&str]) -> Reply {
    request_host(port, method, target, &format!("127.0.0.1:{port}"), extra)
}

fn request_host(port: u16, method: &str, target: &str, host: &str, extra: &[&str]) -> Reply {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut req = format!("{method} {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    for h in extra {
        req.push_str(h);
        req.push_str("\r\n");
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8(raw[..end].to_vec()).unwrap();
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    Reply {
        status,
        headers,
        body: raw[end + 4..].to_vec(),
    }
}

#[test]
fn serves_the_presentation_and_nothing_else() {
    let dir = packaged("serve");
    std::os::unix::fs::symlink("/etc", dir.join("escape")).unwrap();
    let server = start(&dir);
    let port = server.port;

    let page = request(port, "GET", "/", &[]);
    assert_eq!(page.status, 200);
    let html = String::from_utf8(page.body).unwrap();
    assert!(html.contains("/_dashpack/shaka-player.js") && html.contains("id=\"representations\""));
    let js = request(port, "GET", "/_dashpack/shaka-player.js", &[]);
    assert_eq!(js.status, 200, "built without the player?");
    assert!(js.body.len() > 100_000);
    let licence = request(port, "GET", "/_dashpack/shaka-player.LICENSE", &[]);
    assert!(
        String::from_utf8(licence.body)
            .unwrap()
            .contains("Apache License")
    );

    for (path, kind) in [
        ("/stream.mpd", "application/dash+xml"),
        ("/master.m3u8", "application/vnd.apple.mpegurl"),
        ("/video-1/init.mp4", "video/mp4"),
        // The same type the worker stores it with (dashpack::layout).
        ("/video-1/seg-1.m4s", "video/mp4"),
    ] {
        let r = request(port, "GET", path, &[]);
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(r.header("content-type"), Some(kind), "{path}");
        assert_eq!(r.header("access-control-allow-origin"), Some("*"), "{path}");
        assert_eq!(
            r.body,
            std::fs::read(dir.join(&path[1..])).unwrap(),
            "{path}"
        );
    }

    // Byte ranges.
    let file = std::fs::read(dir.join("video-1/seg-1.m4s")).unwrap();
    let len = file.len();
    let r = request(port, "GET", "/video-1/seg-1.m4s", &["Range: bytes=10-19"]);
    assert_eq!(r.status, 206);
    assert_eq!(
        r.header("content-range"),
        Some(format!("bytes 10-19/{len}").as_str())
    );
    assert_eq!(r.body, &file[10..20]);
    let r = request(port, "GET", "/video-1/seg-1.m4s", &["Range: bytes=-5"]);
    assert_eq!((r.status, r.body.as_slice()), (206, &file[len - 5..]));
    let r = request(
        port,
        "GET",
        "/video-1/seg-1.m4s",
        &[&format!("Range: bytes={len}-")],
    );
    assert_eq!(r.status, 416);
    assert_eq!(
        r.header("content-range"),
        Some(format!("bytes */{len}").as_str())
    );
    let r = request(port, "HEAD", "/video-1/seg-1.m4s", &[]);
    assert_eq!((r.status, r.body.len()), (200, 0));
    assert_eq!(r.header("content-length"), Some(len.to_string().as_str()));

    // Nothing outside the folder, however it is spelled; no listings.
    for (path, status) in [
        ("/../Cargo.toml", 400),
        ("/video-1/../../Cargo.toml", 400),
        ("/%2e%2e/%2e%2e/Cargo.toml", 400),
        ("/..%2f..%2fCargo.toml", 400),
        ("/video-1%2f..%2f..%2fCargo.toml", 400),
        ("/escape/passwd", 403),
        ("/video-1/", 404),
        ("/video-1", 404),
        ("/nothing.mpd", 404),
    ] {
        let r = request(port, "GET", path, &[]);
        assert_eq!(r.status, status, "{path}");
        assert!(
            !String::from_utf8_lossy(&r.body).contains("root:"),
            "{path}"
        );
    }
    assert_eq!(request(port, "POST", "/stream.mpd", &[]).status, 405);
    // A page on another site that resolves its own name to 127.0.0.1 is refused.
    assert_eq!(
        request_host(port, "GET", "/stream.mpd", "evil.example", &[]).status,
        403
    );
    assert_eq!(
        request_host(
            port,
            "GET",
            "/stream.mpd",
            &format!("localhost:{port}"),
            &[]
        )
        .status,
        200
    );
}

#[test]
fn listens_on_loopback_only_by_default() {
    let dir = packaged("loopback");
    let server = start(&dir);
    // Any address of this machine that is not loopback must not answer.
    let out = Command::new("hostname").arg("-I").output();
    let addresses: Vec<std::net::IpAddr> = out
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .split_whitespace()
                .filter_map(|a| a.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    for a in addresses.iter().filter(|a| !a.is_loopback()) {
        assert!(
            TcpStream::connect((*a, server.port)).is_err(),
            "reachable on {a}"
        );
    }
}

#[test]
fn report_writes_one_page() {
    let dir = packaged("report");
    let html = dir.join("out.html");
    let r = bin()
        .arg("report")
        .arg(&dir)
        .arg("-o")
        .arg(&html)
        .output()
        .unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let text = std::fs::read_to_string(&html).unwrap();
    assert!(text.contains("<svg class=\"chart\""));
    assert!(!text.contains("<script") && !text.contains("http://") && !text.contains("https://"));
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert!(stderr.contains("0 warning(s)"), "{stderr}");

    let r = bin()
        .arg("report")
        .arg(dir.join("nothing"))
        .output()
        .unwrap();
    assert!(!r.status.success());
    assert!(String::from_utf8_lossy(&r.stderr).contains("nothing"));
}
