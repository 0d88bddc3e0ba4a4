//! Sample encryption: AES-128 CTR for `cenc`, AES-128 CBC with a 1:9 block pattern and
//! a constant IV for `cbcs` (ISO/IEC 23001-7 9.5, 10.1, 10.4).

use aes::Aes128;
use aes::cipher::generic_array::GenericArray;
use aes::cipher::{BlockEncryptMut, KeyIvInit, StreamCipher};

use super::Scheme;

/// `(BytesOfClearData, BytesOfProtectedData)` of one subsample.
pub(crate) type Subsample = (u16, u32);

/// The crypt:skip pattern `cbcs` uses for video: one block of ten encrypted.
pub(crate) const VIDEO_PATTERN: (u8, u8) = (1, 9);

/// What the `senc` records for one sample.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct SampleAux {
    /// The per-sample IV (empty for `cbcs`, whose IV is constant).
    pub iv: Vec<u8>,
    /// Empty for whole-sample encryption.
    pub subsamples: Vec<Subsample>,
    /// Input only: a sample of a protected track left clear (a clear lead).
    pub clear: bool,
}

impl SampleAux {
    /// Size of this sample's auxiliary information (`saiz`).
    pub fn size(&self) -> u8 {
        let subs = if self.subsamples.is_empty() {
            0
        } else {
            2 + 6 * self.subsamples.len()
        };
        u8::try_from(self.iv.len() + subs).unwrap_or(u8::MAX)
    }
}

/// Encryption state of one track: its key, IVs and pattern.
pub(crate) struct TrackCipher {
    scheme: Scheme,
    key: [u8; 16],
    /// cenc: the next sample's IV (8 bytes, counting up); cbcs: the constant IV.
    iv: [u8; 16],
    /// Crypt and skip blocks (cbcs video); (0, 0) means every full block.
    pattern: (u8, u8),
}

impl TrackCipher {
    pub fn new(scheme: Scheme, key: [u8; 16], iv: [u8; 16], video: bool) -> TrackCipher {
        let pattern = if scheme == Scheme::Cbcs && video {
            VIDEO_PATTERN
        } else {
            (0, 0)
        };
        TrackCipher {
            scheme,
            key,
            iv,
            pattern,
        }
    }

    pub fn pattern(&self) -> (u8, u8) {
        self.pattern
    }

    /// Bytes of per-sample IV in `senc` (8 for cenc, 0 for cbcs).
    pub fn per_sample_iv_size(&self) -> u8 {
        match self.scheme {
            Scheme::Cenc => 8,
            Scheme::Cbcs => 0,
        }
    }

    /// The constant IV `tenc` carries (cbcs only).
    pub fn constant_iv(&self) -> Option<[u8; 16]> {
        (self.scheme == Scheme::Cbcs).then_some(self.iv)
    }

    /// Encrypt one sample in place. `subsamples` covers the whole sample (clear then
    /// protected bytes, in order) or is empty for whole-sample encryption.
    pub fn encrypt(&mut self, data: &mut [u8], subsamples: Vec<Subsample>) -> SampleAux {
        match self.scheme {
            Scheme::Cenc => {
                let iv = self.iv;
                // The protected ranges of one sample form one continuous key stream.
                let mut ctr = ctr::Ctr64BE::<Aes128>::new(&self.key.into(), &iv.into());
                for_each_protected(data, &subsamples, |range| ctr.apply_keystream(range));
                // The next sample's IV: the 64-bit IV plus one.
                let next = u64::from_be_bytes(iv[..8].try_into().unwrap_or([0; 8])).wrapping_add(1);
                self.iv[..8].copy_from_slice(&next.to_be_bytes());
                SampleAux {
                    clear: false,
                    iv: iv[..8].to_vec(),
                    subsamples,
                }
            }
            Scheme::Cbcs => {
                let (key, iv, pattern) = (self.key, self.iv, self.pattern);
                // Each subsample starts again from the constant IV (23001-7 10.4.2).
                for_each_protected(data, &subsamples, |range| {
                    cbc_pattern(&key, &iv, pattern, range)
                });
                SampleAux {
                    clear: false,
                    iv: Vec::new(),
                    subsamples,
                }
            }
        }
    }
}

fn for_each_protected(data: &mut [u8], subsamples: &[Subsample], mut f: impl FnMut(&mut [u8])) {
    if subsamples.is_empty() {
        f(data);
        return;
    }
    let mut at = 0usize;
    for &(clear, protected) in subsamples {
        at += usize::from(clear);
        let end = (at + protected as usize).min(data.len());
        if at < end {
            f(&mut data[at..end]);
        }
        at = end;
    }
}

