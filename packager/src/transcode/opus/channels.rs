//! Which loudspeaker each PCM channel feeds, and the order Opus wants them in.
//!
//! Opus carries 3 to 8 channels with channel mapping family 1 (RFC 7845 5.1.1.2): the
//! Vorbis channel order, coded as streams of coupled (stereo) and single channels. The
//! input's order comes from its layout box (QuickTime `chan`, ISO/IEC 23001-8 CICP in
//! `chnl`) or, without one, from the channel count as WAV and FFmpeg order channels. A
//! layout that names other loudspeakers (or none: discrete channels) is refused rather
//! than published with channels in the wrong places.

/// A loudspeaker position, as far as the Vorbis layouts tell them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Speaker {
    L,
    R,
    C,
    Lfe,
    /// Side surround.
    Ls,
    Rs,
    /// Rear (back) surround.
    Lb,
    Rb,
    /// Rear centre.
    Cb,
}

use crate::codec::pcm::Layout;
use Speaker::*;

/// Opus's family-1 coding of `n` channels: streams, coupled streams, and the stream
/// channel each Vorbis-ordered channel maps to (libopus's `vorbis_mappings`).
pub(crate) fn family1(n: u16) -> Option<(u8, u8, &'static [u8])> {
    Some(match n {
        3 => (2, 1, &[0, 2, 1]),
        4 => (2, 2, &[0, 1, 2, 3]),
        5 => (3, 2, &[0, 4, 1, 2, 3]),
        6 => (4, 2, &[0, 4, 1, 2, 3, 5]),
        7 => (4, 3, &[0, 4, 1, 2, 3, 5, 6]),
        8 => (5, 3, &[0, 6, 1, 2, 3, 4, 5, 7]),
        _ => return None,
    })
}

/// The Vorbis channel order for `n` channels (Vorbis I specification 4.3.9).
fn vorbis(n: u16) -> &'static [Speaker] {
    match n {
        3 => &[L, C, R],
        4 => &[L, R, Lb, Rb],
        5 => &[L, C, R, Lb, Rb],
        6 => &[L, C, R, Lb, Rb, Lfe],
        7 => &[L, C, R, Ls, Rs, Cb, Lfe],
        8 => &[L, C, R, Ls, Rs, Lb, Rb, Lfe],
        _ => &[],
    }
}

/// The speakers of the input's channels, in its order, or what the layout is.
fn input_speakers(n: u16, layout: Layout) -> Result<Vec<Speaker>, String> {
    let v: &[Speaker] = match layout {
        // WAVE_FORMAT_EXTENSIBLE's default masks, which FFmpeg assumes too.
        Layout::Default => match n {
            3 => &[L, R, C],
            4 => &[L, R, Lb, Rb],
            5 => &[L, R, C, Lb, Rb],
            6 => &[L, R, C, Lfe, Lb, Rb],
            7 => &[L, R, C, Lfe, Cb, Ls, Rs],
            8 => &[L, R, C, Lfe, Lb, Rb, Ls, Rs],
            _ => &[],
        },
        Layout::QuickTime { tag, bitmap } => match tag {
            // kAudioChannelLayoutTag_UseChannelBitmap: WAVE mask bits, in bit order.
            0x0001_0000 => return from_bitmap(n, bitmap),
            0x0071_0003 => &[L, R, C],                      // MPEG_3_0_A
            0x006C_0004 => &[L, R, Ls, Rs],                 // Quadraphonic
            0x0075_0005 => &[L, R, C, Ls, Rs],              // MPEG_5_0_A
            0x0079_0006 => &[L, R, C, Lfe, Ls, Rs],         // MPEG_5_1_A
            0x007A_0006 => &[L, R, Ls, Rs, C, Lfe],         // MPEG_5_1_B
            0x007B_0006 => &[L, C, R, Ls, Rs, Lfe],         // MPEG_5_1_C
            0x007C_0006 => &[C, L, R, Ls, Rs, Lfe],         // MPEG_5_1_D
            0x007D_0007 => &[L, R, C, Lfe, Ls, Rs, Cb],     // MPEG_6_1_A
            0x0080_0008 => &[L, R, C, Lfe, Ls, Rs, Lb, Rb], // MPEG_7_1_C
            _ => {
                return Err(format!(
                    "its channel layout (QuickTime chan tag {:#010x}) is not one mapped to \
                     Opus loudspeaker positions",
                    tag
                ));
            }
        },
        // ISO/IEC 23091-3 ChannelConfiguration, in its (MPEG) channel order.
        Layout::Cicp(c) => match c {
            3 => &[C, L, R],
            5 => &[C, L, R, Ls, Rs],
            6 => &[C, L, R, Ls, Rs, Lfe],
            12 => &[C, L, R, Ls, Rs, Lb, Rb, Lfe],
            _ => {
                return Err(format!(
                    "its channel layout (chnl CICP layout {c}) is not one mapped to Opus \
                     loudspeaker positions"
                ));
            }
        },
        Layout::Explicit => {
            return Err(
                "its channel layout gives explicit positions (chnl), which are not \
                        mapped to Opus loudspeaker positions"
                    .into(),
            );
        }
    };
    Ok(v.to_vec())
}

