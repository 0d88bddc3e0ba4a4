//! Sample entries: which codec a track carries, the RFC 6381 `codecs` string derived
//! from its configuration record, and the picture or sound parameters the MPD needs.
//! ISO/IEC 14496-12 12.1.3 (VisualSampleEntry), 12.2.3 (AudioSampleEntry).

pub(crate) mod aac;
#[cfg(feature = "transcode")]
pub(crate) mod annexb;
pub(crate) mod audio_config;
pub(crate) mod av1;
pub(crate) mod avc;
pub(crate) mod bits;
pub(crate) mod c608;
pub(crate) mod captions;
pub(crate) mod dolby_vision;
mod entry;
pub(crate) mod framing;
pub(crate) mod hevc;
pub(crate) mod idr_start;
pub(crate) mod legacy;
pub(crate) mod pcm;
pub(crate) mod slice_header;
pub(crate) mod text;
pub(crate) mod tx3g;
pub(crate) mod vp9;
pub(crate) mod vvc;

pub(crate) use entry::{AUDIO_FIELDS, VISUAL_FIELDS, sound_description};

use crate::error::{BoxError, Malformed};
use crate::mp4::header::{Bx, FourCC};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Family {
    Avc,
    Hevc,
    Vvc,
    Av1,
    Vp9,
    /// MPEG-4 audio in `mp4a`: AAC, also MP3 and MPEG-2 audio by their object type.
    Aac,
    Opus,
    Flac,
    Ac3,
    Eac3,
    Ac4,
    Dts,
    /// Uncompressed audio: transcoded to Opus before packaging.
    Pcm,
    Alac,
    TrueHd,
    MpegH,
    Iamf,
    /// Video no player decodes (MPEG-4 Part 2, H.263, ProRes, DV): carried only
    /// encoded to H.264 by the ladder (`legacy`).
    Legacy,
    /// WebVTT in MP4 (`wvtt`), carried as it is.
    Wvtt,
    /// TTML in MP4 (`stpp`), carried as it is.
    Stpp,
}

impl Family {
    /// Whether Common Encryption of this codec is defined here: whole-sample for the
    /// audio codecs with no codec-specific rule in ISO/IEC 23001-7, subsamples after
    /// the slice headers for H.264 and HEVC.
    pub fn encryptable(self) -> bool {
        matches!(
            self,
            Family::Avc
                | Family::Hevc
                | Family::Aac
                | Family::Opus
                | Family::Flac
                | Family::Ac3
                | Family::Eac3
        )
    }
}

/// A second codec a player may use instead of `codecs` (Dolby Vision over an HDR10,
/// SDR or HLG base layer): `scte214:supplementalCodecs` in the MPD and
/// `SUPPLEMENTAL-CODECS` in HLS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Supplemental {
    pub codecs: String,
    /// HLS compatibility brand (`db1p`, ...), appended as `/brand`.
    pub hls_brand: Option<&'static str>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CodecInfo {
    pub fourcc: FourCC,
    pub family: Family,
    pub codecs: String,
    pub width: u16,
    pub height: u16,
    /// Pixel aspect ratio from `pasp`.
    pub sar: Option<(u32, u32)>,
    pub sample_rate: u32,
    pub channels: u16,
    /// Bytes of the NAL unit length prefix (video).
    pub nal_length_size: u8,
    /// Parameter sets of the configuration record (video), for slice header parsing.
    pub parameter_sets: Vec<Vec<u8>>,
    /// Dolby channel layout (AC-3, E-AC-3), for Dolby's AudioChannelConfiguration.
    pub dolby_mask: Option<u16>,
    /// Another AudioChannelConfiguration scheme and value than the MPEG channel count
    /// (DTS's count, MPEG-H's CICP layout).
    pub channel_scheme: Option<(&'static str, String)>,
    /// Dolby Vision on a cross-compatible base layer.
    pub supplemental: Option<Supplemental>,
    /// Dolby Vision (its encryption rules are not written here).
    pub dolby_vision: bool,
    /// Uncompressed audio's layout (`Family::Pcm`).
    pub pcm: Option<pcm::PcmFormat>,
}

