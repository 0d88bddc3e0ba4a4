import os
import pathlib
from typing import Tuple, Callable, Literal, Mapping, Optional, Sequence, Union, final

_Path = Union[str, "os.PathLike[str]"]

__version__: str
__all__ = [
    "DashpackError",
    "DashpackIOError",
    "InternalError",
    "InvalidInputError",
    "InvalidOptionError",
    "LimitError",
    "MediaInfo",
    "OutputExistsError",
    "Presentation",
    "Representation",
    "TrackInfo",
    "UnsupportedError",
    "__version__",
    "_error_for_kinds",
    "inspect",
    "package",
]

class DashpackError(Exception): ...
class InvalidInputError(DashpackError): ...
class UnsupportedError(DashpackError): ...
class DashpackIOError(DashpackError): ...
class OutputExistsError(DashpackIOError): ...
class LimitError(InvalidInputError): ...
class InvalidOptionError(InvalidInputError): ...
class InternalError(DashpackError): ...

def _error_for_kinds() -> list[Tuple[str, type]]: ...

@final
class Representation:
    id: str
    input: str
    track_id: int
    content_type: Literal["video", "audio", "text", "image"]
    codecs: str
    bandwidth: int
    width: Optional[int]
    height: Optional[int]
    frame_rate: Optional[str]
    sample_rate: Optional[int]
    channels: Optional[int]
    language: str
    segments: int
    bytes: int
    max_segment_duration: float
    captions: list[str]

@final
class Presentation:
    mpd_path: pathlib.Path
    duration: float
    min_buffer_time: float
    representations: list[Representation]
    files: int
    bytes: int
    warnings: list[str]

@final
class TrackInfo:
    track_id: int
    content_type: Literal["video", "audio"]
    sample_entry: str
    codecs: str
    timescale: int
    duration: float
    samples: int
    sync_samples: int
    keyframe_interval: Optional[float]
    bitrate: int
    width: Optional[int]
    height: Optional[int]
    frame_rate: Optional[str]
    sample_rate: Optional[int]
    channels: Optional[int]
    language: str
    start: float
    planned_segments: int

@final
class MediaInfo:
    file: str
    size: int
    duration: float
    tracks: list[TrackInfo]
    warnings: list[str]

def package(
    input: Union[_Path, Sequence[_Path]],
    output_dir: _Path,
    *,
    segment_duration: Optional[float] = None,
    mpd_name: Optional[str] = None,
    timeline: Optional[Literal["number", "time"]] = None,
    force: bool = False,
    progress: Optional[Callable[[int, int], object]] = None,
    encryption_key: Union[str, Sequence[str], None] = None,
    encryption_scheme: Optional[Literal["cenc", "cbcs"]] = None,
    clear_lead: float = 0.0,
    clearkey_license_url: Optional[str] = None,
    clearkey_inline: bool = False,
    pssh: Optional[Sequence[Union[bytes, str]]] = None,
    hls: bool = False,
    subtitles: Optional[Sequence[Tuple[_Path, str]]] = None,
    languages: Optional[Sequence[Optional[str]]] = None,
    profile: Optional[Literal["live", "on-demand"]] = None,
    skip: Optional[Sequence[Union[int, str]]] = None,
    decryption_key: Union[str, Sequence[str], None] = None,
    caption_languages: Optional[Mapping[str, str]] = None,
    ladder: Optional[str] = None,
    ladder_preset: Optional[str] = None,
) -> Presentation:
    """Package MP4 file(s) into an MPEG-DASH folder and return what was written."""

def inspect(path: _Path, *, segment_duration: Optional[float] = None) -> MediaInfo:
    """Describe an MP4 file's tracks and what package() would make of them."""
