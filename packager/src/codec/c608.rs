//! QuickTime closed-caption samples (`c608`, in a `clcp` track): each sample is a run
//! of atoms, `cdat` holding field 1's CEA-608 byte pairs and `cdt2` field 2's
//! (Apple's QuickTime File Format, "Closed Captioning Media").

/// The byte pairs of one sample: field 1's, then field 2's, each in the order stored.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct FieldPairs {
    pub fields: [Vec<[u8; 2]>; 2],
}

/// Reads one sample's atoms; other atoms are passed over. A size that runs past the
/// sample, or an odd number of caption bytes, is an error naming the byte.
pub(crate) fn pairs(sample: &[u8]) -> Result<FieldPairs, String> {
    let mut out = FieldPairs::default();
    let mut at = 0usize;
    while at < sample.len() {
        let header = sample.get(at..at + 8).ok_or_else(|| {
            format!(
                "{} bytes left at byte {at}, short of an atom header",
                sample.len() - at
            )
        })?;
        let size = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize;
        if size < 8 || size > sample.len() - at {
            return Err(format!(
                "atom '{}' at byte {at} is {size} bytes in a {}-byte sample",
                String::from_utf8_lossy(&header[4..8]),
                sample.len()
            ));
        }
        let body = &sample[at + 8..at + size];
        let field = match &header[4..8] {
            b"cdat" => Some(0),
            b"cdt2" => Some(1),
            _ => None,
        };
        if let Some(field) = field {
            if !body.len().is_multiple_of(2) {
                return Err(format!(
                    "atom '{}' at byte {at} holds {} bytes, not whole byte pairs",
                    String::from_utf8_lossy(&header[4..8]),
                    body.len()
                ));
            }
            out.fields[field].extend(body.chunks_exact(2).map(|p| [p[0], p[1]]));
        }
        at += size;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn atom(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut a = ((body.len() + 8) as u32).to_be_bytes().to_vec();
        a.extend_from_slice(kind);
        a.extend_from_slice(body);
        a
    }

    #[test]
    fn both_fields_are_read_and_other_atoms_passed_over() {
        let mut s = atom(b"cdat", &[0x94, 0x20, 0x94, 0x20]);
        s.extend(atom(b"free", &[1, 2, 3]));
        s.extend(atom(b"cdt2", &[0x15, 0x2C]));
        let p = pairs(&s).unwrap();
        assert_eq!(p.fields[0], [[0x94, 0x20], [0x94, 0x20]]);
        assert_eq!(p.fields[1], [[0x15, 0x2C]]);
    }

    #[test]
    fn broken_atoms_are_errors_with_the_byte() {
        let mut s = atom(b"cdat", &[0x80, 0x80]);
        s.extend(atom(b"cdat", &[0x80, 0x80, 0x80]));
        assert!(pairs(&s).unwrap_err().contains("at byte 10"));
        let mut long = atom(b"cdat", &[0x80, 0x80]);
        long[3] = 40;
        assert!(
            pairs(&long)
                .unwrap_err()
                .contains("40 bytes in a 10-byte sample")
        );
        assert!(
            pairs(&[0, 0, 0])
                .unwrap_err()
                .contains("short of an atom header")
        );
        assert_eq!(pairs(&[]).unwrap(), FieldPairs::default());
    }
}