/// Read the first sample entry of an `stsd`; `Ok(None)` when the codec is not one
/// dashpack packages (the caller skips that track).
pub(crate) fn parse_sample_entry(entry: &Bx<'_>) -> Result<Option<CodecInfo>, BoxError> {
    match &entry.kind {
        b"avc1" | b"avc3" | b"dva1" | b"dvav" => visual(entry, Family::Avc),
        b"hvc1" | b"hev1" | b"dvh1" | b"dvhe" => visual(entry, Family::Hevc),
        b"vvc1" | b"vvi1" => visual(entry, Family::Vvc),
        b"av01" | b"dav1" => visual(entry, Family::Av1),
        b"vp09" => visual(entry, Family::Vp9),
        b"mp4v" | b"s263" | b"h263" | b"H263" | b"apcn" | b"apch" | b"apcs" | b"apco" | b"ap4h"
        | b"ap4x" | b"dvc " | b"dvcp" | b"dvpp" | b"dv5n" | b"dv5p" | b"dvh5" | b"dvh6"
        | b"dvhp" | b"dvhq" | b"dvh2" | b"dvh3" => legacy_visual(entry),
        b"samr" | b"sawb" => legacy_sound(entry),
        b"mp4a" => audio(entry, Family::Aac),
        b"Opus" => audio(entry, Family::Opus),
        b"fLaC" => audio(entry, Family::Flac),
        b"ac-3" => audio(entry, Family::Ac3),
        b"ec-3" => audio(entry, Family::Eac3),
        b"ac-4" => audio(entry, Family::Ac4),
        b"dtsc" | b"dtsh" | b"dtsl" | b"dtse" | b"dtsx" | b"dtsy" => audio(entry, Family::Dts),
        b"alac" => audio(entry, Family::Alac),
        b"mlpa" => audio(entry, Family::TrueHd),
        b"mha1" | b"mha2" | b"mhm1" | b"mhm2" => audio(entry, Family::MpegH),
        b"iamf" => audio(entry, Family::Iamf),
        b"wvtt" => Ok(Some(text_entry(entry, Family::Wvtt, "wvtt".into()))),
        b"stpp" => Ok(Some(text_entry(
            entry,
            Family::Stpp,
            text::stpp_entry_codecs(entry),
        ))),
        kind if pcm::is_pcm(kind) => pcm(entry),
        _ => Ok(None),
    }
}

/// Picture codecs of cover art and other stills (JPEG, PNG, BMP, GIF).
pub(crate) fn is_still_image(kind: &FourCC) -> bool {
    matches!(
        kind,
        b"jpeg" | b"mjpa" | b"mjpb" | b"png " | b"bmp " | b"gif "
    )
}

pub(crate) fn find_child<'a>(
    entry: &Bx<'a>,
    skip: usize,
    kind: &FourCC,
) -> Result<Option<Bx<'a>>, BoxError> {
    for child in entry.children_after(skip) {
        let child = child?;
        if &child.kind == kind {
            return Ok(Some(child));
        }
    }
    Ok(None)
}

/// The `nclx` colour description of a `colr` box: primaries, transfer, matrix, full range.
fn nclx(entry: &Bx<'_>) -> Result<Option<(u16, u16, u16, bool)>, BoxError> {
    let Some(colr) = find_child(entry, VISUAL_FIELDS, b"colr")? else {
        return Ok(None);
    };
    let mut r = colr.body();
    if r.bytes(4)? != b"nclx" {
        return Ok(None);
    }
    Ok(Some((r.u16()?, r.u16()?, r.u16()?, r.u8()? & 0x80 != 0)))
}