/// CBC over the crypt blocks of a `crypt:skip` pattern; the chain runs through the
/// encrypted blocks only, and a trailing partial block stays clear.
pub(crate) fn cbc_pattern(key: &[u8; 16], iv: &[u8; 16], (crypt, skip): (u8, u8), data: &mut [u8]) {
    let mut cbc = cbc::Encryptor::<Aes128>::new(key.into(), iv.into());
    let blocks = data.len() / 16;
    let (crypt, skip) = if crypt == 0 && skip == 0 {
        (blocks.max(1), 0)
    } else {
        (usize::from(crypt), usize::from(skip))
    };
    let mut b = 0usize;
    while b < blocks {
        for _ in 0..crypt.min(blocks - b) {
            cbc.encrypt_block_mut(GenericArray::from_mut_slice(&mut data[b * 16..b * 16 + 16]));
            b += 1;
        }
        b += skip;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    const NIST_KEY: &str = "2b7e151628aed2a6abf7158809cf4f3c";
    const NIST_PLAIN: &str = "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51\
                              30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710";

    /// NIST SP 800-38A F.5.1 (CTR-AES128.Encrypt): its initial counter block is an
    /// 8-byte IV followed by a 64-bit block counter, exactly cenc's layout.
    #[test]
    fn cenc_matches_nist_ctr_vector() {
        let key: [u8; 16] = unhex(NIST_KEY).try_into().unwrap();
        let iv: [u8; 16] = unhex("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff")
            .try_into()
            .unwrap();
        let mut data = unhex(NIST_PLAIN);
        let mut c = TrackCipher::new(Scheme::Cenc, key, iv, false);
        let aux = c.encrypt(&mut data, Vec::new());
        assert_eq!(
            data,
            unhex(
                "874d6191b620e3261bef6864990db6ce9806f66b7970fdff8617187bb9fffdff\
                 5ae4df3edbd5d35e5b4f09020db03eab1e031dda2fbe03d1792170a0f3009cee"
            )
        );
        assert_eq!(aux.iv, unhex("f0f1f2f3f4f5f6f7"));
        assert!(aux.subsamples.is_empty());
        // The next sample's IV counts up by one in its high 64 bits.
        let aux = c.encrypt(&mut [0u8; 3], Vec::new());
        assert_eq!(aux.iv, unhex("f0f1f2f3f4f5f6f8"));
    }

    /// NIST SP 800-38A F.2.1 (CBC-AES128.Encrypt): whole-block cbcs (audio, 0:0).
    #[test]
    fn cbcs_matches_nist_cbc_vector() {
        let key: [u8; 16] = unhex(NIST_KEY).try_into().unwrap();
        let iv: [u8; 16] = unhex("000102030405060708090a0b0c0d0e0f")
            .try_into()
            .unwrap();
        let mut data = unhex(NIST_PLAIN);
        data.extend_from_slice(b"tail"); // a partial block stays clear
        TrackCipher::new(Scheme::Cbcs, key, iv, false).encrypt(&mut data, Vec::new());
        assert_eq!(
            data[..64],
            unhex(
                "7649abac8119b246cee98e9b12e9197d5086cb9b507219ee95db113a917678b2\
                 73bed6b8e3c1743b7116e69e222295163ff1caa1681fac09120eca307586e1a7"
            )[..]
        );
        assert_eq!(&data[64..], b"tail");
    }

    /// The 1:9 pattern against the NIST chain: block 0 of each ten is the next block
    /// of the CBC chain; the nine after it and the partial tail stay clear; the chain
    /// restarts at the constant IV in each subsample; cenc's key stream runs on across
    /// the protected ranges of a sample.
    #[test]
    fn subsample_layouts() {
        let key: [u8; 16] = unhex(NIST_KEY).try_into().unwrap();
        let iv: [u8; 16] = unhex("000102030405060708090a0b0c0d0e0f")
            .try_into()
            .unwrap();
        let plain = unhex(NIST_PLAIN);
        let cbc_ct = unhex(
            "7649abac8119b246cee98e9b12e9197d5086cb9b507219ee95db113a917678b2\
             73bed6b8e3c1743b7116e69e222295163ff1caa1681fac09120eca307586e1a7",
        );
        // 5 clear bytes, then 20 blocks + 7 bytes protected whose crypt blocks are the
        // NIST plaintext blocks 1 and 2 (at block 0 and block 10).
        let mut sample = vec![0xAAu8; 5 + 20 * 16 + 7];
        sample[5..21].copy_from_slice(&plain[..16]);
        sample[5 + 160..5 + 176].copy_from_slice(&plain[16..32]);
        let before = sample.clone();
        let mut c = TrackCipher::new(Scheme::Cbcs, key, iv, true);
        let aux = c.encrypt(&mut sample, vec![(5, 20 * 16 + 7)]);
        assert!(aux.iv.is_empty());
        assert_eq!(&sample[5..21], &cbc_ct[..16]);
        assert_eq!(&sample[165..181], &cbc_ct[16..32]);
        let changed: Vec<usize> = (0..sample.len())
            .filter(|&i| sample[i] != before[i])
            .collect();
        assert!(
            changed
                .iter()
                .all(|&i| (5..21).contains(&i) || (165..181).contains(&i))
        );

        // Two subsamples: each restarts from the constant IV.
        let mut two = vec![0u8; 2 + 16 + 3 + 16];
        two[2..18].copy_from_slice(&plain[..16]);
        two[21..37].copy_from_slice(&plain[..16]);
        TrackCipher::new(Scheme::Cbcs, key, iv, true).encrypt(&mut two, vec![(2, 16), (3, 16)]);
        assert_eq!(&two[2..18], &cbc_ct[..16]);
        assert_eq!(&two[21..37], &cbc_ct[..16]);

        // cenc: the key stream continues from one protected range to the next.
        let ctr_iv: [u8; 16] = unhex("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff")
            .try_into()
            .unwrap();
        let mut s = vec![0u8; 3 + 10 + 4 + 54];
        s[3..13].copy_from_slice(&plain[..10]);
        s[17..71].copy_from_slice(&plain[10..64]);
        TrackCipher::new(Scheme::Cenc, key, ctr_iv, true).encrypt(&mut s, vec![(3, 10), (4, 54)]);
        let mut joined = s[3..13].to_vec();
        joined.extend_from_slice(&s[17..71]);
        assert_eq!(
            joined,
            unhex(
                "874d6191b620e3261bef6864990db6ce9806f66b7970fdff8617187bb9fffdff\
                 5ae4df3edbd5d35e5b4f09020db03eab1e031dda2fbe03d1792170a0f3009cee"
            )
        );
        assert_eq!(&s[..3], &[0, 0, 0]);
        assert_eq!(&s[13..17], &[0, 0, 0, 0]);
    }
}
