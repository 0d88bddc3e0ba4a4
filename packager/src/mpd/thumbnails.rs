//! Thumbnail tiles as an image AdaptationSet (DASH-IF IOP 4.3 6.2.6): JPEG grids of
//! `columns` x `rows` thumbnails, one grid per segment of `SegmentTemplate@duration`,
//! the thumbnails spaced evenly through it.

use super::model::{AdaptationSet, Descriptor, Representation, SegmentTemplate};
use crate::described::ImageInput;
use crate::layout::{ContentType, FileKind};

/// DASH-IF's descriptor of a tiled image Representation, valued `CxR`.
const THUMBNAIL_TILE: &str = "http://dashif.org/thumbnail_tile";

/// One tile's duration, as (ticks, timescale).
fn tile_duration(image: &ImageInput<'_>) -> (u64, u64) {
    let (num, den) = image.set.tile_duration();
    let g = gcd(num, den);
    (num / g, den / g)
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 { a.max(1) } else { gcd(b, a % b) }
}

/// The largest tile's bits over a tile's duration (as the IOP asks).
pub(crate) fn image_bandwidth(image: &ImageInput<'_>) -> u64 {
    let (ticks, timescale) = tile_duration(image);
    (u128::from(image.largest) * 8 * u128::from(timescale)).div_ceil(u128::from(ticks)) as u64
}

pub(super) fn image_set(id: u32, image: &ImageInput<'_>) -> AdaptationSet {
    let set = image.set;
    let (duration, timescale) = tile_duration(image);
    let rep = Representation {
        width: Some(set.width * set.columns),
        height: Some(set.height * set.rows),
        essential_property: Some(Descriptor {
            scheme_id_uri: THUMBNAIL_TILE,
            value: format!("{}x{}", set.columns, set.rows),
        }),
        segment_template: Some(SegmentTemplate {
            timescale: u32::try_from(timescale).unwrap_or(1),
            presentation_time_offset: None,
            initialization: None,
            media: image.media.to_string(),
            start_number: Some(1),
            duration: Some(duration),
            timeline: None,
        }),
        ..Representation::plain(image.id.to_string(), image_bandwidth(image))
    };
    AdaptationSet::plain(
        id,
        ContentType::Image.as_str(),
        FileKind::Media(ContentType::Image).content_type(),
        vec![rep],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::described::Thumbnails;

    #[test]
    fn a_tile_lasts_its_thumbnails_and_its_bandwidth_is_the_largest_over_that() {
        let set = Thumbnails {
            file: "in.mp4".into(),
            track: 1,
            width: 256,
            height: 144,
            columns: 5,
            rows: 5,
            interval: (2500, 1000),
            count: 30,
            tiles: Default::default(),
            ready: Default::default(),
        };
        let image = ImageInput {
            id: "image-1",
            media: "image-1/tile-$Number$.jpg",
            set: &set,
            largest: 50_000,
        };
        // 25 thumbnails of 2.5 s: 62.5 s, as 125 / 2.
        assert_eq!(tile_duration(&image), (125, 2));
        assert_eq!(image_bandwidth(&image), 6400);
        let a = image_set(3, &image);
        let r = &a.representations[0];
        assert_eq!((r.width, r.height), (Some(1280), Some(720)));
        assert_eq!(r.essential_property.as_ref().unwrap().value, "5x5");
        let t = r.segment_template.as_ref().unwrap();
        assert_eq!((t.timescale, t.duration), (2, Some(125)));
        assert_eq!(a.mime_type, "image/jpeg");
    }
}
