//! Common Encryption (ISO/IEC 23001-7): the options users give, the per-track cipher
//! state, and the subsample layout of NAL-structured video. The boxes that signal it
//! are written by `mp4::write::cenc`, the MPD elements by `mpd`.

pub(crate) mod cipher;
pub(crate) mod decrypt;
pub(crate) mod subsample;

use std::fmt;
use std::str::FromStr;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// Which Common Encryption scheme protects the samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
#[non_exhaustive]
pub enum Scheme {
    /// AES-CTR, 8-byte per-sample IVs, every byte after the clear headers encrypted.
    #[default]
    Cenc,
    /// AES-CBC with a constant IV; video encrypts one 16-byte block in ten (1:9 pattern).
    Cbcs,
}

impl Scheme {
    pub(crate) fn fourcc(self) -> &'static [u8; 4] {
        match self {
            Scheme::Cenc => b"cenc",
            Scheme::Cbcs => b"cbcs",
        }
    }

    /// `cenc` or `cbcs`: the scheme type `schm` carries.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Cenc => "cenc",
            Scheme::Cbcs => "cbcs",
        }
    }
}

impl FromStr for Scheme {
    type Err = crate::Error;

    fn from_str(s: &str) -> Result<Self, crate::Error> {
        Self::parse_str(s).map_err(|e| crate::Error::option("encryption_scheme", e))
    }
}

impl Scheme {
    fn parse_str(s: &str) -> Result<Self, String> {
        match s {
            "cenc" => Ok(Scheme::Cenc),
            "cbcs" => Ok(Scheme::Cbcs),
            other => Err(format!(
                "unknown encryption scheme {other:?} (expected cenc or cbcs)"
            )),
        }
    }
}

/// The tracks a key applies to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyScope {
    /// Every track without a more specific key.
    All,
    /// Every video track without a Representation's own key.
    Video,
    /// Every audio track without a Representation's own key.
    Audio,
    /// One Representation by its id (`video-1`, `audio-2`, ...).
    Representation(String),
}

/// One content key: `[SCOPE:]KID:KEY[:IV]` in hex, as `mp4dash --encryption-key` takes
/// it, where SCOPE is `video`, `audio` or a Representation id. The key never appears in
/// `Debug` output.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct EncryptionKey {
    /// The tracks it applies to.
    pub scope: KeyScope,
    /// The key ID (`tenc`, `cenc:default_KID`).
    pub kid: [u8; 16],
    /// The AES-128 content key.
    pub key: [u8; 16],
    /// cenc: the first sample's 8-byte IV (the rest count up from it); cbcs: the
    /// constant 16-byte IV (8 bytes are padded with zeros). Random when absent.
    pub iv: Option<Vec<u8>>,
}

impl fmt::Debug for EncryptionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EncryptionKey")
            .field("scope", &self.scope)
            .field("kid", &hex(&self.kid))
            .field("key", &"<redacted>")
            .field("iv", &self.iv.as_ref().map(|v| hex(v)))
            .finish()
    }
}

impl EncryptionKey {
    /// Parse a comma-separated list of key specifications.
    pub fn parse_list(s: &str) -> Result<Vec<EncryptionKey>, crate::Error> {
        Self::parse_list_str(s).map_err(|e| crate::Error::option("encryption_key", e))
    }

    fn parse_list_str(s: &str) -> Result<Vec<EncryptionKey>, String> {
        s.split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(EncryptionKey::parse_str)
            .collect()
    }

    /// A key for every track (narrow it with [`EncryptionKey::with_scope`]), with a
    /// random IV unless one is given ([`EncryptionKey::with_iv`]).
    pub fn new(kid: [u8; 16], key: [u8; 16]) -> Self {
        EncryptionKey {
            scope: KeyScope::All,
            kid,
            key,
            iv: None,
        }
    }

    /// The tracks this key applies to.
    pub fn with_scope(mut self, scope: KeyScope) -> Self {
        self.scope = scope;
        self
    }

