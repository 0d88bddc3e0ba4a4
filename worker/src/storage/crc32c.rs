//! CRC32C (Castagnoli), the checksum Cloud Storage keeps for every object: how an
//! upload whose answer was lost is recognised as stored. Only computed then, so a
//! table-driven loop is fast enough and needs no dependency.

const POLY: u32 = 0x82F6_3B78; // reflected Castagnoli polynomial

const TABLE: [u32; 256] = {
    let mut t = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 { (c >> 1) ^ POLY } else { c >> 1 };
            k += 1;
        }
        t[i] = c;
        i += 1;
    }
    t
};

pub fn crc32c(data: &[u8]) -> u32 {
    let mut c = !0u32;
    for &b in data {
        c = TABLE[((c ^ u32::from(b)) & 0xff) as usize] ^ (c >> 8);
    }
    !c
}

/// The JSON API's form: base64 of the big-endian value.
pub fn to_base64(crc: u32) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    // 32 bits make six base64 digits (the last with 4 zero bits) and two pads.
    let n = u64::from(crc) << 4;
    let mut s = String::with_capacity(8);
    for i in 0..6 {
        s.push(ABC[((n >> (30 - 6 * i)) & 63) as usize] as char);
    }
    s.push_str("==");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        // RFC 3720, B.4 check value, and an all-zero block from the same appendix.
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
        assert_eq!(crc32c(&[0u8; 32]), 0x8A91_36AA);
        assert_eq!(crc32c(b""), 0);
    }

    #[test]
    fn base64_as_cloud_storage_writes_it() {
        // Cloud Storage documents "AAAAAA==" for an empty object.
        assert_eq!(to_base64(crc32c(b"")), "AAAAAA==");
        assert_eq!(to_base64(0xE306_9283), "4waSgw==");
        assert_eq!(to_base64(0xFFFF_FFFF), "/////w==");
    }
}
