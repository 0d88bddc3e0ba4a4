//! Encrypted input (ISO/IEC 23001-7) as its boxes declare it: the protection of a sample
//! entry (`sinf`: `frma`, `schm`, `schi/tenc`), the clear sample entry under it, and each
//! sample's IV and subsamples (`senc`, PIFF's `senc` in a `uuid` box, or `saiz`/`saio`
//! pointing into the file). Decryption itself is `crypt::decrypt`.

use crate::codec::{AUDIO_FIELDS, VISUAL_FIELDS};
use crate::crypt::Scheme;
use crate::crypt::cipher::SampleAux;
use crate::crypt::decrypt::InputProtection;
use crate::error::{BoxError, Malformed};
use crate::mp4::header::{Bx, FourCC, Reader};
use crate::mp4::sample_table::SampleTable;

/// PIFF 1.1's sample encryption box, a `uuid` box.
pub(crate) const PIFF_SENC: [u8; 16] = [
    0xa2, 0x39, 0x4f, 0x52, 0x5a, 0x9b, 0x4f, 0x14, 0xa2, 0x44, 0x6c, 0x42, 0x7c, 0x64, 0x8d, 0xf4,
];

/// What the `sinf` of a protected sample entry (`encv`, `enca`; ISO/IEC 14496-12 8.12)
/// says: the original format (`frma`) and scheme (`schm`) when present, and the
/// protection when the scheme is one decrypted here (else why not).
pub(crate) struct Sinf {
    pub original: Option<FourCC>,
    pub scheme: Option<FourCC>,
    pub protection: Result<InputProtection, String>,
    /// Where the entry's child boxes begin in its body.
    pub children_at: usize,
}

/// `None` for a clear sample entry.
pub(crate) fn sinf(entry: &Bx<'_>) -> Result<Option<Sinf>, BoxError> {
    let skip = match &entry.kind {
        b"encv" => VISUAL_FIELDS,
        b"enca" => AUDIO_FIELDS,
        _ => return Ok(None),
    };
    let mut original = None;
    let mut scheme = None;
    let mut tenc = None;
    for child in entry.children_after(skip) {
        let child = child?;
        if &child.kind != b"sinf" {
            continue;
        }
        for c in child.children() {
            let c = c?;
            match &c.kind {
                b"frma" => original = Some(fourcc(c.body().bytes(4)?)),
                b"schm" => {
                    let mut r = c.body();
                    r.version_flags()?;
                    scheme = Some(fourcc(r.bytes(4)?));
                }
                b"schi" => {
                    for s in c.children() {
                        let s = s?;
                        if &s.kind == b"tenc" {
                            tenc = Some(parse_tenc(&s)?);
                        }
                    }
                }
                _ => {}
            }
        }
    }
    let protection = match (scheme.as_ref(), tenc) {
        (Some(b"cenc" | b"piff"), Some(t)) => Ok(InputProtection {
            scheme: Scheme::Cenc,
            ..t
        }),
        (Some(b"cbcs"), Some(t)) => Ok(InputProtection {
            scheme: Scheme::Cbcs,
            ..t
        }),
        (Some(other), Some(_)) => Err(format!(
            "its scheme '{}' is not decrypted here (cenc, cbcs and PIFF are)",
            String::from_utf8_lossy(other)
        )),
        _ => Err("its protection (sinf with schm and tenc) is incomplete".into()),
    };
    Ok(Some(Sinf {
        original,
        scheme,
        protection,
        children_at: skip,
    }))
}

fn fourcc(b: &[u8]) -> FourCC {
    [b[0], b[1], b[2], b[3]]
}