    /// cenc: the first sample's 8-byte IV; cbcs: the constant IV (8 or 16 bytes).
    pub fn with_iv(mut self, iv: Vec<u8>) -> Self {
        self.iv = Some(iv);
        self
    }

    /// The key ID as the MPD writes it (`cenc:default_KID`): a UUID string.
    pub fn kid_uuid(&self) -> String {
        uuid_string(&self.kid)
    }
}

impl FromStr for EncryptionKey {
    type Err = crate::Error;

    fn from_str(s: &str) -> Result<Self, crate::Error> {
        Self::parse_str(s).map_err(|e| crate::Error::option("encryption_key", e))
    }
}

impl EncryptionKey {
    fn parse_str(s: &str) -> Result<Self, String> {
        let parts: Vec<&str> = s.split(':').collect();
        let is_hex32 = |p: &str| p.len() == 32 && p.bytes().all(|b| b.is_ascii_hexdigit());
        let (scope, rest) = match parts.first() {
            Some(first) if !is_hex32(first) => {
                let scope = match *first {
                    "video" => KeyScope::Video,
                    "audio" => KeyScope::Audio,
                    "" => return Err("empty track scope before the key ID".into()),
                    id => KeyScope::Representation(id.to_string()),
                };
                (scope, &parts[1..])
            }
            _ => (KeyScope::All, &parts[..]),
        };
        let (kid, key, iv) = match rest {
            [kid, key] => (kid, key, None),
            [kid, key, iv] => (kid, key, Some(*iv)),
            _ => {
                return Err("expected [video:|audio:|REPRESENTATION:]KID:KEY[:IV] in hex".into());
            }
        };
        let (kid, key) = kid_and_key(kid, key)?;
        let iv = match iv {
            Some(iv) => Some(
                unhex(iv)
                    .filter(|v| v.len() == 8 || v.len() == 16)
                    .ok_or("the IV must be 16 or 32 hex digits")?,
            ),
            None => None,
        };
        Ok(EncryptionKey {
            scope,
            kid,
            key,
            iv,
        })
    }
}

/// A content key to decrypt input with: `KID:KEY` in hex. Never shown by `Debug`.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DecryptionKey {
    /// The key ID the input's `tenc` names.
    pub kid: [u8; 16],
    /// The AES-128 content key.
    pub key: [u8; 16],
}

impl DecryptionKey {
    /// The key for input whose `tenc` names `kid`.
    pub fn new(kid: [u8; 16], key: [u8; 16]) -> Self {
        DecryptionKey { kid, key }
    }
}

impl fmt::Debug for DecryptionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DecryptionKey")
            .field("kid", &hex(&self.kid))
            .field("key", &"<redacted>")
            .finish()
    }
}

impl FromStr for DecryptionKey {
    type Err = crate::Error;

    fn from_str(s: &str) -> Result<Self, crate::Error> {
        match s.split(':').collect::<Vec<_>>()[..] {
            [kid, key] => kid_and_key(kid, key).map(|(kid, key)| DecryptionKey { kid, key }),
            _ => Err("expected KID:KEY (32 hex digits each)".into()),
        }
        .map_err(|e| crate::Error::option("decryption_key", e))
    }
}

/// The key ID and key of a key specification, 32 hex digits each: one reading for
/// encryption and decryption keys.
fn kid_and_key(kid: &str, key: &str) -> Result<([u8; 16], [u8; 16]), String> {
    let bytes16 = |part: &str, what: &str| -> Result<[u8; 16], String> {
        unhex(part.trim())
            .and_then(|v| <[u8; 16]>::try_from(v).ok())
            .ok_or_else(|| format!("the {what} must be 32 hex digits"))
    };
    Ok((bytes16(kid, "key ID")?, bytes16(key, "key")?))
}

/// How players find the ClearKey keys (W3C Encrypted Media Extensions "org.w3.clearkey").
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClearKey {
    /// The license server's URL, written as `dashif:Laurl`.
    LicenseUrl(String),
    /// The keys themselves, as a `data:` license URL in the MPD: for tests only, anyone
    /// who can read the MPD can decrypt.
    Inline,
}

