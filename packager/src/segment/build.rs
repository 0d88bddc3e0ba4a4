//! Building one track's output: its init segment and every media segment, read from
//! the input in as few positional reads as the chunk layout allows and handed to the
//! sink one at a time, so memory is one segment per track in flight.

use super::captions::SegmentSei;
pub(crate) use super::job::{TrackJob, TrackProtection};
use super::plan::SegmentPlan;
use super::read::read_checked;
use super::transform::{self, Encrypting, Runs, encrypt_samples};
use super::write::{self, OnDemandFile, Output};
use crate::codec::captions::{CaptionScan, Captions};
use crate::described::BuiltSegment;
use crate::error::Malformed;
use crate::layout::{ContentType, Timeline, init_path};
use crate::mp4::sample_table::{Cursor, Sample};
use crate::mp4::write::cenc::TrafProtection;
use crate::mp4::write::init::TRACK_ID;
use crate::mp4::write::moof::Fragment;
use crate::options::{Control, Profile};
use crate::sink::Sink;
use crate::source::{Made, SampleMaker};
use crate::{Error, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BuiltTrack {
    pub segments: Vec<BuiltSegment>,
    /// The highest SAP type any segment starts with (1, 2 or 3).
    pub sap: u8,
    pub init_bytes: u64,
    /// On-demand: the `sidx` byte range (first, last) in the Representation's file.
    pub index_range: Option<(u64, u64)>,
    /// The closed-caption channels in the video's SEI.
    pub captions: Captions,
}

/// Writes `job`'s init segment and every media segment to `sink`, one segment in memory
/// at a time: read, transform, write.
pub(crate) fn build_track(
    job: &TrackJob<'_>,
    timeline: Timeline,
    profile: Profile,
    sink: &dyn Sink,
    ctl: &Control,
) -> Result<BuiltTrack> {
    let t = &job.track.track;
    // Started first: a maker fed by others (a ladder rung) must hold its feed before
    // anything here can fail, so a failure releases it.
    let maker = match &job.track.made {
        Some(m) => Some(m.start(job.input)?),
        None => None,
    };
    let (init, mut encrypting) = transform::init_segment(job)?;
    let mut output = match profile {
        Profile::OnDemand => Output::OnDemand(OnDemandFile::open(sink, job, &init)?),
        Profile::Live => {
            write::put(sink, &init_path(job.rep_id), &init)?;
            Output::Files { sink, timeline }
        }
    };
    let mut cut = Cut {
        job,
        cursor: t.table.cursor(),
        maker,
        made: Vec::new(),
        made_samples: Vec::new(),
        planned: 0,
        captions: CaptionScan::default(),
        sei: SegmentSei::default(),
        samples: Vec::new(),
        runs: Runs::default(),
        raw: Vec::new(),
        buf: Vec::new(),
        on_demand: matches!(output, Output::OnDemand(_)),
    };
    let mut built = Vec::with_capacity(job.plan.segments.len());
    let mut sap = 1u8;
    for (i, seg) in job.plan.segments.iter().enumerate() {
        ctl.check_cancel()?;
        let seg_sap = cut.segment(i, seg, encrypting.as_mut())?;
        sap = sap.max(seg_sap);
        let time = (seg.ept + job.timing.pto as i64).max(0) as u64;
        let duration = job.plan.duration(i).max(0) as u64;
        output.store(job, i, (time, duration), &cut.buf, seg_sap)?;
        built.push(BuiltSegment {
            time,
            duration,
            bytes: cut.buf.len() as u64,
            key_bytes: cut.key_bytes(),
        });
        ctl.advance(cut.planned);
    }
    let index_range = match output {
        Output::OnDemand(f) => Some(f.finish(t.timescale, built.first().map_or(0, |s| s.time))?),
        Output::Files { .. } => None,
    };
    Ok(BuiltTrack {
        segments: built,
        sap,
        init_bytes: init.len() as u64,
        index_range,
        captions: cut.captions.found.union(cut.sei.scan.found),
    })
}

/// The state of one track's cut, reused from segment to segment.
struct Cut<'a> {
    job: &'a TrackJob<'a>,
    cursor: Cursor<'a>,
    /// Samples made as they are written (transcoded audio): their bytes and sizes.
    maker: Option<Box<dyn SampleMaker + 'a>>,
    made: Vec<u8>,
    made_samples: Vec<Made>,
    /// The segment's bytes as the sample table plans them.
    planned: u64,
    /// Closed captions found in the video's SEI so far.
    captions: CaptionScan,
    /// Captions from caption tracks, put into the segment's pictures.
    sei: SegmentSei,
    samples: Vec<Sample>,
    runs: Runs<'a>,
    /// The samples as read, when they are written with parameter sets or captions
    /// added.
    raw: Vec<u8>,
    /// The segment as written.
    buf: Vec<u8>,
    on_demand: bool,
}

