//! Write: each segment's `styp`/`moof`/`mdat` header and payload, stored as a file of
//! its own (live profile) or appended to the Representation's one indexed file
//! (on-demand profile, `sidx` filled in last).

use super::job::TrackJob;
use crate::error::{BoxError, Malformed};
use crate::layout::{Timeline, media_path, on_demand_path};
use crate::mp4::write::cenc::TrafProtection;
use crate::mp4::write::moof::{Fragment, write_segment_header};
use crate::mp4::write::sidx::{SidxRef, sidx_len, write_sidx};
use crate::sink::{Sink, SinkFile};
use crate::{Error, Result};

/// Where a track's media segments go.
pub(super) enum Output<'s> {
    /// Live profile: a file per segment, named by the timeline.
    Files {
        sink: &'s dyn Sink,
        timeline: Timeline,
    },
    OnDemand(OnDemandFile<'s>),
}

impl Output<'_> {
    /// Store segment `index` (from 0), which starts at `time` and lasts `duration`.
    pub fn store(
        &mut self,
        job: &TrackJob<'_>,
        index: usize,
        (time, duration): (u64, u64),
        segment: &[u8],
        sap: u8,
    ) -> Result<()> {
        match self {
            Output::OnDemand(f) => f.append(job, segment, duration, sap),
            Output::Files { sink, timeline } => {
                let path = media_path(job.rep_id, *timeline, index as u32 + 1, time);
                put(*sink, &path, segment)
            }
        }
    }
}

pub(super) fn put(sink: &dyn Sink, path: &str, data: &[u8]) -> Result<()> {
    sink.put(path, data)
        .map_err(|e| Error::io(format!("cannot write output file {path}"), e))
}

/// One segment into `buf`: its header, then the payload `fill` writes (`payload` bytes).
pub(super) fn segment(
    buf: &mut Vec<u8>,
    fragment: &Fragment<'_>,
    payload: u64,
    protection: Option<&TrafProtection<'_>>,
    fill: impl FnOnce(&mut Vec<u8>) -> Result<()>,
) -> Result<()> {
    buf.clear();
    buf.reserve(payload as usize + 128 + fragment.samples.len() * 32);
    write_segment_header(buf, fragment, payload, protection);
    fill(buf)
}

/// The on-demand profile's one file per Representation: the init segment, a `sidx`
/// (written as zeros, filled in by `finish` when every segment's size is known), then
/// the segments without `styp`.
pub(super) struct OnDemandFile<'s> {
    file: Box<dyn SinkFile + 's>,
    path: String,
    sidx_at: u64,
    refs: Vec<SidxRef>,
}

impl<'s> OnDemandFile<'s> {
    pub fn open(sink: &'s dyn Sink, job: &TrackJob<'_>, init: &[u8]) -> Result<Self> {
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
    pub fn finish(mut self, timescale: u32, earliest: u64) -> Result<(u64, u64)> {
        let mut sidx = Vec::with_capacity(sidx_len(self.refs.len()));
        write_sidx(&mut sidx, timescale, earliest, &self.refs);
        let (at, path) = (self.sidx_at, self.path.clone());
        self.file.patch(at, &sidx).map_err(|e| Self::io(&path, e))?;
        self.file.finish().map_err(|e| Self::io(&path, e))?;
        Ok((at, at + sidx.len() as u64 - 1))
    }
}