/// A complete `pssh` box (ISO/IEC 23001-7 8.1) for a DRM system (Widevine, PlayReady,
/// ...), written into every init segment and into the MPD as `cenc:pssh`.
#[derive(Clone, PartialEq, Eq)]
pub struct Pssh {
    raw: Vec<u8>,
}

impl fmt::Debug for Pssh {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pssh({})", self.system_uuid())
    }
}

/// W3C Common PSSH system ID, used by ClearKey.
pub(crate) const COMMON_SYSTEM_ID: [u8; 16] = [
    0x10, 0x77, 0xef, 0xec, 0xc0, 0xb2, 0x4d, 0x02, 0xac, 0xe3, 0x3c, 0x1e, 0x52, 0xe2, 0xfb, 0x4b,
];
pub(crate) const CLEARKEY_UUID: &str = "e2719d58-a985-b3c9-781a-b030af78d30e";
const WIDEVINE_SYSTEM_ID: &str = "edef8ba9-79d6-4ace-a3c8-27dcd51d21ed";
const PLAYREADY_SYSTEM_ID: &str = "9a04f079-9840-4286-ab92-e65be0885f95";

impl Pssh {
    /// Check and keep a `pssh` box given as bytes.
    pub fn from_box(raw: Vec<u8>) -> Result<Pssh, crate::Error> {
        Self::check_box(raw).map_err(|e| crate::Error::option("pssh", e))
    }

    fn check_box(raw: Vec<u8>) -> Result<Pssh, String> {
        if raw.len() < 32 {
            return Err(format!(
                "a pssh box is at least 32 bytes, got {}",
                raw.len()
            ));
        }
        let size = u32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]) as usize;
        if size != raw.len() || &raw[4..8] != b"pssh" {
            return Err("not a single pssh box (size or type does not match)".into());
        }
        let version = raw[8];
        let mut at = 28;
        if version > 1 {
            return Err(format!("pssh version {version} is not 0 or 1"));
        }
        if version == 1 {
            let n = u32::from_be_bytes(raw[at..at + 4].try_into().unwrap_or([0; 4])) as usize;
            at += 4 + n.saturating_mul(16);
        }
        let data_len = raw
            .get(at..at + 4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
            .ok_or("pssh box ends inside its key IDs")?;
        if at + 4 + data_len != raw.len() {
            return Err("pssh DataSize does not match the box size".into());
        }
        Ok(Pssh { raw })
    }

    /// A `pssh` box in base64, as license services hand it out.
    pub fn from_base64(s: &str) -> Result<Pssh, crate::Error> {
        let raw = STANDARD
            .decode(s.trim())
            .map_err(|e| crate::Error::option("pssh", format!("not valid base64: {e}")))?;
        Pssh::from_box(raw)
    }

    /// The box built from a system ID, the key IDs it names (version 1 when any) and
    /// system-specific data.
    pub(crate) fn build(system: [u8; 16], kids: &[[u8; 16]], data: &[u8]) -> Pssh {
        let mut raw = Vec::new();
        let version: u8 = u8::from(!kids.is_empty());
        raw.extend_from_slice(&[0; 4]);
        raw.extend_from_slice(b"pssh");
        raw.extend_from_slice(&[version, 0, 0, 0]);
        raw.extend_from_slice(&system);
        if version == 1 {
            raw.extend_from_slice(&(kids.len() as u32).to_be_bytes());
            for k in kids {
                raw.extend_from_slice(k);
            }
        }
        raw.extend_from_slice(&(data.len() as u32).to_be_bytes());
        raw.extend_from_slice(data);
        let size = (raw.len() as u32).to_be_bytes();
        raw[..4].copy_from_slice(&size);
        Pssh { raw }
    }

    /// The DRM system's ID.
    pub fn system_id(&self) -> [u8; 16] {
        self.raw[12..28].try_into().unwrap_or([0; 16])
    }

    /// The DRM system's ID as a UUID string, as the MPD names it.
    pub fn system_uuid(&self) -> String {
        uuid_string(&self.system_id())
    }

    /// The whole `pssh` box.
    pub fn as_bytes(&self) -> &[u8] {
        &self.raw
    }

    pub(crate) fn base64(&self) -> String {
        STANDARD.encode(&self.raw)
    }

    /// The MPD `value` for systems players know by name.
    pub(crate) fn system_name(&self) -> Option<&'static str> {
        match self.system_uuid().as_str() {
            WIDEVINE_SYSTEM_ID => Some("Widevine"),
            PLAYREADY_SYSTEM_ID => Some("MSPR 2.0"),
            _ => None,
        }
    }
}

