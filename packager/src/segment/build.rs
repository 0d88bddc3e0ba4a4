//! Building one track's output: its init segment and every media segment, read from
//! the input in as few positional reads as the chunk layout allows and handed to the
//! sink one at a time, so memory is one segment per track in flight.

use super::plan::{SegmentPlan, TrackPlan};
use super::timing::Timing;
use crate::carriage::CheckedTrack;
use crate::codec::{self, Family};
use crate::crypt::cipher::{SampleAux, TrackCipher};
use crate::crypt::subsample::NalLayout;
use crate::crypt::{EncryptionKey, Pssh, Scheme};
use crate::described::BuiltSegment;
use crate::error::{BoxError, Malformed};
use crate::layout::Timeline;
use crate::layout::{init_path, media_path, on_demand_path};
use crate::mp4::moov::Kind;
use crate::mp4::sample_table::Sample;
use crate::mp4::write::cenc::{InitProtection, TrafProtection, protected_stsd};
use crate::mp4::write::init::{TRACK_ID, write_init_segment};
use crate::mp4::write::moof::{Fragment, write_segment_header};
use crate::mp4::write::sidx::{SidxRef, sidx_len, write_sidx};
use crate::mp4::write::trun::{FLAGS_NON_SYNC, FLAGS_SYNC, TrunSample};
use crate::options::Control;
use crate::options::Profile;
use crate::sink::{Sink, SinkFile};
use crate::source::Input;
use crate::{Error, Result};

use crate::limits::MAX_SEGMENT_BYTES;

pub(crate) struct TrackJob<'a> {
    pub input: &'a Input,
    pub track: &'a CheckedTrack,
    pub timing: Timing,
    pub plan: &'a TrackPlan,
    pub rep_id: &'a str,
    pub protection: Option<&'a TrackProtection>,
}

/// How one track is encrypted.
#[derive(Debug, Clone)]
pub(crate) struct TrackProtection {
    pub scheme: Scheme,
    pub key: EncryptionKey,
    /// cenc: the first sample's IV (first 8 bytes); cbcs: the constant IV.
    pub iv: [u8; 16],
    /// Segments at the start written clear (clear lead).
    pub clear_segments: usize,
    /// Every `pssh` box of the init segment.
    pub pssh: Vec<Pssh>,
}