fn visual(entry: &Bx<'_>, family: Family) -> Result<Option<CodecInfo>, BoxError> {
    let (config, name): (&[u8; 4], &'static str) = match family {
        Family::Avc => (b"avcC", "avcC"),
        Family::Hevc => (b"hvcC", "hvcC"),
        Family::Vvc => (b"vvcC", "vvcC"),
        Family::Av1 => (b"av1C", "av1C"),
        _ => (b"vpcC", "vpcC"),
    };
    let mut r = entry.body();
    r.skip(24)?;
    let width = r.u16()?;
    let height = r.u16()?;
    r.skip(VISUAL_FIELDS - 28)?;
    let cfg = find_child(entry, VISUAL_FIELDS, config)?
        .ok_or_else(|| entry.err(Malformed::Missing(name)))?;
    let (mut codecs, nal_length_size) = match family {
        Family::Avc => avc::codecs(&entry.kind, &cfg)?,
        Family::Hevc => hevc::codecs(&entry.kind, &cfg)?,
        Family::Vvc => vvc::codecs(&entry.kind, &cfg)?,
        Family::Av1 => (av1::codecs(&cfg, nclx(entry)?)?, 0),
        _ => (vp9::codecs(&cfg)?, 0),
    };
    let mut dovi = None;
    for kind in [b"dvcC", b"dvvC", b"dvwC"] {
        if let Some(b) = find_child(entry, VISUAL_FIELDS, kind)? {
            dovi = Some(dolby_vision::parse(&b)?);
            break;
        }
    }
    let dv_entry = dolby_vision::is_dolby_vision_entry(&entry.kind);
    if dv_entry && dovi.is_none() {
        return Err(entry.err(Malformed::Missing("dvcC")));
    }
    let mut supplemental = None;
    if let Some(dv) = dovi {
        if dv_entry {
            codecs = dv.codecs(&entry.kind);
        } else {
            supplemental = Some(Supplemental {
                codecs: dv.codecs(&entry.kind),
                hls_brand: dv.hls_brand(),
            });
        }
    }
    let parameter_sets = match family {
        Family::Avc => avc::parameter_sets(&cfg),
        Family::Hevc => hevc::parameter_sets(&cfg),
        _ => Vec::new(),
    };
    let sar = pasp(entry)?;
    Ok(Some(CodecInfo {
        fourcc: entry.kind,
        family,
        codecs,
        width,
        height,
        sar,
        sample_rate: 0,
        channels: 0,
        nal_length_size,
        parameter_sets,
        dolby_mask: None,
        channel_scheme: None,
        supplemental,
        dolby_vision: dovi.is_some(),
        pcm: None,
    }))
}

/// The pixel aspect ratio of a visual entry's `pasp`, when it has a usable one.
fn pasp(entry: &Bx<'_>) -> Result<Option<(u32, u32)>, BoxError> {
    Ok(match find_child(entry, VISUAL_FIELDS, b"pasp")? {
        Some(p) => {
            let mut r = p.body();
            let (h, v) = (r.u32()?, r.u32()?);
            (h > 0 && v > 0).then_some((h, v))
        }
        None => None,
    })
}

/// Video no player decodes (see `legacy`), described for planning: its size and pixel
/// aspect; `None` when FFmpeg has no decoder here for the entry.
fn legacy_visual(entry: &Bx<'_>) -> Result<Option<CodecInfo>, BoxError> {
    if legacy::decoder(entry)?.is_none() {
        return Ok(None);
    }
    let mut r = entry.body();
    r.skip(24)?;
    let (width, height) = (r.u16()?, r.u16()?);
    let codecs = String::from_utf8_lossy(&entry.kind).trim().to_string();
    Ok(Some(CodecInfo {
        width,
        height,
        sar: pasp(entry)?,
        ..CodecInfo::plain_audio(entry.kind, Family::Legacy, &codecs, 0, 0)
    }))
}

/// Audio no player decodes (AMR narrow- and wideband, 3GPP TS 26.244 6.5): carried
/// only encoded to AAC by a ladder; mono at 8 or 16 kHz.
fn legacy_sound(entry: &Bx<'_>) -> Result<Option<CodecInfo>, BoxError> {
    sound_description(entry)?; // the fields are fixed; a malformed entry still fails
    let rate = if entry.kind == *b"sawb" {
        16_000
    } else {
        8_000
    };
    let codecs = String::from_utf8_lossy(&entry.kind).to_string();
    Ok(Some(CodecInfo::plain_audio(
        entry.kind,
        Family::Legacy,
        &codecs,
        rate,
        1,
    )))
}

