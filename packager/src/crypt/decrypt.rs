//! Decryption of `cenc` (AES-CTR) and `cbcs` (AES-CBC, pattern) input samples with the
//! keys the caller gives (ISO/IEC 23001-7). What the boxes declare is read by
//! `mp4::cenc`; this module knows keys and ciphers only.

use aes::Aes128;
use aes::cipher::generic_array::GenericArray;
use aes::cipher::{BlockDecryptMut, KeyIvInit, StreamCipher};

use super::Scheme;
use super::cipher::{SampleAux, Subsample};

/// What a protected sample entry declares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct InputProtection {
    pub scheme: Scheme,
    pub kid: [u8; 16],
    /// Bytes of per-sample IV in `senc` (0 with a constant IV).
    pub iv_size: u8,
    pub constant_iv: Option<[u8; 16]>,
    /// Crypt and skip blocks (`cbcs`); (0, 0) for every block.
    pub pattern: (u8, u8),
}

/// Decrypts one sample in place.
pub(crate) fn decrypt(p: &InputProtection, key: &[u8; 16], aux: &SampleAux, data: &mut [u8]) {
    if aux.clear {
        return;
    }
    let mut iv = [0u8; 16];
    match p.constant_iv {
        Some(c) if aux.iv.is_empty() => iv = c,
        _ => iv[..aux.iv.len().min(16)].copy_from_slice(&aux.iv[..aux.iv.len().min(16)]),
    }
    let ranges = protected_ranges(data.len(), &aux.subsamples);
    match p.scheme {
        Scheme::Cenc => {
            // One key stream across the protected ranges of a sample.
            let mut ctr = ctr::Ctr64BE::<Aes128>::new(key.into(), &iv.into());
            for (start, end) in ranges {
                ctr.apply_keystream(&mut data[start..end]);
            }
        }
        Scheme::Cbcs => {
            // Each subsample restarts from the IV; a pattern of crypt:skip blocks, the
            // chain through the crypt blocks only, a trailing partial block clear.
            for (start, end) in ranges {
                let range = &mut data[start..end];
                let mut cbc = cbc::Decryptor::<Aes128>::new(key.into(), &iv.into());
                let blocks = range.len() / 16;
                let (crypt, skip) = match p.pattern {
                    (0, 0) => (blocks.max(1), 0),
                    (c, s) => (usize::from(c), usize::from(s)),
                };
                let mut b = 0usize;
                while b < blocks {
                    for _ in 0..crypt.min(blocks - b) {
                        let block = &mut range[b * 16..b * 16 + 16];
                        cbc.decrypt_block_mut(GenericArray::from_mut_slice(block));
                        b += 1;
                    }
                    b += skip;
                }
            }
        }
    }
}

/// (start, end) of each protected range; the whole sample without subsamples.
fn protected_ranges(len: usize, subsamples: &[Subsample]) -> Vec<(usize, usize)> {
    if subsamples.is_empty() {
        return vec![(0, len)];
    }
    let mut out = Vec::with_capacity(subsamples.len());
    let mut at = 0usize;
    for &(clear, protected) in subsamples {
        at = (at + usize::from(clear)).min(len);
        let end = (at + protected as usize).min(len);
        out.push((at, end));
        at = end;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypt::cipher::TrackCipher;

    #[test]
    fn decrypts_what_the_encryptor_wrote() {
        let key = [7u8; 16];
        let clear: Vec<u8> = (0..300u32).map(|i| (i * 7) as u8).collect();
        for (scheme, video) in [
            (Scheme::Cenc, true),
            (Scheme::Cbcs, true),
            (Scheme::Cbcs, false),
        ] {
            // As dashpack draws them: an 8-byte cenc IV (counter half zero), a
            // 16-byte cbcs constant IV.
            let iv = if scheme == Scheme::Cenc {
                [3, 3, 3, 3, 3, 3, 3, 3, 0, 0, 0, 0, 0, 0, 0, 0]
            } else {
                [3u8; 16]
            };
            let mut c = TrackCipher::new(scheme, key, iv, video);
            let mut data = clear.clone();
            let subs = vec![(20u16, 160u32), (4, 116)];
            let aux = c.encrypt(&mut data, subs);
            assert_ne!(data, clear);
            let p = InputProtection {
                scheme,
                kid: [0; 16],
                iv_size: c.per_sample_iv_size(),
                constant_iv: c.constant_iv(),
                pattern: c.pattern(),
            };
            decrypt(&p, &key, &aux, &mut data);
            assert_eq!(data, clear, "{scheme:?}");
        }
    }
}
