//! `dashpack healthcheck`: one `GET /healthz` over a plain TCP connection, so a
//! container image needs neither a shell nor curl for its health check.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

use crate::CliResult;

/// Exits 0 (returns `Ok`) when `/healthz` at `addr` answers 200 within `timeout` seconds.
pub fn run(addr: &str, timeout: f64) -> CliResult {
    if addr == "off" {
        return Err(
            "the metrics listener is off (DASHPACK_METRICS_ADDR=off): nothing to ask".into(),
        );
    }
    if !(timeout.is_finite() && timeout > 0.0 && timeout <= 3600.0) {
        return Err(format!("--timeout: expected 0 to 3600 seconds, got {timeout}").into());
    }
    let timeout = Duration::from_secs_f64(timeout);
    let target = local(addr)?;
    let mut conn = TcpStream::connect_timeout(&target, timeout)
        .map_err(|e| format!("healthcheck: {target}: {e}"))?;
    conn.set_read_timeout(Some(timeout))?;
    conn.set_write_timeout(Some(timeout))?;
    // One write: `write!` would send the request in pieces, and a server that answers
    // after the first piece and closes makes the later pieces fail (EPIPE).
    let request = format!("GET /healthz HTTP/1.0\r\nHost: {target}\r\nConnection: close\r\n\r\n");
    conn.write_all(request.as_bytes())?;
    // The answer is a status line and a few words; never read more than 4 KiB.
    let mut answer = Vec::new();
    let read = conn.take(4096).read_to_end(&mut answer);
    // A server that closes at once may reset the connection after its answer.
    if answer.is_empty() {
        read.map_err(|e| format!("healthcheck: {target}: {e}"))?;
    }
    let text = String::from_utf8_lossy(&answer);
    let status = text.lines().next().unwrap_or("");
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("").trim();
    if status.split_whitespace().nth(1) == Some("200") {
        println!("healthy: {body}");
        Ok(())
    } else {
        Err(format!("healthcheck: {target}: {status}: {body}").into())
    }
}

/// The address to connect to: 0.0.0.0 or [::] (a listener on every interface) is asked
/// on loopback.
fn local(addr: &str) -> Result<SocketAddr, String> {
    let mut a = addr
        .to_socket_addrs()
        .map_err(|e| format!("DASHPACK_METRICS_ADDR: {addr:?}: {e}"))?
        .next()
        .ok_or_else(|| format!("DASHPACK_METRICS_ADDR: {addr:?}: no address"))?;
    if a.ip().is_unspecified() {
        a.set_ip(if a.is_ipv4() {
            std::net::Ipv4Addr::LOCALHOST.into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        });
    }
    Ok(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unspecified_host_is_asked_on_loopback() {
        assert_eq!(local("0.0.0.0:9464").ok(), "127.0.0.1:9464".parse().ok());
        assert_eq!(local("[::]:80").ok(), "[::1]:80".parse().ok());
        assert_eq!(local("10.1.2.3:9").ok(), "10.1.2.3:9".parse().ok());
        assert!(local("nowhere").is_err());
    }

    #[test]
    fn answers_from_a_listener() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = l.local_addr().expect("addr").to_string();
        let server = std::thread::spawn(move || {
            for answer in [
                "HTTP/1.1 200 OK\r\n\r\nok\n",
                "HTTP/1.1 503 Service Unavailable\r\n\r\nnot consuming\n",
            ] {
                let (mut s, _) = l.accept().expect("accept");
                // The whole request, however it arrives.
                let mut request = Vec::new();
                let mut buf = [0u8; 256];
                while !request.ends_with(b"\r\n\r\n") {
                    let n = s.read(&mut buf).expect("read");
                    assert!(n > 0, "request cut: {request:?}");
                    request.extend_from_slice(&buf[..n]);
                }
                assert!(request.starts_with(b"GET /healthz HTTP/1.0\r\n"));
                s.write_all(answer.as_bytes()).expect("write");
                let _ = s.shutdown(std::net::Shutdown::Write);
                let _ = s.read(&mut buf);
            }
        });
        assert!(run(&addr, 2.0).is_ok());
        let err = run(&addr, 2.0).expect_err("503 is unhealthy").to_string();
        assert!(
            err.contains("503") && err.contains("not consuming"),
            "{err}"
        );
        server.join().expect("server");
        assert!(run("off", 1.0).is_err());
    }
}
