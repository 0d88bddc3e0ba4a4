//! The ABR ladder asked for, and the renditions it gives a source: which H.264 sizes
//! and bit rates the video is encoded to (with the `transcode` feature).

use std::fmt;
use std::str::FromStr;

use crate::codec::Family;
use crate::{Error, Result};

// The renditions are the encoder's (the `transcode` feature); without it a ladder is
// only parsed, and refused when packaging.
#[cfg_attr(not(feature = "transcode"), allow(dead_code))]
/// Apple's HLS authoring ladder for H.264 (short side in pixels, kbit/s): 416x234 at
/// 145 up to 1920x1080 at 7800, for 16:9; other shapes keep the short side.
const APPLE: [(u32, u64); 9] = [
    (234, 145),
    (360, 365),
    (432, 730),
    (432, 1100),
    (540, 2000),
    (720, 3000),
    (720, 4500),
    (1080, 6000),
    (1080, 7800),
];

/// x264's presets, fastest first.
const PRESETS: [&str; 10] = [
    "ultrafast",
    "superfast",
    "veryfast",
    "faster",
    "fast",
    "medium",
    "slow",
    "slower",
    "veryslow",
    "placebo",
];

/// The H.264 renditions to encode every video track to (the `transcode` feature):
/// Apple's authoring ladder up to the source's size ([`Ladder::auto`]) or the rungs
/// given (`"1080:6000k,720:3000k"`); `"compat"` encodes only video not every browser
/// decodes (HEVC, VVC, MPEG-4 Part 2, H.263, ProRes, DV; `"compat-wide"` AV1 and VP9
/// too), keeping an HEVC, VVC, AV1 or VP9 source beside its rungs. Each rung keeps the source's aspect ratio and
/// frame rate, is never larger than the source, averages its bit rate with peaks
/// capped at twice it, and starts every segment with an IDR frame.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Ladder {
    /// (short side, bit/s), largest first; empty for Apple's ladder.
    rungs: Vec<(u32, u64)>,
    preset: String,
    scope: Scope,
}

/// Which video tracks a ladder encodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    /// Every one.
    All,
    /// Only video not every browser decodes (`compat`): HEVC, VVC and the codecs no
    /// player takes; with `wide`, AV1 and VP9 too (older Safari). A source already in a
    /// streaming codec is kept beside its rungs.
    Incompatible { wide: bool },
}

/// What a ladder does with one video track.
#[cfg_attr(not(feature = "transcode"), allow(dead_code))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Treatment {
    /// Published as it is.
    Keep,
    /// Replaced by its rungs.
    Encode,
    /// Rungs, and the source beside them in an AdaptationSet of its own.
    EncodeAndKeep,
}

impl Default for Ladder {
    fn default() -> Self {
        Ladder::auto()
    }
}

impl Ladder {
    /// Apple's HLS authoring ladder, the rungs no larger than the source.
    pub fn auto() -> Self {
        Ladder {
            rungs: Vec::new(),
            preset: "medium".into(),
            scope: Scope::All,
        }
    }

    /// What this ladder does with a video track of `family`.
    #[cfg_attr(not(feature = "transcode"), allow(dead_code))]
    pub(crate) fn treatment(&self, family: Family) -> Treatment {
        let Scope::Incompatible { wide } = self.scope else {
            return Treatment::Encode;
        };
        match family {
            Family::Avc => Treatment::Keep,
            Family::Av1 | Family::Vp9 if !wide => Treatment::Keep,
            Family::Hevc | Family::Vvc | Family::Av1 | Family::Vp9 => Treatment::EncodeAndKeep,
            _ => Treatment::Encode,
        }
    }

    /// What this ladder does with an audio track of `family` (`codecs` tells MP3 from
    /// AAC in `mp4a`) and `channels`: AAC-LC stays; the rest is encoded to AAC-LC, mono
    /// or stereo, and kept beside it when it has more channels or (`compat`) when it is
    /// what some players prefer (Dolby, DTS, ALAC). `compat` keeps MP3 as it is, and
    /// Opus and FLAC too unless `wide`. AMR is encoded alone: nothing carries it.
    #[cfg_attr(not(feature = "transcode"), allow(dead_code))]
    pub(crate) fn audio_treatment(&self, family: Family, codecs: &str, channels: u16) -> Treatment {
        let mp3 = family == Family::Aac && !codecs.starts_with("mp4a.40");
        if family == Family::Aac && !mp3 {
            return Treatment::Keep;
        }
        if family == Family::Legacy {
            return Treatment::Encode;
        }
        let surround = channels > 2;
        match self.scope {
            Scope::All if surround => Treatment::EncodeAndKeep,
            Scope::All => Treatment::Encode,
            Scope::Incompatible { .. } if mp3 => Treatment::Keep,
            Scope::Incompatible { wide: false }
                if matches!(family, Family::Opus | Family::Flac) =>
            {
                Treatment::Keep
            }
            Scope::Incompatible { .. } => Treatment::EncodeAndKeep,
        }
    }

