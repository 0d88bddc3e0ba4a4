//! Common Encryption boxes (ISO/IEC 23001-7): the protected sample entry (`encv`/`enca`
//! with `sinf`: `frma`, `schm`, `schi/tenc`) and `pssh` for the init segment; `saiz`,
//! `saio` and `senc` for each `traf`.

use super::{put_u16, put_u32, write_box, write_full_box};
use crate::crypt::cipher::SampleAux;
use crate::crypt::{Pssh, Scheme};
use crate::mp4::header::parse_header;

/// What the init segment says about a protected track.
pub(crate) struct InitProtection {
    pub scheme: Scheme,
    pub kid: [u8; 16],
    pub per_sample_iv_size: u8,
    pub constant_iv: Option<[u8; 16]>,
    /// crypt:skip blocks (`tenc` version 1, cbcs).
    pub pattern: (u8, u8),
    /// Also keep the clear sample entry, as entry 2, for clear-lead segments.
    pub clear_entry: bool,
}

/// What one `traf` says about its protection.
pub(crate) struct TrafProtection<'a> {
    /// `Some(2)` for clear-lead segments, which point at the clear sample entry.
    pub sample_description_index: Option<u32>,
    /// Per-sample IVs and subsamples; `None` for a clear segment.
    pub aux: Option<&'a [SampleAux]>,
}

/// The track's `stsd` with its first entry protected: the entry's type becomes `encv`
/// or `enca` and a `sinf` naming the original type is appended to it. `None` when the
/// `stsd` bytes do not have the expected layout.
pub(crate) fn protected_stsd(stsd: &[u8], video: bool, p: &InitProtection) -> Option<Vec<u8>> {
    let (_, _, header_len) = parse_header(stsd, stsd.len() as u64).ok()?;
    let entry_at = header_len + 8;
    let rest = stsd.get(entry_at..)?;
    let (fourcc, entry_size, entry_header) = parse_header(rest, rest.len() as u64).ok()?;
    let entry = rest.get(..usize::try_from(entry_size).ok()?)?;
    let mut protected = Vec::with_capacity(entry.len() + 128);
    // The entry is rewritten with a 32-bit header so its size can be set afterwards.
    write_box(
        &mut protected,
        if video { b"encv" } else { b"enca" },
        |buf| {
            buf.extend_from_slice(&entry[entry_header..]);
            write_box(buf, b"sinf", |buf| {
                write_box(buf, b"frma", |buf| buf.extend_from_slice(&fourcc));
                write_full_box(buf, b"schm", 0, 0, |buf| {
                    buf.extend_from_slice(p.scheme.fourcc());
                    put_u32(buf, 0x0001_0000);
                });
                write_box(buf, b"schi", |buf| write_tenc(buf, p));
            });
        },
    );
    let mut out = Vec::with_capacity(stsd.len() + protected.len());
    write_full_box(&mut out, b"stsd", 0, 0, |buf| {
        put_u32(buf, if p.clear_entry { 2 } else { 1 });
        buf.extend_from_slice(&protected);
        if p.clear_entry {
            buf.extend_from_slice(entry);
        }
    });
    Some(out)
}

fn write_tenc(buf: &mut Vec<u8>, p: &InitProtection) {
    let version = u8::from(p.scheme == Scheme::Cbcs);
    write_full_box(buf, b"tenc", version, 0, |buf| {
        buf.push(0);
        buf.push(if version == 1 {
            (p.pattern.0 << 4) | (p.pattern.1 & 0x0f)
        } else {
            0
        });
        buf.push(1); // default_isProtected
        buf.push(p.per_sample_iv_size);
        buf.extend_from_slice(&p.kid);
        if p.per_sample_iv_size == 0
            && let Some(iv) = p.constant_iv
        {
            buf.push(16);
            buf.extend_from_slice(&iv);
        }
    });
}

pub(crate) fn write_pssh(buf: &mut Vec<u8>, pssh: &[Pssh]) {
    for p in pssh {
        buf.extend_from_slice(p.as_bytes());
    }
}

/// `saiz`, `saio` and `senc` for the samples of one `traf`. The `saio` offset points at
/// the first sample's entry inside `senc`, counted from the first byte of the `moof`
/// (`default-base-is-moof`).
pub(crate) fn write_sample_encryption(buf: &mut Vec<u8>, moof_start: usize, aux: &[SampleAux]) {
    let sizes: Vec<u8> = aux.iter().map(SampleAux::size).collect();
    // A default size of 0 means "sizes in the table that follows" (14496-12 8.7.8).
    let uniform = sizes
        .first()
        .copied()
        .filter(|&s| s > 0 && sizes.iter().all(|&x| x == s));
    write_full_box(buf, b"saiz", 0, 0, |buf| {
        buf.push(uniform.unwrap_or(0));
        put_u32(buf, aux.len() as u32);
        if uniform.is_none() {
            buf.extend_from_slice(&sizes);
        }
    });
    let mut offset_pos = 0;
    write_full_box(buf, b"saio", 0, 0, |buf| {
        put_u32(buf, 1);
        offset_pos = buf.len();
        put_u32(buf, 0);
    });
    let subsamples = aux.iter().any(|a| !a.subsamples.is_empty());
    let mut first_entry = 0;
    write_full_box(buf, b"senc", 0, if subsamples { 2 } else { 0 }, |buf| {
        put_u32(buf, aux.len() as u32);
        first_entry = buf.len();
        for a in aux {
            buf.extend_from_slice(&a.iv);
            if subsamples {
                put_u16(buf, a.subsamples.len() as u16);
                for &(clear, protected) in &a.subsamples {
                    put_u16(buf, clear);
                    put_u32(buf, protected);
                }
            }
        }
    });
    let offset = (first_entry - moof_start) as u32;
    buf[offset_pos..offset_pos + 4].copy_from_slice(&offset.to_be_bytes());
}