/// The cipher and subsample layout of an encrypted track while it is written.
struct Encrypting {
    cipher: TrackCipher,
    layout: Option<NalLayout>,
    clear_segments: usize,
    payload: Vec<u8>,
    aux: Vec<SampleAux>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BuiltTrack {
    pub segments: Vec<BuiltSegment>,
    /// The highest SAP type any segment starts with (1, 2 or 3).
    pub sap: u8,
    pub init_bytes: u64,
    /// On-demand: the `sidx` byte range (first, last) in the Representation's file.
    pub index_range: Option<(u64, u64)>,
}

pub(crate) fn build_track(
    job: &TrackJob<'_>,
    timeline: Timeline,
    profile: Profile,
    sink: &dyn Sink,
    ctl: &Control,
) -> Result<BuiltTrack> {
    let t = &job.track.track;
    let name = job.input.name();
    let put = |path: String, data: &[u8]| {
        sink.put(&path, data)
            .map_err(|e| Error::io(format!("cannot write output file {path}"), e))
    };
    let video = t.kind == Kind::Video;
    let mut encrypting = None;
    let init = match job.protection {
        None => write_init_segment(t, &t.stsd, &[]),
        Some(p) => {
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
                .in_file(name)
            })?;
            encrypting = Some(Encrypting {
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
            });
            write_init_segment(t, &stsd, &p.pssh)
        }
    };
    let mut file = match profile {
        Profile::OnDemand => Some(OnDemandFile::open(sink, job, &init)?),
        Profile::Live => {
            put(init_path(job.rep_id), &init)?;
            None
        }
    };
    let on_demand = file.is_some();
    let mut cursor = t.table.cursor();
    let mut samples: Vec<Sample> = Vec::new();
    let mut trun: Vec<TrunSample> = Vec::new();
    let mut buf: Vec<u8> = Vec::new();
    let mut built = Vec::with_capacity(job.plan.segments.len());
    let mut sap = 1u8;
    let with_cto = t.table.has_composition_offsets();
    // Different sample entries published as one: each sample's in-band parameter sets.
    let mut prefixes: Vec<Option<&[u8]>> = Vec::new();
    let mut last_description = 0u32;
    let mut inband_buf: Vec<u8> = Vec::new();
    for (i, seg) in job.plan.segments.iter().enumerate() {
        ctl.check_cancel()?;
        samples.clear();
        samples.extend(cursor.by_ref().take(seg.count as usize));
        if samples.len() != seg.count as usize {
            return Err(Error::Malformed {
                file: name.to_string(),
                path: format!("{}/mdia/minf/stbl", t.path),
                offset: t.offset,
                kind: Malformed::CountMismatch {
                    table: "sample tables",
                    expected: u64::from(t.table.count),
                    found: u64::from(seg.first) + samples.len() as u64,
                },
            });
        }
        trun.clear();
        prefixes.clear();
        let mut payload = 0u64;
        for s in &samples {
            // Before each sync sample (where a player may start) and wherever the entry
            // changes.
            let prefix = (!t.inband.is_empty() && (s.sync || s.description != last_description))
                .then(|| t.inband.get(s.description.max(1) as usize - 1))
                .flatten()
                .map(Vec::as_slice)
                .filter(|p| !p.is_empty());
            last_description = s.description;
            prefixes.push(prefix);
            let extra = prefix.map_or(0, |p| p.len() as u32);
            let cto = s.cto - job.timing.cto_shift;
            let cto = i32::try_from(cto).map_err(|_| {
                BoxError::new(
                    format!("{}/mdia/minf/stbl/ctts", t.path),
                    t.offset,
                    Malformed::InvalidField {
                        field: "composition offset",
                        value: cto,
                    },
                )
                .in_file(name)
            })?;
            let sync = s.sync || t.kind == Kind::Audio;
            trun.push(TrunSample {
                duration: s.duration,
                size: s.size.saturating_add(extra),
                flags: if sync { FLAGS_SYNC } else { FLAGS_NON_SYNC },
                cto,
            });
            payload += u64::from(s.size) + u64::from(extra);
        }
        if payload > MAX_SEGMENT_BYTES {
            return Err(BoxError::new(
                format!("{}/mdia/minf/stbl/stsz", t.path),
                t.offset,
                Malformed::Limit {
                    what: "bytes in one segment",
                    limit: MAX_SEGMENT_BYTES,
                },
            )
            .in_file(name));
        }
        let first = samples[0];
        let fragment = Fragment {
            sequence: i as u32 + 1,
            track_id: TRACK_ID,
            base_decode_time: first.dts + job.timing.dts_offset,
            samples: &trun,
            with_cto,
            with_styp: !on_demand,
        };
        buf.clear();
        let seg_sap = match encrypting.as_mut() {
            None if prefixes.iter().any(Option::is_some) => {
                // The samples as they are first (checks, SAP type), then each after its
                // parameter sets.
                let raw = &mut inband_buf;
                raw.clear();
                raw.resize(samples.iter().map(|s| s.size as usize).sum(), 0);
                let seg_sap = read_checked(job, seg, &samples, raw)?;
                buf.reserve(payload as usize + 64 + trun.len() * 16);
                write_segment_header(&mut buf, &fragment, payload, None);
                let mut at = 0usize;
                for (s, prefix) in samples.iter().zip(&prefixes) {
                    buf.extend_from_slice(prefix.unwrap_or_default());
                    buf.extend_from_slice(&raw[at..at + s.size as usize]);
                    at += s.size as usize;
                }
                seg_sap
            }
            None => {
                buf.reserve(payload as usize + 64 + trun.len() * 16);
                write_segment_header(&mut buf, &fragment, payload, None);
                let data_start = buf.len();
                buf.resize(data_start + payload as usize, 0);
                read_checked(job, seg, &samples, &mut buf[data_start..])?
            }
            Some(e) => {
                // The samples are read and encrypted first: the `moof` carries the
                // subsample layout found while encrypting.
                e.payload.clear();
                e.payload.resize(payload as usize, 0);
                let seg_sap = read_checked(job, seg, &samples, &mut e.payload)?;
                let clear = i < e.clear_segments;
                if !clear {
                    encrypt_samples(job, seg.first, &samples, e)?;
                }
                let protection = TrafProtection {
                    sample_description_index: clear.then_some(2),
                    aux: (!clear).then_some(&e.aux[..]),
                };
                buf.reserve(payload as usize + 128 + trun.len() * 32);
                write_segment_header(&mut buf, &fragment, payload, Some(&protection));
                buf.extend_from_slice(&e.payload);
                seg_sap
            }
        };
        sap = sap.max(seg_sap);
        let time = (seg.ept + job.timing.pto as i64).max(0) as u64;
        let number = i as u32 + 1;
        match file.as_mut() {
            Some(f) => {
                let duration = job.plan.duration(i).max(0) as u64;
                f.append(job, &buf, duration, seg_sap)?;
            }
            None => put(media_path(job.rep_id, timeline, number, time), &buf)?,
        }
        built.push(BuiltSegment {
            time,
            duration: job.plan.duration(i).max(0) as u64,
            bytes: buf.len() as u64,
        });
        ctl.advance(payload);
    }
    let index_range = match file {
        Some(f) => Some(f.finish(t.timescale, built.first().map_or(0, |s| s.time))?),
        None => None,
    };
    Ok(BuiltTrack {
        segments: built,
        sap,
        init_bytes: init.len() as u64,
        index_range,
    })
}