fn audio(entry: &Bx<'_>, family: Family) -> Result<Option<CodecInfo>, BoxError> {
    let sound = sound_description(entry)?;
    let (mut channels, mut sample_rate, skip) = (sound.channels, sound.rate, sound.children_at);
    let mut channel_scheme = None;
    let (codecs, config) = match family {
        Family::Aac => {
            let esds = find_child(entry, skip, b"esds")?.or(find_wave_esds(entry, skip)?);
            let esds = esds.ok_or_else(|| entry.err(Malformed::Missing("esds")))?;
            let cfg = aac::parse_esds(&esds)?;
            let config = cfg.asc.as_ref().map(|asc| audio_config::AudioConfig {
                channels: asc.channels,
                sample_rate: asc.sample_rate,
                dolby_mask: None,
            });
            (cfg.codecs(), config.unwrap_or_default())
        }
        Family::Opus | Family::Flac | Family::Ac3 | Family::Eac3 => {
            let (kind, name, codecs): (&[u8; 4], &'static str, &str) = match family {
                Family::Opus => (b"dOps", "dOps", "opus"),
                Family::Flac => (b"dfLa", "dfLa", "flac"),
                Family::Ac3 => (b"dac3", "dac3", "ac-3"),
                _ => (b"dec3", "dec3", "ec-3"),
            };
            let b = find_child(entry, skip, kind)?
                .ok_or_else(|| entry.err(Malformed::Missing(name)))?;
            let config = match family {
                Family::Opus => audio_config::opus(&b)?,
                Family::Flac => audio_config::flac(&b)?,
                Family::Ac3 => audio_config::ac3(&b)?,
                _ => audio_config::eac3(&b)?,
            };
            (codecs.to_string(), config)
        }
        _ => {
            let (codecs, config, scheme) = pass_through(entry, family, skip, channels)?;
            channel_scheme = scheme;
            (codecs, config)
        }
    };
    if config.sample_rate > 0 {
        sample_rate = config.sample_rate;
    }
    if config.channels > 0 {
        channels = config.channels;
    }
    Ok(Some(CodecInfo {
        dolby_mask: config.dolby_mask,
        channel_scheme,
        ..CodecInfo::plain_audio(entry.kind, family, &codecs, sample_rate, channels)
    }))
}

/// Text carried as it is (`wvtt`, `stpp`): a codec string and nothing more.
fn text_entry(entry: &Bx<'_>, family: Family, codecs: String) -> CodecInfo {
    CodecInfo::plain_audio(entry.kind, family, &codecs, 0, 0)
}

impl CodecInfo {
    /// An audio codec with nothing more to say than its rate and channels.
    pub fn plain_audio(
        fourcc: FourCC,
        family: Family,
        codecs: &str,
        rate: u32,
        channels: u16,
    ) -> CodecInfo {
        CodecInfo {
            fourcc,
            family,
            codecs: codecs.into(),
            width: 0,
            height: 0,
            sar: None,
            sample_rate: rate,
            channels,
            nal_length_size: 0,
            parameter_sets: Vec::new(),
            dolby_mask: None,
            channel_scheme: None,
            supplemental: None,
            dolby_vision: false,
            pcm: None,
        }
    }
}

/// Uncompressed audio: described by its layout, transcoded before packaging.
fn pcm(entry: &Bx<'_>) -> Result<Option<CodecInfo>, BoxError> {
    let format = pcm::PcmFormat::parse(entry)?;
    Ok(Some(CodecInfo {
        pcm: Some(format),
        ..CodecInfo::plain_audio(entry.kind, Family::Pcm, "pcm", format.rate, format.channels)
    }))
}

/// The AudioChannelConfiguration schemes besides MPEG's and Dolby's.
const DTS_CHANNELS: &str = "tag:dts.com,2014:dash:audio_channel_configuration:2012";
const CICP_CHANNELS: &str = "urn:mpeg:mpegB:cicp:ChannelConfiguration";

