//! The report as one HTML page: tables and inline SVG charts, no script and no outside
//! resources, so it opens from a CI artefact or a ticket attachment as it is.

use std::fmt::Write;

use super::{Finding, Report, RepresentationReport, Severity};

const CHART_W: f64 = 900.0;
const CHART_H: f64 = 160.0;
const LEFT: f64 = 70.0;
const BOTTOM: f64 = 22.0;

const STYLE: &str = "
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222;max-width:1100px}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em}h3{font-size:1em}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}
th{background:#f3f3f3}td.l,th.l{text-align:left}
li.warning{color:#a40000}li.note{color:#555}
svg.chart{background:#fafafa;border:1px solid #ddd}
rect.bar{fill:#4a7bd0}rect.bar.over{fill:#e08a1e}rect.bar.bad{fill:#c00}
line.declared{stroke:#c00;stroke-width:1.5;stroke-dasharray:6 3}
text{font-size:11px;fill:#444}tr.bad td{background:#fde8e8}
";

impl Report {
    /// The report as one HTML page with its charts inline and no outside resources.
    /// `player`, when given, is HTML placed above the report (the preview's player).
    pub fn to_html(&self, player: Option<&str>) -> String {
        page(self, player)
    }
}

fn page(report: &Report, player: Option<&str>) -> String {
    let mut h = String::with_capacity(64 * 1024);
    let title = format!("{} in {}", report.mpd, report.folder.display());
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><link rel=\"icon\" href=\"data:,\">\
         <title>dashpack report: {}</title><style>{STYLE}</style></head><body>\
         <h1>{}</h1>",
        esc(&title),
        esc(&title)
    );
    if let Some(p) = player {
        h.push_str(p);
    }
    let _ = write!(
        h,
        "<p>Duration {:.3} s · minBufferTime {} s · target segment duration {:.3} s{}{}</p>",
        report.duration,
        report.min_buffer_time,
        report.target_duration,
        report
            .hls
            .as_deref()
            .map(|m| format!(" · HLS: {}", esc(m)))
            .unwrap_or_default(),
        if report.protection.is_empty() {
            String::new()
        } else {
            format!(" · protected: {}", esc(&report.protection.join(", ")))
        }
    );
    findings(&mut h, &report.findings);
    representations(&mut h, report);
    for r in &report.representations {
        if !r.segments.is_empty() {
            representation_detail(&mut h, report, r);
        }
    }
    h.push_str("</body></html>\n");
    h
}

fn findings(h: &mut String, findings: &[Finding]) {
    let warnings = findings
        .iter()
        .filter(|f| f.severity == Severity::Warning)
        .count();
    let _ = write!(
        h,
        "<h2>Findings: {warnings} warning(s)</h2><ul id=\"findings\">"
    );
    if findings.is_empty() {
        h.push_str("<li class=\"note\">Nothing to report.</li>");
    }
    for f in findings {
        let (class, label) = match f.severity {
            Severity::Warning => ("warning", "warning"),
            Severity::Note => ("note", "note"),
        };
        let rep = f
            .representation
            .as_deref()
            .map(|r| format!("{}: ", esc(r)))
            .unwrap_or_default();
        let _ = write!(
            h,
            "<li class=\"{class}\"><b>{label}</b> {rep}{}</li>",
            esc(&f.message)
        );
    }
    h.push_str("</ul>");
}

fn representations(h: &mut String, report: &Report) {
    h.push_str(
        "<h2>Representations</h2><table id=\"representations\"><tr><th class=\"l\">id</th>\
         <th class=\"l\">type</th><th class=\"l\">codecs</th><th>resolution</th><th>frame rate</th>\
         <th>@bandwidth</th><th>peak</th><th>average</th><th>segments</th><th>durations (s)</th>\
         <th>first sample (s)</th></tr>",
    );
    for r in &report.representations {
        let resolution = match (r.width, r.height) {
            (Some(w), Some(h)) => format!("{w}x{h}"),
            _ => String::new(),
        };
        let frame_rate = match (r.frame_rate, &r.declared_frame_rate) {
            (Some(m), Some(d)) => format!("{m:.3} (MPD {})", esc(d)),
            (Some(m), None) => format!("{m:.3}"),
            _ => String::new(),
        };
        let (min, max) = r
            .segments
            .iter()
            .map(|s| s.duration)
            .filter(|d| *d > 0.0)
            .fold((f64::INFINITY, 0.0f64), |(a, b), d| (a.min(d), b.max(d)));
        let durations = if max > 0.0 {
            format!("{min:.3}–{max:.3}")
        } else {
            String::new()
        };
        let first = r
            .first_presented
            .map(|f| format!("{f:.3}"))
            .unwrap_or_default();
        let _ = write!(
            h,
            "<tr data-rep=\"{id}\"><td class=\"l\">{id}</td><td class=\"l\">{}{}</td><td class=\"l\">{}</td>\
             <td>{resolution}</td><td>{frame_rate}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td>{durations}</td><td>{first}</td></tr>",
            esc(&r.content_type),
            r.language
                .as_deref()
                .map(|l| format!(" ({})", esc(l)))
                .unwrap_or_default(),
            esc(&r.codecs),
            kbps(r.bandwidth as f64),
            kbps(r.peak_bitrate),
            kbps(r.average_bitrate),
            r.segments.len(),
            id = esc(&r.id),
        );
    }
    h.push_str("</table>");
}

fn representation_detail(h: &mut String, report: &Report, r: &RepresentationReport) {
    let _ = write!(h, "<h2 id=\"rep-{0}\">Representation {0}</h2>", esc(&r.id));
    chart(h, r);
    let _ = write!(
        h,
        "<details><summary>{} segments (target {:.3} s)</summary><table class=\"segments\" data-rep=\"{}\">\
         <tr><th class=\"l\">file</th><th>start (s)</th><th>duration (s)</th><th>bytes</th><th>kbit/s</th>\
         <th>samples</th><th>keyframe</th><th>SAP</th><th class=\"l\">problem</th></tr>",
        r.segments.len(),
        report.target_duration,
        esc(&r.id)
    );
    for s in &r.segments {
        let file = match s.range {
            Some((a, b)) => format!("{} [{a}-{b}]", s.file),
            None => s.file.clone(),
        };
        let _ = write!(
            h,
            "<tr{}><td class=\"l\">{}</td><td>{:.3}</td><td>{:.3}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td>{}</td><td>{}</td><td class=\"l\">{}</td></tr>",
            if s.problem.is_some() {
                " class=\"bad\""
            } else {
                ""
            },
            esc(&file),
            s.start,
            s.duration,
            s.bytes,
            kbps(s.bitrate),
            s.samples,
            if s.keyframe { "yes" } else { "no" },
            s.sap_type,
            esc(s.problem.as_deref().unwrap_or(""))
        );
    }
    h.push_str("</table></details>");
}

/// One bar per segment: its bit rate over its time span, with `@bandwidth` as a line.
fn chart(h: &mut String, r: &RepresentationReport) {
    let start = r
        .segments
        .iter()
        .map(|s| s.start)
        .fold(f64::INFINITY, f64::min);
    let end = r
        .segments
        .iter()
        .map(|s| s.start + s.duration)
        .fold(0.0, f64::max);
    let span = (end - start).max(1e-3);
    let top = r.peak_bitrate.max(r.bandwidth as f64).max(1.0) * 1.1;
    let plot_w = CHART_W - LEFT - 10.0;
    let plot_h = CHART_H - BOTTOM - 10.0;
    let x = |t: f64| LEFT + (t - start) / span * plot_w;
    let y = |b: f64| 10.0 + plot_h - b / top * plot_h;
    let _ = write!(
        h,
        "<svg class=\"chart\" data-rep=\"{}\" width=\"{CHART_W}\" height=\"{CHART_H}\" viewBox=\"0 0 {CHART_W} {CHART_H}\" \
         role=\"img\" aria-label=\"bit rate per segment\">",
        esc(&r.id)
    );
    let _ = write!(
        h,
        "<text x=\"4\" y=\"16\">{}</text><text x=\"4\" y=\"{:.1}\">0</text>\
         <text x=\"{LEFT}\" y=\"{:.1}\">{} s</text><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{} s</text>",
        kbps(top),
        10.0 + plot_h,
        CHART_H - 6.0,
        seconds(start),
        CHART_W - 10.0,
        CHART_H - 6.0,
        seconds(end)
    );
    for (i, s) in r.segments.iter().enumerate() {
        let bad = s.problem.is_some();
        let over = r.bandwidth > 0 && s.bitrate > r.bandwidth as f64;
        let class = if bad {
            "bar bad"
        } else if over {
            "bar over"
        } else {
            "bar"
        };
        let (x0, x1) = (x(s.start), x(s.start + s.duration));
        let height = if bad {
            plot_h
        } else {
            s.bitrate / top * plot_h
        };
        let _ = write!(
            h,
            "<rect class=\"{class}\" data-index=\"{i}\" data-file=\"{}\" data-bytes=\"{}\" data-duration=\"{}\" \
             data-bitrate=\"{}\" x=\"{x0:.2}\" y=\"{:.2}\" width=\"{:.2}\" height=\"{height:.2}\">\
             <title>{}: {} bytes over {:.3} s = {} kbit/s{}</title></rect>",
            esc(&s.file),
            s.bytes,
            s.duration,
            s.bitrate,
            10.0 + plot_h - height,
            (x1 - x0 - 0.5).max(0.5),
            esc(&s.file),
            s.bytes,
            s.duration,
            kbps(s.bitrate),
            s.problem
                .as_deref()
                .map(|p| format!(" ({})", esc(p)))
                .unwrap_or_default(),
        );
    }
    if r.bandwidth > 0 {
        let yb = y(r.bandwidth as f64);
        let _ = write!(
            h,
            "<line class=\"declared\" data-bandwidth=\"{}\" x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{yb:.2}\" y2=\"{yb:.2}\">\
             <title>@bandwidth {} kbit/s</title></line>",
            r.bandwidth,
            CHART_W - 10.0,
            kbps(r.bandwidth as f64)
        );
    }
    h.push_str("</svg>");
}

/// Tenths of a second, without `-0.0` for a start a few samples before zero.
fn seconds(t: f64) -> String {
    format!("{:.1}", if t.abs() < 0.05 { 0.0 } else { t })
}

fn kbps(bits_per_second: f64) -> String {
    format!("{:.0}", bits_per_second / 1000.0)
}

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn escapes() {
        assert_eq!(
            super::esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