/// The on-demand profile's one file per Representation: the init segment, a `sidx`
/// (written as zeros, filled in by `finish` when every segment's size is known), then
/// the segments without `styp`.
struct OnDemandFile<'s> {
    file: Box<dyn SinkFile + 's>,
    path: String,
    sidx_at: u64,
    refs: Vec<SidxRef>,
}

impl<'s> OnDemandFile<'s> {
    fn open(sink: &'s dyn Sink, job: &TrackJob<'_>, init: &[u8]) -> Result<Self> {
        let count = job.plan.segments.len();
        if count > usize::from(u16::MAX) {
            return Err(Error::InvalidOption {
                name: "profile",
                reason: format!(
                    "{}: {count} segments, more than one sidx indexes ({}); use a longer segment duration",
                    job.rep_id,
                    u16::MAX
                ),
            });
        }
        let path = on_demand_path(job.rep_id);
        let mut f = OnDemandFile {
            file: sink.create(&path).map_err(|e| Self::io(&path, e))?,
            path,
            sidx_at: init.len() as u64,
            refs: Vec::with_capacity(count),
        };
        f.write(init)?;
        f.write(&vec![0; sidx_len(count)])?;
        Ok(f)
    }

    fn io(path: &str, e: std::io::Error) -> Error {
        Error::io(format!("cannot write output file {path}"), e)
    }

    fn write(&mut self, data: &[u8]) -> Result<()> {
        self.file.write(data).map_err(|e| Self::io(&self.path, e))
    }

    /// Append one segment and remember its `sidx` reference.
    fn append(&mut self, job: &TrackJob<'_>, segment: &[u8], duration: u64, sap: u8) -> Result<()> {
        let t = &job.track.track;
        let limit = |what| {
            BoxError::new(
                format!("{}/mdia/minf/stbl", t.path),
                t.offset,
                Malformed::Limit {
                    what,
                    limit: u64::from(u32::MAX >> 1),
                },
            )
            .in_file(job.input.name())
        };
        let size = u32::try_from(segment.len())
            .ok()
            .filter(|&n| n <= u32::MAX >> 1)
            .ok_or_else(|| limit("bytes in one indexed segment"))?;
        let duration =
            u32::try_from(duration).map_err(|_| limit("duration of one indexed segment"))?;
        self.write(segment)?;
        self.refs.push(SidxRef {
            size,
            duration,
            sap,
        });
        Ok(())
    }

    /// Fill in the `sidx` and close the file; returns the `sidx` byte range.
    fn finish(mut self, timescale: u32, earliest: u64) -> Result<(u64, u64)> {
        let mut sidx = Vec::with_capacity(sidx_len(self.refs.len()));
        write_sidx(&mut sidx, timescale, earliest, &self.refs);
        let (at, path) = (self.sidx_at, self.path.clone());
        self.file.patch(at, &sidx).map_err(|e| Self::io(&path, e))?;
        self.file.finish().map_err(|e| Self::io(&path, e))?;
        Ok((at, at + sidx.len() as u64 - 1))
    }
}

/// Encrypt the samples in `e.payload` in place and record their IVs and subsamples.
fn encrypt_samples(
    job: &TrackJob<'_>,
    first_index: u32,
    samples: &[Sample],
    e: &mut Encrypting,
) -> Result<()> {
    let t = &job.track.track;
    e.aux.clear();
    let mut at = 0usize;
    for (k, s) in samples.iter().enumerate() {
        let data = &mut e.payload[at..at + s.size as usize];
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
        at += s.size as usize;
    }
    Ok(())
}