/// Everything about encrypting one presentation.
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct Encryption {
    /// `cenc` (AES-CTR) or `cbcs` (AES-CBC with a pattern for video).
    pub scheme: Scheme,
    /// At least one key; the most specific scope wins (Representation, then content
    /// type, then all). A track no key applies to is an error, never left clear silently.
    pub keys: Vec<EncryptionKey>,
    /// Seconds at the start left unencrypted (whole segments), so playback starts
    /// before the license arrives.
    pub clear_lead: f64,
    /// How players find the keys with W3C ClearKey, if they should.
    pub clearkey: Option<ClearKey>,
    /// `pssh` boxes of other DRM systems, as given.
    pub pssh: Vec<Pssh>,
}

impl Encryption {
    /// `keys` (at least one; the most specific scope wins) with `scheme`, no clear lead,
    /// no DRM signalling: set those with the `with_*` methods.
    pub fn new(scheme: Scheme, keys: Vec<EncryptionKey>) -> Self {
        Encryption {
            scheme,
            keys,
            ..Encryption::default()
        }
    }

    /// Seconds at the start left clear (whole segments).
    pub fn with_clear_lead(mut self, seconds: f64) -> Self {
        self.clear_lead = seconds;
        self
    }

    /// How players find the ClearKey keys.
    pub fn with_clearkey(mut self, clearkey: Option<ClearKey>) -> Self {
        self.clearkey = clearkey;
        self
    }

    /// `pssh` boxes of other DRM systems, for the init segments and the MPD.
    pub fn with_pssh(mut self, pssh: Vec<Pssh>) -> Self {
        self.pssh = pssh;
        self
    }

    /// The key for a Representation, by the most specific scope.
    pub(crate) fn key_for(&self, rep_id: &str, video: bool) -> Option<&EncryptionKey> {
        let find = |want: &dyn Fn(&KeyScope) -> bool| self.keys.iter().find(|k| want(&k.scope));
        find(&|s| matches!(s, KeyScope::Representation(id) if id == rep_id))
            .or_else(|| {
                find(&|s| {
                    if video {
                        *s == KeyScope::Video
                    } else {
                        *s == KeyScope::Audio
                    }
                })
            })
            .or_else(|| find(&|s| *s == KeyScope::All))
    }

    /// The W3C ClearKey license for `keys`: a JSON Web Key set.
    pub(crate) fn clearkey_license(keys: &[&EncryptionKey]) -> String {
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let entries: Vec<String> = keys
            .iter()
            .map(|k| {
                format!(
                    "{{\"kty\":\"oct\",\"kid\":\"{}\",\"k\":\"{}\"}}",
                    b64.encode(k.kid),
                    b64.encode(k.key)
                )
            })
            .collect();
        format!(
            "{{\"keys\":[{}],\"type\":\"temporary\"}}",
            entries.join(",")
        )
    }

    pub(crate) fn clearkey_data_url(keys: &[&EncryptionKey]) -> String {
        format!(
            "data:application/json;base64,{}",
            STANDARD.encode(Self::clearkey_license(keys))
        )
    }
}

pub(crate) fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

pub(crate) fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok())
        .collect()
}