impl Cut<'_> {
    /// The segment just written, when it is video starting with a sync sample: its
    /// bytes up to the end of that sample (header, then the first sample as written).
    fn key_bytes(&self) -> u64 {
        let (Some(first), Some(written)) = (self.samples.first(), self.runs.trun.first()) else {
            return 0;
        };
        if self.job.track.track.kind != ContentType::Video || !first.sync {
            return 0;
        }
        let header = self.buf.len() as u64 - self.runs.payload;
        header + u64::from(written.size)
    }

    /// Made samples: the next segment's bytes, and their sizes in `samples`.
    fn make_samples(&mut self) -> Result<()> {
        let Some(maker) = self.maker.as_mut() else {
            return Ok(());
        };
        self.made.clear();
        self.made_samples.clear();
        maker.next(self.samples.len(), &mut self.made, &mut self.made_samples)?;
        let mut offset = 0u64;
        for (s, m) in self.samples.iter_mut().zip(&self.made_samples) {
            (s.offset, s.size) = (offset, m.size);
            offset += u64::from(m.size);
            if let Some((shown, key)) = m.shown {
                // Encoded video: the encoder decides the order, the plan the decode
                // times; a frame shown before it is decoded means a deeper reorder
                // than planned.
                s.cto = shown - s.dts as i64;
                s.sync = key;
                if s.cto < 0 {
                    return Err(Error::internal(format!(
                        "encoded sample {} is shown {} ticks before it is decoded",
                        s.index + 1,
                        -s.cto
                    )));
                }
            }
        }
        Ok(())
    }

    /// The segment's samples from the table, refusing tables that hold fewer.
    fn take_samples(&mut self, seg: &SegmentPlan) -> Result<()> {
        let t = &self.job.track.track;
        self.samples.clear();
        self.samples
            .extend(self.cursor.by_ref().take(seg.count as usize));
        if self.samples.len() == seg.count as usize {
            return Ok(());
        }
        Err(Error::Malformed {
            file: self.job.input.name().to_string(),
            path: format!("{}/mdia/minf/stbl", t.path),
            offset: t.offset,
            kind: Malformed::CountMismatch {
                table: "sample tables",
                expected: u64::from(t.table.count),
                found: u64::from(seg.first) + self.samples.len() as u64,
            },
        })
    }

    /// Segment `i` into `buf`; returns its SAP type.
    fn segment(
        &mut self,
        i: usize,
        seg: &SegmentPlan,
        encrypting: Option<&mut Encrypting>,
    ) -> Result<u8> {
        let (job, t) = (self.job, &self.job.track.track);
        self.take_samples(seg)?;
        // Progress counts the planned sizes: made samples learn theirs only now.
        self.planned = self.samples.iter().map(|s| u64::from(s.size)).sum();
        self.make_samples()?;
        let made = self.maker.is_some().then_some(&self.made[..]);
        let placed = (job.plan, &job.timing, &t.codec);
        self.sei
            .prepare(&job.captions.pairs, placed, i, &self.samples);
        self.runs.describe(job, &self.samples, &self.sei)?;
        let fragment = Fragment {
            sequence: i as u32 + 1,
            track_id: TRACK_ID,
            base_decode_time: self.samples[0].dts + job.timing.dts_offset,
            samples: &self.runs.trun,
            with_cto: t.table.has_composition_offsets(),
            with_styp: !self.on_demand,
        };
        let (samples, runs, payload) = (&self.samples, &self.runs, self.runs.payload);
        let mut sap = 1;
        let added = runs.any_prefix() || self.sei.any();
        if added {
            // The samples as they are first (checks, SAP type), then each with its
            // parameter sets and captions.
            self.raw.clear();
            self.raw
                .resize(samples.iter().map(|s| s.size as usize).sum(), 0);
            sap = read_checked(job, seg, samples, made, &mut self.raw, &mut self.captions)?;
            if self.sei.any() {
                not_mixed(job, self.captions.found, self.sei.scan.found)?;
            }
        }
        let (raw, sei) = (&self.raw, &self.sei);
        match encrypting {
            None if added => {
                write::segment(&mut self.buf, &fragment, payload, None, |buf| {
                    runs.with_additions(job, samples, raw, sei, buf);
                    Ok(())
                })?;
            }
            None => write::segment(&mut self.buf, &fragment, payload, None, |buf| {
                let start = buf.len();
                buf.resize(start + payload as usize, 0);
                sap = read_checked(
                    job,
                    seg,
                    samples,
                    made,
                    &mut buf[start..],
                    &mut self.captions,
                )?;
                Ok(())
            })?,
            Some(e) => {
                // The samples are read and encrypted first: the `moof` carries the
                // subsample layout found while encrypting.
                e.payload.clear();
                if added {
                    runs.with_additions(job, samples, raw, sei, &mut e.payload);
                } else {
                    e.payload.resize(payload as usize, 0);
                    sap =
                        read_checked(job, seg, samples, made, &mut e.payload, &mut self.captions)?;
                }
                let clear = i < e.clear_segments;
                if !clear {
                    encrypt_samples(job, seg.first, samples, &runs.trun, e)?;
                }
                let protection = TrafProtection {
                    sample_description_index: clear.then_some(2),
                    aux: (!clear).then_some(&e.aux[..]),
                };
                let payload_bytes = &e.payload;
                write::segment(
                    &mut self.buf,
                    &fragment,
                    payload,
                    Some(&protection),
                    |buf| {
                        buf.extend_from_slice(payload_bytes);
                        Ok(())
                    },
                )?;
            }
        }
        Ok(sap)
    }
}

/// Refuses caption-track pairs written into a field of CEA-608 (two channels) that the
/// video's own SEI already uses: a decoder would read the two streams of commands as
/// one and show neither.
fn not_mixed(job: &TrackJob<'_>, own: Captions, added: Captions) -> Result<()> {
    let Some(field) = (0..2).find(|f| own.cea608 & added.cea608 & (0b11 << (2 * f)) != 0) else {
        return Ok(());
    };
    let t = &job.track.track;
    let ids: Vec<String> = job.captions.tracks.iter().map(u32::to_string).collect();
    Err(Error::UncarriedTrack {
        file: job.input.name().to_string(),
        track: job.captions.tracks.first().copied().unwrap_or_default(),
        handler: "clcp".into(),
        codec: "c608".into(),
        reason: format!(
            "video track {}'s SEI already carries CEA-608 captions in field {}, which \
             caption track {} would be mixed into; leave one out (--skip ID)",
            t.id,
            field + 1,
            ids.join(", ")
        ),
    })
}
