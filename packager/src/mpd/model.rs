//! The subset of the MPD schema (ISO/IEC 23009-1 5.3) that dashpack writes, as typed
//! structs serialised by quick-xml. Attribute fields are named `@name`.

use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
#[serde(rename = "MPD")]
pub(crate) struct Mpd {
    #[serde(rename = "@xmlns")]
    pub xmlns: &'static str,
    #[serde(rename = "@xmlns:cenc", skip_serializing_if = "Option::is_none")]
    pub xmlns_cenc: Option<&'static str>,
    #[serde(rename = "@xmlns:dashif", skip_serializing_if = "Option::is_none")]
    pub xmlns_dashif: Option<&'static str>,
    #[serde(rename = "@xmlns:scte214", skip_serializing_if = "Option::is_none")]
    pub xmlns_scte214: Option<&'static str>,
    #[serde(rename = "@profiles")]
    pub profiles: &'static str,
    #[serde(rename = "@type")]
    pub kind: &'static str,
    #[serde(rename = "@mediaPresentationDuration")]
    pub media_presentation_duration: String,
    #[serde(rename = "@maxSegmentDuration")]
    pub max_segment_duration: String,
    #[serde(rename = "@minBufferTime")]
    pub min_buffer_time: String,
    #[serde(rename = "Period")]
    pub periods: Vec<Period>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Period {
    #[serde(rename = "@id")]
    pub id: &'static str,
    #[serde(rename = "@start")]
    pub start: &'static str,
    #[serde(rename = "AdaptationSet")]
    pub adaptation_sets: Vec<AdaptationSet>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct AdaptationSet {
    #[serde(rename = "@id")]
    pub id: u32,
    #[serde(rename = "@contentType")]
    pub content_type: &'static str,
    #[serde(rename = "@mimeType")]
    pub mime_type: &'static str,
    #[serde(rename = "@lang", skip_serializing_if = "Option::is_none")]
    pub lang: Option<String>,
    #[serde(rename = "@segmentAlignment", skip_serializing_if = "Option::is_none")]
    pub segment_alignment: Option<bool>,
    #[serde(rename = "@startWithSAP", skip_serializing_if = "Option::is_none")]
    pub start_with_sap: Option<u8>,
    /// On-demand profile: the same facts about subsegments (23009-1 8.3.3).
    #[serde(
        rename = "@subsegmentAlignment",
        skip_serializing_if = "Option::is_none"
    )]
    pub subsegment_alignment: Option<bool>,
    #[serde(
        rename = "@subsegmentStartsWithSAP",
        skip_serializing_if = "Option::is_none"
    )]
    pub subsegment_starts_with_sap: Option<u8>,
    #[serde(rename = "@maxWidth", skip_serializing_if = "Option::is_none")]
    pub max_width: Option<u32>,
    #[serde(rename = "@maxHeight", skip_serializing_if = "Option::is_none")]
    pub max_height: Option<u32>,
    #[serde(rename = "@maxFrameRate", skip_serializing_if = "Option::is_none")]
    pub max_frame_rate: Option<String>,
    #[serde(rename = "ContentProtection", skip_serializing_if = "Vec::is_empty")]
    pub content_protection: Vec<ContentProtection>,
    /// Closed captions in the video (SCTE 214-1 schemes for CEA-608 and CEA-708).
    #[serde(rename = "Accessibility", skip_serializing_if = "Vec::is_empty")]
    pub accessibility: Vec<Descriptor>,
    #[serde(rename = "Role", skip_serializing_if = "Option::is_none")]
    pub role: Option<Descriptor>,
    #[serde(rename = "Representation")]
    pub representations: Vec<Representation>,
}