pub(crate) fn uuid_string(b: &[u8; 16]) -> String {
    let h = hex(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_parse_and_never_show() {
        let k: DecryptionKey = "00112233445566778899aabbccddeeff:0f0e0d0c0b0a09080706050403020100"
            .parse()
            .unwrap();
        assert_eq!(k.kid[0], 0x00);
        assert_eq!(k.key[0], 0x0f);
        assert!(!format!("{k:?}").contains("0f0e0d"));
        assert!("abc:def".parse::<DecryptionKey>().is_err());
        assert!(
            "00112233445566778899aabbccddeeff"
                .parse::<DecryptionKey>()
                .is_err()
        );
    }

    #[test]
    fn key_specs_parse_like_mp4dash() {
        let k: EncryptionKey = "00112233445566778899aabbccddeeff:000102030405060708090a0b0c0d0e0f"
            .parse()
            .unwrap();
        assert_eq!(k.scope, KeyScope::All);
        assert_eq!(k.kid[15], 0xff);
        assert_eq!(k.key[1], 1);
        assert_eq!(k.iv, None);
        let list = EncryptionKey::parse_list(
            "video:00112233445566778899aabbccddeeff:000102030405060708090a0b0c0d0e0f:0001020304050607,\
             audio-2:ffeeddccbbaa99887766554433221100:0f0e0d0c0b0a09080706050403020100",
        )
        .unwrap();
        assert_eq!(list[0].scope, KeyScope::Video);
        assert_eq!(list[0].iv.as_deref(), Some(&[0u8, 1, 2, 3, 4, 5, 6, 7][..]));
        assert_eq!(list[1].scope, KeyScope::Representation("audio-2".into()));
        for bad in [
            "0011:0102",
            "00112233445566778899aabbccddeeff",
            "00112233445566778899aabbccddeeff:000102030405060708090a0b0c0d0e0f:01",
            "00112233445566778899aabbccddeefg:000102030405060708090a0b0c0d0e0f",
        ] {
            assert!(bad.parse::<EncryptionKey>().is_err(), "{bad}");
        }
        let debug = format!("{:?}", list[0]);
        assert!(
            !debug.contains("000102030405060708090a0b0c0d0e0f"),
            "{debug}"
        );
    }

    #[test]
    fn most_specific_key_wins() {
        let enc = Encryption {
            keys: EncryptionKey::parse_list(
                "11111111111111111111111111111111:11111111111111111111111111111111,\
                 audio:22222222222222222222222222222222:22222222222222222222222222222222,\
                 audio-2:33333333333333333333333333333333:33333333333333333333333333333333",
            )
            .unwrap(),
            ..Encryption::default()
        };
        assert_eq!(enc.key_for("video-1", true).unwrap().kid[0], 0x11);
        assert_eq!(enc.key_for("audio-1", false).unwrap().kid[0], 0x22);
        assert_eq!(enc.key_for("audio-2", false).unwrap().kid[0], 0x33);
    }

    #[test]
    fn pssh_boxes_are_checked() {
        let built = Pssh::build(COMMON_SYSTEM_ID, &[[7; 16]], &[]);
        assert_eq!(built.as_bytes().len(), 52);
        let again = Pssh::from_box(built.as_bytes().to_vec()).unwrap();
        assert_eq!(again.system_uuid(), "1077efec-c0b2-4d02-ace3-3c1e52e2fb4b");
        let b64 = built.base64();
        assert_eq!(Pssh::from_base64(&b64).unwrap(), built);
        let mut short = built.as_bytes().to_vec();
        short.pop();
        assert!(Pssh::from_box(short).is_err());
        assert!(Pssh::from_base64("not base64!").is_err());
    }

    #[test]
    fn clearkey_license_is_a_jwk_set() {
        let k: EncryptionKey = "0123456789abcdef0123456789abcdef:fedcba9876543210fedcba9876543210"
            .parse()
            .unwrap();
        assert_eq!(
            Encryption::clearkey_license(&[&k]),
            "{\"keys\":[{\"kty\":\"oct\",\"kid\":\"ASNFZ4mrze8BI0VniavN7w\",\"k\":\"_ty6mHZUMhD-3LqYdlQyEA\"}],\"type\":\"temporary\"}"
        );
        assert_eq!(k.kid_uuid(), "01234567-89ab-cdef-0123-456789abcdef");
    }
}