fn parse_tenc(b: &Bx<'_>) -> Result<InputProtection, BoxError> {
    let mut r = b.body();
    let (version, _) = r.version_flags()?;
    r.skip(1)?;
    let pattern_byte = r.u8()?;
    let pattern = if version > 0 {
        (pattern_byte >> 4, pattern_byte & 0x0f)
    } else {
        (0, 0)
    };
    let protected = r.u8()?;
    let iv_size = r.u8()?;
    let kid: [u8; 16] = r.bytes(16)?.try_into().unwrap_or_default();
    let constant_iv = if protected == 1 && iv_size == 0 {
        let n = usize::from(r.u8()?);
        let mut iv = [0u8; 16];
        let bytes = r.bytes(n.min(16))?;
        iv[..bytes.len()].copy_from_slice(bytes);
        Some(iv)
    } else {
        None
    };
    if ![0, 8, 16].contains(&iv_size) {
        return Err(b.err(Malformed::InvalidField {
            field: "tenc default_Per_Sample_IV_Size",
            value: i64::from(iv_size),
        }));
    }
    Ok(InputProtection {
        scheme: Scheme::Cenc,
        kid,
        iv_size,
        constant_iv,
        pattern,
    })
}

/// The `stsd` to publish for a protected entry: the entry under its original type, with
/// `sinf` removed (sizes rewritten). Only the first entry is kept.
pub(crate) fn clear_stsd(
    entry: &Bx<'_>,
    skip: usize,
    original: FourCC,
) -> Result<Vec<u8>, BoxError> {
    let body = &entry.raw[entry.header_len..];
    let mut clear = body[..skip.min(body.len())].to_vec();
    for child in entry.children_after(skip) {
        let child = child?;
        if &child.kind != b"sinf" {
            clear.extend_from_slice(child.raw);
        }
    }
    let mut e = ((clear.len() + 8) as u32).to_be_bytes().to_vec();
    e.extend_from_slice(&original);
    e.extend_from_slice(&clear);
    let mut stsd = ((e.len() + 16) as u32).to_be_bytes().to_vec();
    stsd.extend_from_slice(b"stsd");
    stsd.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 1]);
    stsd.extend_from_slice(&e);
    Ok(stsd)
}

/// The entries of one `senc` (or PIFF `uuid` senc) box, `iv_size` bytes of IV each
/// unless the box overrides it (PIFF flag 1). `expected` is the number of samples of its
/// track fragment: a box that says otherwise is refused before anything is allocated
/// (with a constant IV and no subsamples an entry takes no bytes at all).
pub(crate) fn parse_senc(
    b: &Bx<'_>,
    piff: bool,
    iv_size: u8,
    expected: u64,
) -> Result<Vec<SampleAux>, BoxError> {
    let mut r = b.body();
    if piff {
        r.skip(16)?; // the uuid
    }
    let (_, flags) = r.version_flags()?;
    let mut iv_size = usize::from(iv_size);
    if piff && flags & 1 != 0 {
        r.skip(3)?; // AlgorithmID
        iv_size = usize::from(r.u8()?);
        r.skip(16)?; // KID
    }
    let count = r.u32()?;
    if u64::from(count) != expected {
        return Err(b.err(Malformed::CountMismatch {
            table: "senc",
            expected,
            found: u64::from(count),
        }));
    }
    r.check_table(u64::from(count), iv_size as u64, "senc samples")?;
    let mut out = Vec::with_capacity(count as usize);
    for _ in 0..count {
        out.push(read_record(&mut r, iv_size, flags & 2 != 0)?);
    }
    Ok(out)
}

/// One sample's record (ISO/IEC 23001-7 7.2.2): its IV, then, when the scheme uses them,
/// the subsample count and each subsample's clear and protected byte counts.
fn read_record(
    r: &mut Reader<'_>,
    iv_size: usize,
    subsamples: bool,
) -> Result<SampleAux, BoxError> {
    let iv = r.bytes(iv_size)?.to_vec();
    let mut list = Vec::new();
    if subsamples {
        let n = r.u16()?;
        r.check_table(u64::from(n), 6, "subsamples")?;
        for _ in 0..n {
            list.push((r.u16()?, r.u32()?));
        }
    }
    Ok(SampleAux {
        iv,
        subsamples: list,
        clear: false,
    })
}

/// Where a progressive file keeps its samples' auxiliary information when no `senc`
/// holds it: the sizes (`saiz`) and the file offsets (`saio`, one for all samples or
/// one per chunk) of each sample's record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AuxAt {
    /// `(file offset, byte count, sample count)` of each contiguous run of records.
    pub runs: Vec<(u64, u64, u32)>,
    pub sizes: Vec<u8>,
    /// The `saio` box, for messages.
    pub path: String,
    pub at: u64,
}

