//! Seek-bar previews (DASH-IF thumbnail tiles, IOP 6.2.6), from the ladder's one
//! decode: the picture at each segment start (the rungs' IDR frames), scaled small and
//! laid out in grids of [`COLUMNS`] x [`ROWS`], each grid one JPEG. Made on the decoder's
//! thread: one small scale per segment and one JPEG per grid cost little beside the
//! decode itself.

use std::sync::Arc;

use dashpack_av::{Frame, Picture, Scaler, Tile, Turn};

use super::rung::Frames;
use crate::described::Thumbnails;

pub(super) const COLUMNS: u32 = 5;
pub(super) const ROWS: u32 = 5;
/// A thumbnail's shorter side, in pixels (256x144 for 16:9), never above the source's.
const SHORT_SIDE: u32 = 144;
/// FFmpeg's JPEG quantiser scale (2 best, 31 worst): small tiles, no visible blocks.
const QUALITY: u32 = 5;

/// A thumbnail's size for pictures shown at `width` x `height`: even, aspect kept.
fn thumbnail_size(width: u32, height: u32) -> (u32, u32) {
    let (w, h) = (u64::from(width.max(1)), u64::from(height.max(1)));
    let short = u64::from(SHORT_SIDE).min(w.min(h));
    let even = |v: u64| (u32::try_from(v).unwrap_or(u32::MAX) & !1).max(2);
    if w >= h {
        (even((w * short).div_ceil(h)), even(short))
    } else {
        (even(short), even((h * short).div_ceil(w)))
    }
}

/// The plan: a thumbnail every segment duration (`target`, seconds as num / den) from
/// the edit's start, each the first frame at or after its time (an IDR frame of every
/// rung). Returns the set, and the plan for the decoder's thread.
pub(super) fn plan(
    frames: &Frames,
    edit_start: i64,
    timescale: u32,
    target: (i128, i128),
    shown: (u32, u32),
) -> (Arc<Thumbnails>, ThumbnailPlan) {
    let (num, den) = target;
    let ticks = num * i128::from(timescale);
    // Each IDR frame fills the slot its time falls in (and any slot a gap skipped).
    let at: Vec<(i64, usize)> = frames
        .shown
        .iter()
        .zip(&frames.idr)
        .filter(|(_, k)| **k)
        .map(|(&t, _)| {
            let rel = i128::from(t - edit_start).max(0);
            (
                t,
                usize::try_from(rel * den / ticks.max(1)).unwrap_or(usize::MAX),
            )
        })
        .collect();
    let count = at.last().map_or(0, |&(_, slot)| slot.saturating_add(1));
    let (width, height) = thumbnail_size(shown.0, shown.1);
    let set = Arc::new(Thumbnails {
        file: frames.file.clone(),
        track: frames.track,
        width,
        height,
        columns: COLUMNS,
        rows: ROWS,
        interval: (
            u64::try_from(num).unwrap_or(1),
            u64::try_from(den).unwrap_or(1),
        ),
        count,
        tiles: std::sync::Mutex::new(None),
        ready: std::sync::Condvar::new(),
    });
    let plan = ThumbnailPlan {
        set: Arc::clone(&set),
        at,
        turn: frames.turn,
    };
    (set, plan)
}

/// What the decoder's thread makes its [`ThumbnailMaker`] from (FFmpeg's scaler cannot
/// move between threads, so it is made there).
pub(super) struct ThumbnailPlan {
    set: Arc<Thumbnails>,
    /// The thumbnails' frames: presentation time and slot, ascending.
    at: Vec<(i64, usize)>,
    turn: Turn,
}

/// Fills the tiles as the decoder gives pictures, in presentation order.
pub(super) struct ThumbnailMaker {
    set: Arc<Thumbnails>,
    at: Vec<(i64, usize)>,
    scaler: Scaler,
    tile: Tile,
    tile_no: usize,
    /// Slots filled so far.
    filled: usize,
    last: Option<Frame>,
    done: Vec<Vec<u8>>,
}

impl ThumbnailMaker {
    pub fn new(plan: ThumbnailPlan) -> Self {
        let (w, h) = (plan.set.width, plan.set.height);
        ThumbnailMaker {
            scaler: Scaler::for_stills(w, h, plan.turn),
            tile: Tile::new(COLUMNS * w, ROWS * h),
            set: plan.set,
            at: plan.at,
            tile_no: 0,
            filled: 0,
            last: None,
            done: Vec::new(),
        }
    }

    /// Takes `p` when it is a thumbnail's frame.
    pub fn offer(&mut self, p: &Picture) -> Result<(), String> {
        let Some(pts) = p.pts() else { return Ok(()) };
        let Ok(i) = self.at.binary_search_by_key(&pts, |a| a.0) else {
            return Ok(());
        };
        let slot = self.at[i].1;
        if slot < self.filled {
            return Ok(());
        }
        let frame = self
            .scaler
            .scale(p)
            .map_err(|e| format!("thumbnails: {e}"))?;
        self.fill_to(slot + 1, &frame)?;
        self.last = Some(frame);
        Ok(())
    }

    /// Every picture given (`whole`) or not: the tiles, or why there are none, left in
    /// the set. Slots left empty (frames the decoder did not give) repeat the last
    /// thumbnail.
    pub fn finish(mut self, whole: Result<bool, String>) -> Result<(), String> {
        let result = whole.and_then(|whole| self.last_tiles(whole));
        let failed = result.as_ref().err().cloned();
        self.set.deposit(result);
        failed.map_or(Ok(()), Err)
    }

    fn last_tiles(&mut self, whole: bool) -> Result<Vec<Vec<u8>>, String> {
        if !whole {
            return Err("decoding stopped early".into());
        }
        if let Some(last) = self.last.take() {
            self.fill_to(self.set.count, &last)?;
        }
        if self.filled < self.set.count {
            return Err("the decoder gave no picture for the thumbnails".into());
        }
        if self.filled > 0 {
            self.flush()?;
        }
        Ok(std::mem::take(&mut self.done))
    }

    fn fill_to(&mut self, end: usize, frame: &Frame) -> Result<(), String> {
        let per_tile = self.set.per_tile();
        while self.filled < end.min(self.set.count) {
            let s = self.filled;
            if s / per_tile != self.tile_no {
                self.flush()?;
                self.tile_no = s / per_tile;
            }
            let cell = (s % per_tile) as u32;
            self.tile.place(
                frame,
                cell % COLUMNS * self.set.width,
                cell / COLUMNS * self.set.height,
            );
            self.filled += 1;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), String> {
        let jpeg = self
            .tile
            .jpeg(QUALITY)
            .map_err(|e| format!("thumbnails: {e}"))?;
        self.done.push(jpeg);
        self.tile = Tile::new(COLUMNS * self.set.width, ROWS * self.set.height);
        Ok(())
    }
}

impl Drop for ThumbnailMaker {
    /// A maker that stops before its end (the decoder's thread unwinding) still tells
    /// the set, so nobody waits for tiles forever.
    fn drop(&mut self) {
        self.set
            .deposit(Err("the thumbnail maker stopped before its end".into()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thumbnails_keep_the_aspect_at_a_short_side_of_144_or_less() {
        assert_eq!(thumbnail_size(1920, 1080), (256, 144));
        assert_eq!(thumbnail_size(1080, 1920), (144, 256));
        assert_eq!(thumbnail_size(176, 144), (176, 144));
        assert_eq!(thumbnail_size(128, 96), (128, 96));
        assert_eq!(thumbnail_size(640, 480), (192, 144));
        assert_eq!(thumbnail_size(3, 1), (2, 2));
    }
}