fn from_bitmap(n: u16, bitmap: u32) -> Result<Vec<Speaker>, String> {
    const BITS: [(u32, Speaker); 9] = [
        (0x1, L),
        (0x2, R),
        (0x4, C),
        (0x8, Lfe),
        (0x10, Lb),
        (0x20, Rb),
        (0x100, Cb),
        (0x200, Ls),
        (0x400, Rs),
    ];
    let known: u32 = BITS.iter().map(|b| b.0).sum();
    let v: Vec<Speaker> = BITS
        .iter()
        .filter(|b| bitmap & b.0 != 0)
        .map(|b| b.1)
        .collect();
    if bitmap & !known != 0 || v.len() != usize::from(n) {
        return Err(format!(
            "its channel bitmap {bitmap:#x} (QuickTime chan) does not name {n} loudspeakers \
             mapped to Opus"
        ));
    }
    Ok(v)
}

/// For each Vorbis-ordered output channel, the input channel that feeds it.
pub(crate) fn to_vorbis_order(n: u16, layout: Layout) -> Result<Vec<usize>, String> {
    let input = input_speakers(n, layout)?;
    let want = vorbis(n);
    if want.is_empty() || input.len() != usize::from(n) {
        return Err(format!(
            "PCM with {n} channels: Opus carries 1 to 8 (mono, stereo and the Vorbis \
             surround layouts)"
        ));
    }
    // Up to 5.1 the Vorbis layouts have one surround pair: side or rear alike.
    let same = |a: Speaker, b: Speaker| {
        a == b || (n <= 6 && matches!((a, b), (Ls, Lb) | (Lb, Ls) | (Rs, Rb) | (Rb, Rs)))
    };
    want.iter()
        .map(|&w| {
            input.iter().position(|&s| same(s, w)).ok_or_else(|| {
                format!(
                    "its {n} channels ({input:?}) are not the loudspeakers Opus's {n}-channel \
                     layout has ({want:?})"
                )
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wav_order_becomes_vorbis_order() {
        // 5.1 as WAV orders it (L R C LFE Lb Rb) to Vorbis's (L C R Lb Rb LFE).
        assert_eq!(
            to_vorbis_order(6, Layout::Default).unwrap(),
            [0, 2, 1, 4, 5, 3]
        );
        assert_eq!(to_vorbis_order(3, Layout::Default).unwrap(), [0, 2, 1]);
        assert_eq!(
            to_vorbis_order(8, Layout::Default).unwrap(),
            [0, 2, 1, 6, 7, 4, 5, 3]
        );
        // A QuickTime 5.1 with side surrounds, and the same as a WAVE bitmap.
        let side = Layout::QuickTime {
            tag: 0x0079_0006,
            bitmap: 0,
        };
        assert_eq!(to_vorbis_order(6, side).unwrap(), [0, 2, 1, 4, 5, 3]);
        let bitmap = Layout::QuickTime {
            tag: 0x0001_0000,
            bitmap: 0x60f,
        };
        assert_eq!(to_vorbis_order(6, bitmap).unwrap(), [0, 2, 1, 4, 5, 3]);
        // MPEG_7_1_C: L R C LFE Ls Rs Rls Rrs, side surrounds before the rear ones.
        let c71 = Layout::QuickTime {
            tag: 0x0080_0008,
            bitmap: 0,
        };
        assert_eq!(to_vorbis_order(8, c71).unwrap(), [0, 2, 1, 4, 5, 6, 7, 3]);
        // Every output channel comes from a different input channel.
        for n in 3..=8 {
            let mut v = to_vorbis_order(n, Layout::Default).unwrap();
            v.sort_unstable();
            assert_eq!(v, (0..usize::from(n)).collect::<Vec<_>>());
            let (streams, coupled, mapping) = family1(n).unwrap();
            assert_eq!(usize::from(streams + coupled), usize::from(n));
            assert_eq!(mapping.len(), usize::from(n));
        }
    }

    #[test]
    fn layouts_not_mapped_are_refused() {
        // Discrete channels, a bitmap that names 4 speakers for 6 channels, 9 channels.
        let discrete = Layout::QuickTime {
            tag: 0x0093_0006,
            bitmap: 0,
        };
        assert!(to_vorbis_order(6, discrete).is_err());
        let short = Layout::QuickTime {
            tag: 0x0001_0000,
            bitmap: 0x33,
        };
        assert!(to_vorbis_order(6, short).is_err());
        assert!(to_vorbis_order(9, Layout::Default).is_err());
        assert!(to_vorbis_order(6, Layout::Explicit).is_err());
        // 7.1 tells side from rear: a 7.1 bitmap without side surrounds is not 7.1.
        let rear = Layout::QuickTime {
            tag: 0x0001_0000,
            bitmap: 0xff,
        };
        assert!(to_vorbis_order(8, rear).is_err());
    }
}