impl AuxAt {
    /// Reads `saiz` and `saio` against the track's sample table.
    pub fn parse(saiz: &Bx<'_>, saio: &Bx<'_>, table: &SampleTable) -> Result<AuxAt, BoxError> {
        let mut r = saiz.body();
        let (_, flags) = r.version_flags()?;
        if flags & 1 != 0 {
            r.skip(8)?; // aux_info_type and its parameter
        }
        let default = r.u8()?;
        let count = r.u32()?;
        if count != table.count {
            return Err(saiz.err(Malformed::CountMismatch {
                table: "saiz",
                expected: u64::from(table.count),
                found: u64::from(count),
            }));
        }
        let sizes = if default == 0 {
            r.check_table(u64::from(count), 1, "saiz sizes")?;
            r.bytes(count as usize)?.to_vec()
        } else {
            vec![default; count as usize]
        };
        let mut r = saio.body();
        let (version, flags) = r.version_flags()?;
        if flags & 1 != 0 {
            r.skip(8)?;
        }
        let entries = r.u32()?;
        let wide = version == 1;
        r.check_table(u64::from(entries), if wide { 8 } else { 4 }, "saio offsets")?;
        let mut offsets = Vec::with_capacity(entries as usize);
        for _ in 0..entries {
            offsets.push(if wide { r.u64()? } else { u64::from(r.u32()?) });
        }
        // One run for all samples, or one per chunk (14496-12 8.7.9).
        let per_run: Vec<u32> = if entries == 1 {
            vec![count]
        } else if entries as usize == table.chunk_offsets.len() {
            chunk_sample_counts(table)
        } else {
            return Err(saio.err(Malformed::InvalidField {
                field: "saio entry_count (neither 1 nor the number of chunks)",
                value: i64::from(entries),
            }));
        };
        let mut runs = Vec::with_capacity(offsets.len());
        let mut first = 0usize;
        for (offset, n) in offsets.into_iter().zip(per_run) {
            let end = (first + n as usize).min(sizes.len());
            let bytes = sizes[first..end].iter().map(|&b| u64::from(b)).sum();
            runs.push((offset, bytes, (end - first) as u32));
            first = end;
        }
        Ok(AuxAt {
            runs,
            sizes,
            path: saio.path.clone(),
            at: saio.start,
        })
    }

    /// Each sample's IV and subsamples from the bytes of each run (read from the file).
    pub fn records(&self, iv_size: u8, data: &[Vec<u8>]) -> Result<Vec<SampleAux>, BoxError> {
        let mut out = Vec::with_capacity(self.sizes.len());
        let mut sizes = self.sizes.iter();
        for (&(offset, _, n), data) in self.runs.iter().zip(data) {
            let path = format!("{} (auxiliary information)", self.path);
            let mut r = Reader::at(data, offset, path);
            for _ in 0..n {
                let size = usize::from(sizes.next().copied().unwrap_or(0));
                let start = r.offset();
                let iv_len = usize::from(iv_size).min(size);
                let record = read_record(&mut r, iv_len, size > iv_len)?;
                if r.offset() - start != size as u64 {
                    return Err(BoxError::new(
                        self.path.clone(),
                        start,
                        Malformed::InvalidField {
                            field: "saiz sample_info_size (disagrees with its subsample count)",
                            value: size as i64,
                        },
                    ));
                }
                out.push(record);
            }
        }
        Ok(out)
    }
}

/// How many samples each chunk holds, from `stsc`.
fn chunk_sample_counts(table: &SampleTable) -> Vec<u32> {
    let chunks = table.chunk_offsets.len() as u32;
    let mut out = Vec::with_capacity(chunks as usize);
    for (i, e) in table.stsc.iter().enumerate() {
        let next = table
            .stsc
            .get(i + 1)
            .map_or(chunks + 1, |n| n.first_chunk)
            .min(chunks + 1);
        for _ in e.first_chunk..next {
            out.push(e.samples_per_chunk);
        }
    }
    out
}
