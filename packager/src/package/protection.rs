//! The protection set-up: decryption keys found for encrypted input, and for each
//! output track its key, IVs, clear lead and how the MPD signals it.

use std::collections::HashMap;

use super::*;
use crate::carriage::CheckedTrack;
use crate::crypt::{self, ClearKey, Encryption, Pssh, Scheme};
use crate::described::RepProtection;
use crate::layout::ContentType;
use crate::segment::build::TrackProtection;
use crate::source::Input;
use crate::{Error, Result};

/// The encryption options, checked against the tracks before anything is written.
fn check_encryption(p: &Prepared, enc: &Encryption) -> Result<()> {
    let invalid = |name: &'static str, reason: String| Error::InvalidOption { name, reason };
    if enc.keys.is_empty() {
        return Err(invalid("encryption_key", "no key given".into()));
    }
    if !enc.clear_lead.is_finite() || enc.clear_lead < 0.0 {
        return Err(invalid(
            "clear_lead",
            format!("{} is not a number of seconds >= 0", enc.clear_lead),
        ));
    }
    for k in &enc.keys {
        if let crypt::KeyScope::Representation(id) = &k.scope
            && !p.tracks.iter().any(|o| &o.rep_id == id)
        {
            let ids: Vec<&str> = p.tracks.iter().map(|o| o.rep_id.as_str()).collect();
            return Err(invalid(
                "encryption_key",
                format!("a key names {id:?}, which is not one of {}", ids.join(", ")),
            ));
        }
    }
    if let Some(ClearKey::LicenseUrl(url)) = &enc.clearkey
        && url.trim().is_empty()
    {
        return Err(invalid("clearkey", "the license URL is empty".into()));
    }
    Ok(())
}

/// Whether a track can be encrypted here.
fn encryptable(file: &str, c: &CheckedTrack, rep_id: &str) -> Result<()> {
    let codec = &c.track.codec;
    if !codec.family.encryptable() || codec.dolby_vision {
        return Err(Error::Unsupported {
            file: file.to_string(),
            what: format!(
                "encrypting {} ({}): Common Encryption is written here for H.264, \
                 HEVC (without Dolby Vision), AAC, Opus, FLAC, AC-3 and E-AC-3 only",
                crate::mp4::header::fourcc_str(&codec.fourcc),
                rep_id
            ),
        });
    }
    if !c.track.inband.is_empty() {
        return Err(Error::Unsupported {
            file: file.to_string(),
            what: format!(
                "encrypting {}: its sample entries differ, so its parameter sets go in \
                 band, which is not encrypted here",
                rep_id
            ),
        });
    }
    Ok(())
}

/// The key, IV and clear lead of every track, or `None` each without encryption.
pub(super) fn protections(
    p: &Prepared,
    inputs: &[Input],
    enc: Option<&Encryption>,
    warnings: &mut Vec<String>,
) -> Result<Vec<Option<TrackProtection>>> {
    let Some(enc) = enc else {
        return Ok(vec![None; p.tracks.len()]);
    };
    check_encryption(p, enc)?;
    let invalid = |name: &'static str, reason: String| Error::InvalidOption { name, reason };
    let mut out = Vec::with_capacity(p.tracks.len());
    let mut iv_reuse: HashMap<([u8; 16], Vec<u8>), usize> = HashMap::new();
    for o in &p.tracks {
        let c = p.checked(o);
        if c.track.kind == ContentType::Text {
            // Subtitles stay clear, as with sidecar files: players read them without a key.
            out.push(None);
            continue;
        }
        let video = c.track.kind == ContentType::Video;
        encryptable(inputs[o.input].name(), c, &o.rep_id)?;
        let key = enc.key_for(&o.rep_id, video).ok_or_else(|| {
            invalid(
                "encryption_key",
                format!(
                    "no key applies to {} (give one without a prefix, or prefixed {}: or {}:)",
                    o.rep_id,
                    c.track.kind.as_str(),
                    o.rep_id
                ),
            )
        })?;
        let mut iv = [0u8; 16];
        match (&key.iv, enc.scheme) {
            (Some(given), Scheme::Cenc) if given.len() == 8 => {
                iv[..8].copy_from_slice(given);
                *iv_reuse.entry((key.kid, given.clone())).or_default() += 1;
            }
            (Some(_), Scheme::Cenc) => {
                return Err(invalid(
                    "encryption_key",
                    "cenc takes an 8-byte IV (16 hex digits)".into(),
                ));
            }
            (Some(given), Scheme::Cbcs) => iv[..given.len()].copy_from_slice(given),
            (None, scheme) => {
                let len = if scheme == Scheme::Cenc { 8 } else { 16 };
                getrandom::fill(&mut iv[..len])
                    .map_err(|e| Error::internal(format!("cannot draw random IVs: {e}")))?;
            }
        }
        let ts = f64::from(c.track.timescale);
        let start = o.plan.segments.first().map_or(0, |s| s.ept);
        let clear_segments = o
            .plan
            .segments
            .iter()
            .take_while(|s| (s.ept - start) as f64 / ts < enc.clear_lead)
            .count();
        let mut pssh = vec![Pssh::build(crypt::COMMON_SYSTEM_ID, &[key.kid], &[])];
        pssh.extend(enc.pssh.iter().cloned());
        out.push(Some(TrackProtection {
            scheme: enc.scheme,
            key: key.clone(),
            iv,
            clear_segments,
            pssh,
        }));
    }
    if iv_reuse.values().any(|&n| n > 1) {
        warnings.push(
            "several tracks are encrypted with the same key and the same given IV: their key streams \
             repeat; give each track its own key or IV, or let dashpack draw random IVs"
                .into(),
        );
    }
    Ok(out)
}

/// The ClearKey license URL the MPD names: the given one, or for inline keys a `data:`
/// URL with every key of the presentation (players may send all their license
/// requests to the first URL they find).
pub(super) fn clearkey_laurl(
    enc: Option<&Encryption>,
    tracks: &[Option<TrackProtection>],
) -> Option<String> {
    match enc?.clearkey.as_ref()? {
        ClearKey::LicenseUrl(url) => Some(url.clone()),
        ClearKey::Inline => {
            let mut keys: Vec<&crypt::EncryptionKey> = Vec::new();
            for t in tracks.iter().flatten() {
                if !keys.iter().any(|k| k.kid == t.key.kid) {
                    keys.push(&t.key);
                }
            }
            Some(Encryption::clearkey_data_url(&keys))
        }
    }
}

pub(super) fn rep_protection<'a>(
    t: &'a TrackProtection,
    laurl: &Option<String>,
) -> RepProtection<'a> {
    RepProtection {
        scheme: t.scheme,
        kid: t.key.kid,
        pssh: &t.pssh,
        clearkey_laurl: laurl.clone(),
    }
}
