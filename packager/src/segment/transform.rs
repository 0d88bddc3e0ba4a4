//! Transform: what happens to a segment's samples between reading and writing. The
//! samples of several sample entries published as one get their parameter sets in band,
//! pictures the captions of a caption track in SEI;
//! an encrypted output has each sample encrypted (its subsamples found in the NAL
//! structure) and its init segment's sample entry protected. (Decryption of encrypted
//! input happens as the samples are read.)

use super::captions::SegmentSei;
use super::job::TrackJob;
use crate::Result;
use crate::codec::captions;
use crate::crypt::cipher::{SampleAux, TrackCipher};
use crate::crypt::subsample::NalLayout;
use crate::error::{BoxError, Malformed};
use crate::layout::ContentType;
use crate::mp4::sample_table::Sample;
use crate::mp4::write::cenc::{InitProtection, protected_stsd};
use crate::mp4::write::init::write_init_segment;
use crate::mp4::write::trun::{FLAGS_NON_SYNC, FLAGS_SYNC, TrunSample};

use crate::limits::MAX_SEGMENT_BYTES;

/// The cipher and subsample layout of an encrypted track while it is written.
pub(super) struct Encrypting {
    pub cipher: TrackCipher,
    pub layout: Option<NalLayout>,
    pub clear_segments: usize,
    pub payload: Vec<u8>,
    pub aux: Vec<SampleAux>,
}

/// The init segment, and how the samples are encrypted when the output is.
pub(super) fn init_segment(job: &TrackJob<'_>) -> Result<(Vec<u8>, Option<Encrypting>)> {
    let t = &job.track.track;
    let Some(p) = job.protection else {
        return Ok((write_init_segment(t, &t.stsd, &[]), None));
    };
    let video = t.kind == ContentType::Video;
    let cipher = TrackCipher::new(p.scheme, p.key.key, p.iv, video);
    let init = InitProtection {
        scheme: p.scheme,
        kid: p.key.kid,
        per_sample_iv_size: cipher.per_sample_iv_size(),
        constant_iv: cipher.constant_iv(),
        pattern: cipher.pattern(),
        clear_entry: p.clear_segments > 0,
    };
    let stsd = protected_stsd(&t.stsd, video, &init).ok_or_else(|| {
        BoxError::new(
            format!("{}/mdia/minf/stbl/stsd", t.path),
            t.offset,
            Malformed::Missing("sample entry"),
        )
        .in_file(job.input.name())
    })?;
    let encrypting = Encrypting {
        cipher,
        layout: video.then(|| {
            NalLayout::new(
                t.codec.family,
                t.codec.nal_length_size,
                &t.codec.parameter_sets,
            )
        }),
        clear_segments: p.clear_segments,
        payload: Vec::new(),
        aux: Vec::new(),
    };
    Ok((write_init_segment(t, &stsd, &p.pssh), Some(encrypting)))
}

/// What a segment's `trun` says of each sample, the parameter sets to put before each,
/// and the payload's size.
#[derive(Default)]
pub(super) struct Runs<'t> {
    pub trun: Vec<TrunSample>,
    pub prefixes: Vec<Option<&'t [u8]>>,
    pub payload: u64,
    /// The sample description index of the sample before (parameter sets go in band
    /// wherever it changes).
    last_description: u32,
}

impl<'t> Runs<'t> {
    /// Describe `samples`, refusing a composition offset `trun` cannot carry or a
    /// segment over [`MAX_SEGMENT_BYTES`].
    pub fn describe(
        &mut self,
        job: &TrackJob<'t>,
        samples: &[Sample],
        sei: &SegmentSei,
    ) -> Result<()> {
        let t = &job.track.track;
        let err = |kind| BoxError::new(format!("{}/mdia/minf/stbl/ctts", t.path), t.offset, kind);
        self.trun.clear();
        self.prefixes.clear();
        self.payload = 0;
        for (k, s) in samples.iter().enumerate() {
            let prefix = self.prefix(&t.inband, s);
            self.prefixes.push(prefix);
            let extra = (prefix.map_or(0, <[u8]>::len) + sei.of(k).len()) as u32;
            let cto = s.cto - job.timing.cto_shift;
            let cto = i32::try_from(cto).map_err(|_| {
                err(Malformed::InvalidField {
                    field: "composition offset",
                    value: cto,
                })
                .in_file(job.input.name())
            })?;
            let sync = s.sync || t.kind == ContentType::Audio;
            self.trun.push(TrunSample {
                duration: s.duration,
                size: s.size.saturating_add(extra),
                flags: if sync { FLAGS_SYNC } else { FLAGS_NON_SYNC },
                cto,
            });
            self.payload += u64::from(s.size) + u64::from(extra);
        }
        if self.payload > MAX_SEGMENT_BYTES {
            return Err(BoxError::new(
                format!("{}/mdia/minf/stbl/stsz", t.path),
                t.offset,
                Malformed::Limit {
                    what: "bytes in one segment",
                    limit: MAX_SEGMENT_BYTES,
                },
            )
            .in_file(job.input.name()));
        }
        Ok(())
    }

    /// Parameter sets go before each sync sample (where a player may start) and
    /// wherever the sample entry changes.
    fn prefix(&mut self, inband: &'t [Vec<u8>], s: &Sample) -> Option<&'t [u8]> {
        let changed = s.description != self.last_description;
        self.last_description = s.description;
        (!inband.is_empty() && (s.sync || changed))
            .then(|| inband.get(s.description.max(1) as usize - 1))
            .flatten()
            .map(Vec::as_slice)
            .filter(|p| !p.is_empty())
    }

    pub fn any_prefix(&self) -> bool {
        self.prefixes.iter().any(Option::is_some)
    }

    /// The samples in `raw`, each after its parameter sets and with its captions' SEI
    /// before its picture, appended to `out`.
    pub fn with_additions(
        &self,
        job: &TrackJob<'_>,
        samples: &[Sample],
        raw: &[u8],
        sei: &SegmentSei,
        out: &mut Vec<u8>,
    ) {
        let codec = &job.track.track.codec;
        let mut at = 0usize;
        for (k, (s, prefix)) in samples.iter().zip(&self.prefixes).enumerate() {
            out.extend_from_slice(prefix.unwrap_or_default());
            let sample = &raw[at..at + s.size as usize];
            match sei.of(k) {
                [] => out.extend_from_slice(sample),
                nal_units => captions::insert_before_picture(
                    codec.family,
                    codec.nal_length_size,
                    sample,
                    nal_units,
                    out,
                ),
            }
            at += s.size as usize;
        }
    }
}

/// Encrypt the samples in `e.payload` in place and record their IVs and subsamples.
pub(super) fn encrypt_samples(
    job: &TrackJob<'_>,
    first_index: u32,
    samples: &[Sample],
    written: &[TrunSample],
    e: &mut Encrypting,
) -> Result<()> {
    let t = &job.track.track;
    e.aux.clear();
    let mut at = 0usize;
    for (k, (s, w)) in samples.iter().zip(written).enumerate() {
        let data = &mut e.payload[at..at + w.size as usize];
        let subsamples = match e.layout.as_mut() {
            Some(layout) => layout.subsamples(data).map_err(|detail| {
                BoxError::new(
                    format!("{}/mdia/minf/stbl", t.path),
                    s.offset,
                    Malformed::Bitstream {
                        sample: first_index + k as u32 + 1,
                        detail,
                    },
                )
                .in_file(job.input.name())
            })?,
            None => Vec::new(),
        };
        e.aux.push(e.cipher.encrypt(data, subsamples));
        at += w.size as usize;
    }
    Ok(())
}