type PassThrough = (
    String,
    audio_config::AudioConfig,
    Option<(&'static str, String)>,
);

/// Codecs carried as they are: the codecs string and parameters from each one's
/// configuration box. `channels` is the sample entry's channel count.
fn pass_through(
    entry: &Bx<'_>,
    family: Family,
    skip: usize,
    channels: u16,
) -> Result<PassThrough, BoxError> {
    let config = |kind: &[u8; 4], name: &'static str| {
        find_child(entry, skip, kind)?.ok_or_else(|| entry.err(Malformed::Missing(name)))
    };
    let fourcc = crate::mp4::header::fourcc_str(&entry.kind);
    Ok(match family {
        Family::Dts => {
            // `dtsx` (DTS:UHD) describes itself in `udts`; the others in `ddts`.
            let cfg = match find_child(entry, skip, b"ddts")? {
                Some(b) => audio_config::dts(&b)?,
                None if &entry.kind == b"dtsx" || &entry.kind == b"dtsy" => {
                    config(b"udts", "udts")?;
                    audio_config::AudioConfig::default()
                }
                None => return Err(entry.err(Malformed::Missing("ddts"))),
            };
            let n = if cfg.channels > 0 {
                cfg.channels
            } else {
                channels
            };
            (fourcc, cfg, Some((DTS_CHANNELS, n.to_string())))
        }
        Family::Alac => (fourcc, audio_config::alac(&config(b"alac", "alac")?)?, None),
        Family::TrueHd => (
            fourcc,
            audio_config::truehd(&config(b"dmlp", "dmlp")?)?,
            None,
        ),
        Family::Ac4 => {
            let (codecs, rate) = audio_config::ac4(&config(b"dac4", "dac4")?)?;
            let cfg = audio_config::AudioConfig {
                sample_rate: rate,
                ..Default::default()
            };
            (codecs, cfg, None)
        }
        Family::MpegH => {
            // `mhm1`/`mhm2` may carry their configuration in band only.
            match find_child(entry, skip, b"mhaC")? {
                Some(b) => {
                    let (profile_level, layout) = audio_config::mpegh(&b)?;
                    (
                        format!("{fourcc}.0x{profile_level:02X}"),
                        Default::default(),
                        Some((CICP_CHANNELS, layout.to_string())),
                    )
                }
                None if entry.kind[2] == b'm' => (fourcc, Default::default(), None),
                None => return Err(entry.err(Malformed::Missing("mhaC"))),
            }
        }
        _ => (
            audio_config::iamf(&config(b"iacb", "iacb")?)?,
            Default::default(),
            None,
        ),
    })
}

/// QuickTime files may put `esds` inside a `wave` box.
pub(crate) fn find_wave_esds<'a>(entry: &Bx<'a>, skip: usize) -> Result<Option<Bx<'a>>, BoxError> {
    match find_child(entry, skip, b"wave")? {
        Some(wave) => find_child(&wave, 0, b"esds"),
        None => Ok(None),
    }
}

/// NAL unit type of the first VCL NAL unit in a length-prefixed sample, if any.
pub(crate) fn first_vcl_nal_type(family: Family, length_size: u8, data: &[u8]) -> Option<u8> {
    let ls = usize::from(length_size);
    if !(1..=4).contains(&ls) {
        return None;
    }
    let mut pos = 0usize;
    while pos + ls < data.len() {
        let mut len = 0usize;
        for &b in &data[pos..pos + ls] {
            len = (len << 8) | usize::from(b);
        }
        pos += ls;
        let header = *data.get(pos)?;
        match family {
            Family::Avc => {
                let t = header & 0x1f;
                if (1..=5).contains(&t) {
                    return Some(t);
                }
            }
            Family::Hevc => {
                let t = (header >> 1) & 0x3f;
                if t < 32 {
                    return Some(t);
                }
            }
            _ => return None,
        }
        pos = pos.checked_add(len)?;
    }
    None
}