    /// x264's speed/quality preset (`ultrafast` to `placebo`; default `medium`).
    pub fn with_preset(mut self, preset: &str) -> Result<Self> {
        if !PRESETS.contains(&preset) {
            return Err(Error::InvalidOption {
                name: "ladder preset",
                reason: format!("'{preset}' is not one of {}", PRESETS.join(", ")),
            });
        }
        self.preset = preset.to_string();
        Ok(self)
    }

    /// The x264 preset.
    pub fn preset(&self) -> &str {
        &self.preset
    }

    #[cfg_attr(not(feature = "transcode"), allow(dead_code))]
    /// The renditions for a picture shown at `width` x `height` (square pixels, turned
    /// the right way up), largest first, and a note for each rung left out.
    pub(crate) fn renditions(&self, width: u32, height: u32) -> (Vec<Rendition>, Vec<String>) {
        let short = width.min(height) & !1;
        let rungs: Vec<(u32, u64)> = if self.rungs.is_empty() {
            APPLE.iter().rev().map(|&(s, k)| (s, k * 1000)).collect()
        } else {
            self.rungs.clone()
        };
        let mut notes = Vec::new();
        let mut out: Vec<Rendition> = Vec::new();
        for &(size, bit_rate) in &rungs {
            if size > short {
                if !self.rungs.is_empty() {
                    notes.push(format!(
                        "rung {size}p left out: larger than the source ({width}x{height})"
                    ));
                }
                continue;
            }
            out.push(Rendition::new(size, bit_rate, width, height));
        }
        if out.is_empty() {
            // A source smaller than every rung: one rendition at its own size.
            let &(_, bit_rate) = rungs.last().unwrap_or(&APPLE[0]);
            let bit_rate = if self.rungs.is_empty() {
                bit_rate
            } else {
                bit_rate.min(APPLE[0].1 * 1000)
            };
            out.push(Rendition::new(short.max(2), bit_rate, width, height));
        }
        (out, notes)
    }
}

/// One H.264 rendition: its picture size and average bit rate.
#[cfg_attr(not(feature = "transcode"), allow(dead_code))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rendition {
    pub width: u32,
    pub height: u32,
    pub bit_rate: u64,
}

#[cfg_attr(not(feature = "transcode"), allow(dead_code))]
impl Rendition {
    /// `short` pixels on the short side, the long side in the source's proportion;
    /// both even (4:2:0).
    fn new(short: u32, bit_rate: u64, width: u32, height: u32) -> Self {
        let (src_short, src_long) = (width.min(height).max(1), width.max(height));
        let long = (u64::from(short) * u64::from(src_long) + u64::from(src_short))
            / (2 * u64::from(src_short))
            * 2;
        let long = u32::try_from(long).unwrap_or(!1).max(2);
        let (w, h) = if width >= height {
            (long, short)
        } else {
            (short, long)
        };
        Rendition {
            width: w,
            height: h,
            bit_rate,
        }
    }
}

impl FromStr for Ladder {
    type Err = Error;

    /// `auto`, or rungs as `SHORT_SIDE:BITRATE` separated by commas, the bit rate in
    /// bit/s with an optional `k` or `M` (`1080:6000k,720:3000k,360:800k`).
    fn from_str(spec: &str) -> Result<Self> {
        let spec = spec.trim();
        let named = match spec.to_ascii_lowercase().as_str() {
            "auto" => Some(Scope::All),
            "compat" => Some(Scope::Incompatible { wide: false }),
            "compat-wide" => Some(Scope::Incompatible { wide: true }),
            _ => None,
        };
        if let Some(scope) = named {
            return Ok(Ladder {
                scope,
                ..Ladder::auto()
            });
        }
        let invalid = |why: String| Error::InvalidOption {
            name: "ladder",
            reason: format!(
                "'{spec}': {why} (expected `auto`, `compat`, `compat-wide` or \
                 `1080:6000k,720:3000k,...`)"
            ),
        };
        let mut rungs = Vec::new();
        for part in spec.split(',') {
            let (size, rate) = part
                .trim()
                .split_once(':')
                .ok_or_else(|| invalid(format!("rung '{part}' has no ':'")))?;
            let size: u32 = size
                .trim()
                .trim_end_matches('p')
                .parse()
                .map_err(|_| invalid(format!("'{size}' is not a size in pixels")))?;
            if !(16..=8192).contains(&size) || size % 2 == 1 {
                return Err(invalid(format!("size {size} is not an even 16 to 8192")));
            }
            let rate = rate.trim();
            let (digits, unit) = match rate.char_indices().last() {
                Some((i, 'k' | 'K')) => (&rate[..i], 1_000),
                Some((i, 'm' | 'M')) => (&rate[..i], 1_000_000),
                _ => (rate, 1),
            };
            let bit_rate = digits
                .parse::<u64>()
                .ok()
                .and_then(|v| v.checked_mul(unit))
                .filter(|v| (10_000..=1_000_000_000).contains(v))
                .ok_or_else(|| invalid(format!("'{rate}' is not a bit rate of 10k to 1000M")))?;
            rungs.push((size, bit_rate));
        }
        rungs.sort_by(|a, b| b.cmp(a));
        rungs.dedup();
        Ok(Ladder {
            rungs,
            ..Ladder::auto()
        })
    }
}

