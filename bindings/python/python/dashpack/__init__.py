"""dashpack: package MP4 files as MPEG-DASH, in-process.

    import dashpack
    p = dashpack.package("in.mp4", "out")
    print(p.mpd_path, [r.codecs for r in p.representations])

``package`` releases the GIL while it works, so threads can package several files at
once; Ctrl-C stops it and leaves no partial output behind.
"""

from ._native import (
    DashpackError,
    DashpackIOError,
    InternalError,
    InvalidInputError,
    InvalidOptionError,
    LimitError,
    MediaInfo,
    OutputExistsError,
    Presentation,
    Representation,
    TrackInfo,
    UnsupportedError,
    __version__,
    inspect,
    package,
)

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
    "inspect",
    "package",
]