impl AdaptationSet {
    /// A set with only its id, types and Representations (a sidecar file, thumbnail
    /// tiles); the caller adds the rest.
    pub fn plain(
        id: u32,
        content_type: &'static str,
        mime_type: &'static str,
        representations: Vec<Representation>,
    ) -> Self {
        AdaptationSet {
            id,
            content_type,
            mime_type,
            lang: None,
            segment_alignment: None,
            start_with_sap: None,
            subsegment_alignment: None,
            subsegment_starts_with_sap: None,
            max_width: None,
            max_height: None,
            max_frame_rate: None,
            content_protection: Vec::new(),
            accessibility: Vec::new(),
            role: None,
            representations,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Descriptor {
    #[serde(rename = "@schemeIdUri")]
    pub scheme_id_uri: &'static str,
    #[serde(rename = "@value")]
    pub value: String,
}

/// A `ContentProtection` descriptor (23009-1 5.8.4.1; 23001-7 11.2 for `cenc:`; the
/// DASH-IF content protection guidelines for `dashif:Laurl`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct ContentProtection {
    #[serde(rename = "@schemeIdUri")]
    pub scheme_id_uri: String,
    #[serde(rename = "@value", skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(rename = "@cenc:default_KID", skip_serializing_if = "Option::is_none")]
    pub default_kid: Option<String>,
    #[serde(rename = "dashif:Laurl", skip_serializing_if = "Option::is_none")]
    pub laurl: Option<String>,
    #[serde(rename = "cenc:pssh", skip_serializing_if = "Option::is_none")]
    pub pssh: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Representation {
    #[serde(rename = "@id")]
    pub id: String,
    #[serde(rename = "@codecs", skip_serializing_if = "String::is_empty")]
    pub codecs: String,
    /// SCTE 214-1: a codec the player may use instead (Dolby Vision over its base layer).
    #[serde(
        rename = "@scte214:supplementalCodecs",
        skip_serializing_if = "Option::is_none"
    )]
    pub supplemental_codecs: Option<String>,
    #[serde(rename = "@bandwidth")]
    pub bandwidth: u64,
    #[serde(rename = "@width", skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(rename = "@height", skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    #[serde(rename = "@frameRate", skip_serializing_if = "Option::is_none")]
    pub frame_rate: Option<String>,
    #[serde(rename = "@sar", skip_serializing_if = "Option::is_none")]
    pub sar: Option<String>,
    #[serde(rename = "@audioSamplingRate", skip_serializing_if = "Option::is_none")]
    pub audio_sampling_rate: Option<u32>,
    #[serde(
        rename = "AudioChannelConfiguration",
        skip_serializing_if = "Option::is_none"
    )]
    pub audio_channel_configuration: Option<Descriptor>,
    #[serde(rename = "ContentProtection", skip_serializing_if = "Vec::is_empty")]
    pub content_protection: Vec<ContentProtection>,
    /// Thumbnail tiles: `http://dashif.org/thumbnail_tile`, columns x rows.
    #[serde(rename = "EssentialProperty", skip_serializing_if = "Option::is_none")]
    pub essential_property: Option<Descriptor>,
    /// A sidecar file's location (text Representations).
    #[serde(rename = "BaseURL", skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    #[serde(rename = "SegmentBase", skip_serializing_if = "Option::is_none")]
    pub segment_base: Option<SegmentBase>,
    #[serde(rename = "SegmentTemplate", skip_serializing_if = "Option::is_none")]
    pub segment_template: Option<SegmentTemplate>,
}

impl Representation {
    /// A Representation with only its id and bandwidth; the caller adds the rest.
    pub fn plain(id: String, bandwidth: u64) -> Self {
        Representation {
            id,
            codecs: String::new(),
            supplemental_codecs: None,
            bandwidth,
            width: None,
            height: None,
            frame_rate: None,
            sar: None,
            audio_sampling_rate: None,
            audio_channel_configuration: None,
            content_protection: Vec::new(),
            essential_property: None,
            base_url: None,
            segment_base: None,
            segment_template: None,
        }
    }
}

/// Byte ranges of the init segment and the `sidx` in an on-demand file.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct SegmentBase {
    #[serde(rename = "@timescale")]
    pub timescale: u32,
    #[serde(
        rename = "@presentationTimeOffset",
        skip_serializing_if = "Option::is_none"
    )]
    pub presentation_time_offset: Option<u64>,
    #[serde(rename = "@indexRange")]
    pub index_range: String,
    #[serde(rename = "@indexRangeExact")]
    pub index_range_exact: bool,
    #[serde(rename = "Initialization")]
    pub initialization: Initialization,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Initialization {
    #[serde(rename = "@range")]
    pub range: String,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct SegmentTemplate {
    #[serde(rename = "@timescale")]
    pub timescale: u32,
    #[serde(
        rename = "@presentationTimeOffset",
        skip_serializing_if = "Option::is_none"
    )]
    pub presentation_time_offset: Option<u64>,
    /// Absent for images (thumbnail tiles have no init segment).
    #[serde(rename = "@initialization", skip_serializing_if = "Option::is_none")]
    pub initialization: Option<String>,
    #[serde(rename = "@media")]
    pub media: String,
    #[serde(rename = "@startNumber", skip_serializing_if = "Option::is_none")]
    pub start_number: Option<u32>,
    /// Every segment this long (thumbnail tiles), instead of a SegmentTimeline.
    #[serde(rename = "@duration", skip_serializing_if = "Option::is_none")]
    pub duration: Option<u64>,
    #[serde(rename = "SegmentTimeline", skip_serializing_if = "Option::is_none")]
    pub timeline: Option<SegmentTimeline>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct SegmentTimeline {
    #[serde(rename = "S")]
    pub s: Vec<S>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct S {
    #[serde(rename = "@t", skip_serializing_if = "Option::is_none")]
    pub t: Option<u64>,
    #[serde(rename = "@d")]
    pub d: u64,
    #[serde(rename = "@r", skip_serializing_if = "Option::is_none")]
    pub r: Option<u32>,
}