impl fmt::Display for Ladder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.rungs.is_empty() {
            return f.write_str(match self.scope {
                Scope::All => "auto",
                Scope::Incompatible { wide: false } => "compat",
                Scope::Incompatible { wide: true } => "compat-wide",
            });
        }
        let parts: Vec<String> = self
            .rungs
            .iter()
            .map(|(s, r)| format!("{s}:{}k", r / 1000))
            .collect();
        f.write_str(&parts.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_keeps_the_rungs_up_to_the_source() {
        let (r, notes) = Ladder::auto().renditions(1280, 720);
        let sizes: Vec<(u32, u32, u64)> =
            r.iter().map(|r| (r.width, r.height, r.bit_rate)).collect();
        assert_eq!(
            sizes,
            [
                (1280, 720, 4_500_000),
                (1280, 720, 3_000_000),
                (960, 540, 2_000_000),
                (768, 432, 1_100_000),
                (768, 432, 730_000),
                (640, 360, 365_000),
                (416, 234, 145_000),
            ]
        );
        assert!(notes.is_empty());
    }

    #[test]
    fn portrait_and_odd_shapes_keep_their_proportion() {
        let (r, _) = Ladder::auto().renditions(1080, 1920);
        assert_eq!((r[0].width, r[0].height), (1080, 1920));
        assert_eq!((r[8].width, r[8].height), (234, 416));
        // 4:3, 700 lines: no rung above it, each long side even.
        let (r, _) = Ladder::auto().renditions(934, 700);
        assert_eq!((r[0].width, r[0].height), (720, 540));
        // Smaller than every rung: one rendition at the source's size.
        let (r, _) = Ladder::auto().renditions(320, 180);
        assert_eq!((r.len(), r[0].width, r[0].height), (1, 320, 180));
    }

    #[test]
    fn given_rungs_parse_and_never_upscale() {
        let l: Ladder = "720:3000k, 1080p:6M,360:800000".parse().expect("parses");
        assert_eq!(l.to_string(), "1080:6000k,720:3000k,360:800k");
        let (r, notes) = l.renditions(1280, 720);
        assert_eq!(r.len(), 2);
        assert_eq!(notes.len(), 1, "{notes:?}");
        for bad in ["", "720", "721:3000k", "720:3", "720:x", "0:100k"] {
            assert!(bad.parse::<Ladder>().is_err(), "{bad}");
        }
        assert!(Ladder::auto().with_preset("fastest").is_err());
        assert_eq!("AUTO".parse::<Ladder>().expect("auto"), Ladder::auto());
    }

    #[test]
    fn compat_encodes_only_what_some_browser_cannot_play() {
        let all = Ladder::auto();
        let compat: Ladder = "compat".parse().expect("compat");
        let wide: Ladder = "compat-wide".parse().expect("compat-wide");
        assert_eq!(
            (compat.to_string(), wide.to_string()),
            ("compat".into(), "compat-wide".into())
        );
        use Treatment::*;
        for (family, a, c, w) in [
            (Family::Avc, Encode, Keep, Keep),
            (Family::Hevc, Encode, EncodeAndKeep, EncodeAndKeep),
            (Family::Av1, Encode, Keep, EncodeAndKeep),
            (Family::Vp9, Encode, Keep, EncodeAndKeep),
            (Family::Legacy, Encode, Encode, Encode),
        ] {
            assert_eq!(
                (
                    all.treatment(family),
                    compat.treatment(family),
                    wide.treatment(family)
                ),
                (a, c, w),
                "{family:?}"
            );
        }
        for (family, codecs, channels, a, c, w) in [
            (Family::Aac, "mp4a.40.2", 2, Keep, Keep, Keep),
            (Family::Aac, "mp4a.40.2", 6, Keep, Keep, Keep),
            (Family::Aac, "mp4a.6B", 2, Encode, Keep, Keep),
            (Family::Opus, "opus", 2, Encode, Keep, EncodeAndKeep),
            (Family::Opus, "opus", 6, EncodeAndKeep, Keep, EncodeAndKeep),
            (Family::Ac3, "ac-3", 2, Encode, EncodeAndKeep, EncodeAndKeep),
            (
                Family::Eac3,
                "ec-3",
                6,
                EncodeAndKeep,
                EncodeAndKeep,
                EncodeAndKeep,
            ),
            (Family::Legacy, "samr", 1, Encode, Encode, Encode),
        ] {
            assert_eq!(
                (
                    all.audio_treatment(family, codecs, channels),
                    compat.audio_treatment(family, codecs, channels),
                    wide.audio_treatment(family, codecs, channels)
                ),
                (a, c, w),
                "{codecs} {channels}"
            );
        }
    }
}