/// A segment's samples read into `data`, decrypted when the input is, and checked
/// against their codec's framing; returns the segment's SAP type (1 for audio).
fn read_checked(
    job: &TrackJob<'_>,
    seg: &SegmentPlan,
    samples: &[Sample],
    data: &mut [u8],
) -> Result<u8> {
    read_samples(job.input, samples, data)?;
    decrypt_samples(job, seg.first, samples, data);
    check_samples(job, seg.first, samples, data)?;
    Ok(if job.track.track.kind == Kind::Video {
        sap_type(job, seg.ept, samples, data)
    } else {
        1
    })
}

/// Read the samples' bytes into `out`, merging samples that sit next to each other in
/// the file into one read.
fn read_samples(input: &Input, samples: &[Sample], out: &mut [u8]) -> Result<()> {
    let mut pos = 0usize;
    let mut i = 0;
    while i < samples.len() {
        let start = samples[i].offset;
        let mut len = samples[i].size as usize;
        let mut j = i + 1;
        while j < samples.len() && samples[j].offset == start + len as u64 {
            len += samples[j].size as usize;
            j += 1;
        }
        input
            .source()
            .read_exact_at(&mut out[pos..pos + len], start)
            .map_err(|e| {
                Error::io(
                    format!(
                        "{}: read {len} bytes of samples at byte {start}",
                        input.name()
                    ),
                    e,
                )
            })?;
        pos += len;
        i = j;
    }
    Ok(())
}

/// Encrypted input with its key: each sample decrypted in place with its IV and
/// subsamples (the framing check after it tells a wrong key by garbage).
fn decrypt_samples(job: &TrackJob<'_>, first_index: u32, samples: &[Sample], data: &mut [u8]) {
    let t = &job.track.track;
    let Some((p, key)) = t
        .protection
        .as_ref()
        .and_then(|p| Some((&p.protection, p.key?)))
    else {
        return;
    };
    let mut at = 0usize;
    for (k, s) in samples.iter().enumerate() {
        let end = at + s.size as usize;
        if let Some(aux) = t.aux.get((first_index as usize) + k) {
            crate::crypt::decrypt::decrypt(p, &key, aux, &mut data[at..end]);
        }
        at = end;
    }
}

/// Refuses the first sample whose bytes are not what its codec's framing says
/// ([`codec::framing`]), naming the track's tables, the sample and its file offset.
fn check_samples(
    job: &TrackJob<'_>,
    first_index: u32,
    samples: &[Sample],
    data: &[u8],
) -> Result<()> {
    let t = &job.track.track;
    let mut at = 0usize;
    for (k, s) in samples.iter().enumerate() {
        let bytes = &data[at..at + s.size as usize];
        if let Err(detail) = codec::framing::check(&t.codec, bytes) {
            return Err(BoxError::new(
                format!("{}/mdia/minf/stbl", t.path),
                s.offset,
                Malformed::Bitstream {
                    sample: first_index + k as u32 + 1,
                    detail: format!("track {}: {detail}", t.id),
                },
            )
            .in_file(job.input.name()));
        }
        at += s.size as usize;
    }
    Ok(())
}

/// SAP type of a segment (ISO/IEC 14496-12 Annex I): 1 when its first sample is the
/// first presented; otherwise it has leading pictures: 2 when they are decodable
/// (RADL, or after an H.264 IDR), 3 when they reference the previous GOP (open GOP).
fn sap_type(job: &TrackJob<'_>, ept: i64, samples: &[Sample], data: &[u8]) -> u8 {
    let first = samples[0];
    let first_pt = job.timing.period_time(first.dts, first.cto);
    if ept >= first_pt {
        return 1;
    }
    let codec = &job.track.track.codec;
    let nal = |s: &Sample, at: usize| {
        data.get(at..at + s.size as usize)
            .and_then(|d| codec::first_vcl_nal_type(codec.family, codec.nal_length_size, d))
    };
    match codec.family {
        Family::Avc => {
            if nal(&first, 0) == Some(5) {
                2
            } else {
                3
            }
        }
        Family::Hevc => {
            let mut at = 0usize;
            let mut rasl = false;
            for s in samples {
                let pt = job.timing.period_time(s.dts, s.cto);
                if pt < first_pt && matches!(nal(s, at), Some(8) | Some(9)) {
                    rasl = true;
                }
                at += s.size as usize;
            }
            if rasl { 3 } else { 2 }
        }
        // Other codecs' sync samples are where decoding starts (SAP 1).
        _ => 1,
    }
}
