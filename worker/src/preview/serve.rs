//! Serving a presentation folder over HTTP for players: files only (no listings), never
//! outside the folder (`..`, encoded or not, and symlinks that lead out are refused),
//! single byte ranges (RFC 9110 14), CORS for players on other origins, and the content
//! types DASH and HLS players expect.

use std::path::{Component, Path, PathBuf};

/// Why a request path is not served.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Malformed: bad percent-encoding, NUL, a backslash, `..` or `.` segments.
    BadPath,
    /// The path resolves outside the folder (through a symlink).
    Outside,
    /// Nothing there, or a folder.
    NotFound,
}

/// The file a request path names inside `root` (already canonical).
pub fn resolve(root: &Path, raw: &str) -> Result<PathBuf, Refusal> {
    let decoded = percent_decode(raw).ok_or(Refusal::BadPath)?;
    let decoded = String::from_utf8(decoded).map_err(|_| Refusal::BadPath)?;
    if decoded.contains('\0') || decoded.contains('\\') {
        return Err(Refusal::BadPath);
    }
    let rel = decoded.trim_start_matches('/');
    let mut path = root.to_path_buf();
    for part in rel.split('/') {
        match part {
            "" => continue,
            "." | ".." => return Err(Refusal::BadPath),
            p => path.push(p),
        }
    }
    if Path::new(rel)
        .components()
        .any(|c| !matches!(c, Component::Normal(_)))
    {
        return Err(Refusal::BadPath);
    }
    let real = path.canonicalize().map_err(|_| Refusal::NotFound)?;
    if !real.starts_with(root) {
        return Err(Refusal::Outside);
    }
    if !real.is_file() {
        return Err(Refusal::NotFound);
    }
    Ok(real)
}

fn percent_decode(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Some(out)
}

/// What a `Range` header asks of a file of `len` bytes.
#[derive(Debug, PartialEq, Eq)]
pub enum Range {
    /// No header, a form we do not serve as ranges (several ranges): the whole file.
    Whole,
    /// Inclusive first and last byte.
    Part(u64, u64),
    /// No byte of the file is in the range: 416.
    Unsatisfiable,
}

pub fn parse_range(header: Option<&str>, len: u64) -> Range {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return Range::Whole;
    };
    if spec.contains(',') {
        return Range::Whole;
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return Range::Whole;
    };
    let (a, b) = (a.trim(), b.trim());
    if a.is_empty() {
        // The last `b` bytes.
        return match b.parse::<u64>() {
            Ok(0) => Range::Unsatisfiable,
            Ok(n) if len > 0 => Range::Part(len.saturating_sub(n), len - 1),
            Ok(_) => Range::Unsatisfiable,
            Err(_) => Range::Whole,
        };
    }
    let Ok(first) = a.parse::<u64>() else {
        return Range::Whole;
    };
    let last = if b.is_empty() {
        u64::MAX
    } else {
        match b.parse::<u64>() {
            Ok(l) if l >= first => l,
            _ => return Range::Whole,
        }
    };
    if first >= len {
        return Range::Unsatisfiable;
    }
    Range::Part(first, last.min(len - 1))
}

/// The content type of a file under the presentation folder: what `dashpack::layout`
/// says of the names dashpack writes; by extension for the rest (the page's own files,
/// or files somebody put beside the presentation).
pub fn content_type(root: &Path, file: &Path, mpd: &str) -> &'static str {
    let written = file
        .strip_prefix(root)
        .ok()
        .and_then(|rel| rel.to_str())
        .and_then(|rel| dashpack::layout::file_kind(rel, mpd));
    if let Some(kind) = written {
        return kind.content_type();
    }
    match file
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("mpd") => dashpack::layout::FileKind::Mpd.content_type(),
        Some("m3u8") => dashpack::layout::FileKind::Playlist.content_type(),
        Some("vtt") => dashpack::layout::FileKind::Subtitles.content_type(),
        Some("ttml") => dashpack::layout::FileKind::TtmlSubtitles.content_type(),
        Some("html" | "htm") => "text/html; charset=utf-8",
        Some("json") => "application/json",
        Some("js") => "text/javascript; charset=utf-8",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range(None, 100), Range::Whole);
        assert_eq!(parse_range(Some("bytes=0-9"), 100), Range::Part(0, 9));
        assert_eq!(parse_range(Some("bytes=90-"), 100), Range::Part(90, 99));
        assert_eq!(parse_range(Some("bytes=90-200"), 100), Range::Part(90, 99));
        assert_eq!(parse_range(Some("bytes=-10"), 100), Range::Part(90, 99));
        assert_eq!(parse_range(Some("bytes=-1000"), 100), Range::Part(0, 99));
        assert_eq!(parse_range(Some("bytes=100-"), 100), Range::Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=-0"), 100), Range::Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=5-1"), 100), Range::Whole);
        assert_eq!(parse_range(Some("bytes=0-1,5-6"), 100), Range::Whole);
        assert_eq!(parse_range(Some("items=0-1"), 100), Range::Whole);
        assert_eq!(parse_range(Some("bytes=0-0"), 0), Range::Unsatisfiable);
    }

    #[test]
    fn paths() {
        let dir = std::env::temp_dir().join(format!("dashpack-serve-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("v1")).unwrap();
        std::fs::write(dir.join("v1/seg 1.m4s"), b"x").unwrap();
        let root = dir.canonicalize().unwrap();
        assert_eq!(
            resolve(&root, "/v1/seg%201.m4s"),
            Ok(root.join("v1/seg 1.m4s"))
        );
        assert_eq!(
            resolve(&root, "/v1/../v1/seg%201.m4s"),
            Err(Refusal::BadPath)
        );
        assert_eq!(resolve(&root, "/%2e%2e/etc/passwd"), Err(Refusal::BadPath));
        assert_eq!(resolve(&root, "/v1%2f..%2f..%2fetc"), Err(Refusal::BadPath));
        assert_eq!(resolve(&root, "/v1/%zz"), Err(Refusal::BadPath));
        assert_eq!(resolve(&root, "/v1%00"), Err(Refusal::BadPath));
        assert_eq!(resolve(&root, "/v1"), Err(Refusal::NotFound));
        assert_eq!(resolve(&root, "/nothing"), Err(Refusal::NotFound));
        std::os::unix::fs::symlink("/etc", dir.join("out")).unwrap();
        assert_eq!(resolve(&root, "/out/passwd"), Err(Refusal::Outside));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn types_agree_with_the_layout() {
        let root = Path::new("/out");
        let t = |p: &str| content_type(root, &root.join(p), "stream.mpd");
        assert_eq!(t("stream.mpd"), "application/dash+xml");
        assert_eq!(t("master.m3u8"), "application/vnd.apple.mpegurl");
        assert_eq!(t("video-1/seg-1.m4s"), "video/mp4");
        assert_eq!(t("audio-1/seg-1.m4s"), "audio/mp4");
        assert_eq!(t("audio-2/init.mp4"), "audio/mp4");
        assert_eq!(t("text-1/subtitles.vtt"), "text/vtt");
        assert_eq!(t("other/x.MPD"), "application/dash+xml");
        assert_eq!(t("notes.txt"), "text/plain; charset=utf-8");
        assert_eq!(t("video-1/x.bin"), "application/octet-stream");
    }
}
