"""The Python face of dashpack: results match the written MPD, errors are typed,
the GIL is released, Ctrl-C leaves nothing behind."""

import _thread
import os
import pathlib
import pydoc
import subprocess
import threading
import xml.etree.ElementTree as ET

import pytest

import dashpack

FIXTURES = pathlib.Path(__file__).resolve().parents[3] / "fixtures"
# MPEG-4 Part 2 is carried only through a ladder, which this wheel cannot make.
ALL = sorted(p for p in FIXTURES.iterdir() if p.suffix in (".mp4", ".m4a") and not p.name.startswith("mpeg4_"))
NS = {"d": "urn:mpeg:dash:schema:mpd:2011"}


@pytest.mark.parametrize("fixture", ALL, ids=lambda p: p.name)
def test_package_matches_the_written_mpd(fixture, tmp_path):
    out = tmp_path / "out"
    p = dashpack.package(fixture, out)
    assert isinstance(p, dashpack.Presentation)
    assert p.mpd_path == out / "stream.mpd"
    mpd = ET.parse(p.mpd_path).getroot()
    reps = {r.get("id"): r for r in mpd.iterfind(".//d:Representation", NS)}
    assert sorted(reps) == sorted(r.id for r in p.representations)
    files = 1
    for r in p.representations:
        x = reps[r.id]
        # Text (WebVTT) Representations carry no codecs attribute.
        assert (x.get("codecs") or "") == r.codecs
        assert int(x.get("bandwidth")) == r.bandwidth
        if r.content_type == "video":
            assert (int(x.get("width")), int(x.get("height"))) == (r.width, r.height)
        elif r.content_type == "audio":
            assert int(x.get("audioSamplingRate")) == r.sample_rate
        elif not r.codecs:
            # A text track of the input, converted: one WebVTT file, not segmented.
            assert r.content_type == "text" and r.segments == 0
            assert (out / r.id / "subtitles.vtt").read_text().startswith("WEBVTT")
            files += 1
            continue
        else:
            # Text carried as fMP4 (wvtt, stpp): an init segment and media segments.
            assert r.content_type == "text" and (r.codecs == "wvtt" or r.codecs.startswith("stpp."))
            segs = list((out / r.id).glob("seg-*.m4s"))
            assert len(segs) == r.segments >= 1 and (out / r.id / "init.mp4").exists()
            files += 1 + r.segments
            continue
        segs = list((out / r.id).glob("seg-*.m4s"))
        # One segment per started 4 s of the clip (12 s clips, and 2-4 s codec samples);
        # fragmented_late_video's first video segment holds its first frame's 10 s, and
        # its audio ends at 12 s, before the video's first cut at 14 s.
        short = fixture.name == "fragmented_late_video.mp4"
        assert len(segs) == r.segments >= (1 if short else int(p.duration // 4.0))
        files += 1 + r.segments
    assert files == p.files
    assert sum(f.stat().st_size for f in out.rglob("*") if f.is_file()) == p.bytes
    # The longest audio or video stream's own duration (a leading empty edit is taken
    # out; a text track's trailing empty sample does not lengthen the presentation).
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "stream=codec_type,duration", "-of", "csv=p=0", str(fixture)],
        capture_output=True, text=True, check=True)
    rows = (line.strip(",").split(",") for line in probe.stdout.split())
    longest = max(float(r[1]) for r in rows
                  if len(r) > 1 and r[0] in ("audio", "video") and r[1] not in ("", "N/A"))
    assert abs(p.duration - longest) < 0.4


def test_str_pathlike_and_lists(tmp_path):
    a = dashpack.package(str(FIXTURES / "video_only.mp4"), str(tmp_path / "a"))
    b = dashpack.package([FIXTURES / "h264_aac.mp4", FIXTURES / "video_low.mp4"], tmp_path / "b")
    assert len(a.representations) == 1
    assert [r.id for r in b.representations] == ["video-1", "audio-1", "video-2"]


def test_options_mirror_the_rust_options(tmp_path):
    p = dashpack.package(
        FIXTURES / "h264_aac.mp4",
        tmp_path / "o",
        segment_duration=2.0,
        mpd_name="manifest.mpd",
        timeline="time",
    )
    assert p.mpd_path == tmp_path / "o" / "manifest.mpd"
    assert p.representations[0].segments == 6
    # Named by decode time: both tracks start at 0 (without HLS each keeps its own
    # presentationTimeOffset).
    assert (tmp_path / "o" / "audio-1" / "seg-0.m4s").exists()
    assert (tmp_path / "o" / "video-1" / "seg-0.m4s").exists()
    with pytest.raises(dashpack.OutputExistsError):
        dashpack.package(FIXTURES / "h264_aac.mp4", tmp_path / "o")
    dashpack.package(FIXTURES / "h264_aac.mp4", tmp_path / "o", force=True)
    assert not (tmp_path / "o" / "manifest.mpd").exists()


def test_inspect():
    info = dashpack.inspect(FIXTURES / "h264_ntsc.mp4")
    assert isinstance(info, dashpack.MediaInfo)
    v, a = info.tracks
    assert (v.content_type, v.sample_entry, v.frame_rate, v.samples) == ("video", "avc1", "30000/1001", 360)
    assert (a.content_type, a.sample_rate, a.codecs) == ("audio", 44100, "mp4a.40.2")
    assert v.planned_segments == 3
    assert dashpack.inspect(FIXTURES / "h264_ntsc.mp4", segment_duration=2.0).tracks[0].planned_segments == 6


def test_errors_are_typed(tmp_path):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes((FIXTURES / "h264_aac.mp4").read_bytes()[:3000])
    with pytest.raises(dashpack.InvalidInputError, match=r"broken\.mp4: moov at byte \d+"):
        dashpack.package(broken, tmp_path / "x")
    assert not (tmp_path / "x").exists()
    with pytest.raises(dashpack.DashpackIOError, match="nope.mp4"):
        dashpack.package(tmp_path / "nope.mp4", tmp_path / "y")
    with pytest.raises(dashpack.InvalidInputError, match="segment_duration"):
        dashpack.package(FIXTURES / "h264_aac.mp4", tmp_path / "z", segment_duration=0)
    with pytest.raises(dashpack.InvalidInputError, match="timeline"):
        dashpack.package(FIXTURES / "h264_aac.mp4", tmp_path / "z", timeline="sometimes")
    # A fragmented MP4 (an init segment followed by a media segment) is read like any.
    dashpack.package(FIXTURES / "video_only.mp4", tmp_path / "v")
    frag = tmp_path / "frag.mp4"
    frag.write_bytes((tmp_path / "v/video-1/init.mp4").read_bytes() + (tmp_path / "v/video-1/seg-1.m4s").read_bytes())
    assert dashpack.inspect(frag).tracks[0].samples == 100
    # Encrypting AV1 is not supported yet.
    with pytest.raises(dashpack.UnsupportedError, match="encrypting av01"):
        dashpack.package(FIXTURES / "av1_opus.mp4", tmp_path / "w",
                         encryption_key="00112233445566778899aabbccddeeff:00112233445566778899aabbccddeeff")
    for cls in (dashpack.InvalidInputError, dashpack.UnsupportedError, dashpack.DashpackIOError):
        assert issubclass(cls, dashpack.DashpackError)


def test_uncarried_tracks_fail_unless_skipped(tmp_path):
    unknown = FIXTURES / "malformed" / "unknown-codecs.mp4"
    with pytest.raises(dashpack.UnsupportedError, match=r"track 1 \(vide, 'zzzz'\) cannot be carried"):
        dashpack.package(unknown, tmp_path / "u")
    assert not (tmp_path / "u").exists()
    # Left out on purpose, by ID or kind; the warnings say so.
    p = dashpack.package(FIXTURES / "h264_aac.mp4", tmp_path / "a", skip=["audio"])
    assert [r.content_type for r in p.representations] == ["video"]
    assert any("left out as asked" in w for w in p.warnings)
    p = dashpack.package(FIXTURES / "h264_aac.mp4", tmp_path / "b", skip=[1])
    assert [r.content_type for r in p.representations] == ["audio"]
    with pytest.raises(dashpack.InvalidInputError, match="unknown track"):
        dashpack.package(FIXTURES / "h264_aac.mp4", tmp_path / "c", skip=["subtitles"])


def test_progress_reaches_the_total(tmp_path):
    seen = []
    dashpack.package(FIXTURES / "hevc_aac.mp4", tmp_path / "p", progress=lambda d, t: seen.append((d, t)))
    assert len(seen) >= 6
    assert max(seen) == (seen[0][1], seen[0][1])


def test_a_failing_progress_callback_stops_packaging(tmp_path):
    def boom(done, total):
        raise RuntimeError("stop here")

    with pytest.raises(RuntimeError, match="stop here"):
        dashpack.package(FIXTURES / "h264_aac.mp4", tmp_path / "p", progress=boom)
    assert not (tmp_path / "p").exists()


def test_two_threads_package_at_the_same_time(tmp_path):
    # Each call's progress callback waits until the other call has reported progress
    # too: this completes only if both package() calls run at once, which needs the
    # GIL to be released while packaging.
    names = ("h264_aac.mp4", "hevc_aac.mp4")
    inside = {n: threading.Event() for n in names}

    def waiting_for(name, other):
        def cb(done, total):
            inside[name].set()
            if not inside[other].wait(30):
                raise RuntimeError(f"{other} never ran while {name} was packaging")

        return cb

    errors = []

    def run(name, other):
        try:
            dashpack.package(FIXTURES / name, tmp_path / name, progress=waiting_for(name, other))
        except Exception as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=run, args=pair) for pair in (names, names[::-1])]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert all(e.is_set() for e in inside.values())


def test_ctrl_c_stops_promptly_and_leaves_nothing(tmp_path):
    started = threading.Event()

    def slow(done, total):
        started.set()
        threading.Event().wait(0.2)  # keep packaging busy; releases the GIL

    def interrupt():
        started.wait(30)
        _thread.interrupt_main()

    threading.Thread(target=interrupt).start()
    out = tmp_path / "cancelled"
    with pytest.raises(KeyboardInterrupt):
        # One-second segments: many callbacks, so packaging is still running when the
        # interrupt arrives on a loaded machine.
        dashpack.package(FIXTURES / "h264_aac.mp4", out, progress=slow, segment_duration=1.0)
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == []


def test_help_is_useful():
    text = pydoc.render_doc(dashpack.package)
    for word in ("segment_duration", "mpd_name", "force", "progress", "Presentation", "GIL"):
        assert word in text
    assert "MediaInfo" in pydoc.render_doc(dashpack.inspect)
    assert dashpack.__version__
    assert os.path.exists(pathlib.Path(dashpack.__file__).parent / "py.typed")


KID = "0123456789abcdef0123456789abcdef"
KEY = "00112233445566778899aabbccddeeff"


def _decrypted_hashes(init, segment, key, tmp_path):
    """Size and hash of every packet FFmpeg reads from init + segment with the key."""
    one = tmp_path / "one.mp4"
    one.write_bytes(init.read_bytes() + segment.read_bytes())
    out = subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-decryption_key", key, "-i", str(one),
         "-map", "0", "-c", "copy", "-f", "framemd5", "-"],
        check=True, capture_output=True, text=True,
    ).stdout
    return [",".join(f.strip() for f in line.split(",")[4:6])
            for line in out.splitlines() if not line.startswith("#")]


def test_encryption_options_mirror_the_rust_options(tmp_path):
    out = tmp_path / "enc"
    p = dashpack.package(
        FIXTURES / "h264_aac.mp4", out,
        encryption_key=[f"video:{KID}:{KEY}", f"audio:{KID}:{KEY}"],
        encryption_scheme="cbcs", clear_lead=4.0,
        clearkey_license_url="https://license.example/ck",
    )
    mpd = p.mpd_path.read_text()
    assert 'value="cbcs" cenc:default_KID="01234567-89ab-cdef-0123-456789abcdef"' in mpd
    assert "https://license.example/ck" in mpd
    assert KEY not in mpd
    # Segment 1 is the clear lead, segment 2 is encrypted: FFmpeg decrypts it to the
    # input's packets (the second 4 s of video: 100 frames).
    init, seg = out / "video-1" / "init.mp4", out / "video-1" / "seg-2.m4s"
    assert b"encv" in init.read_bytes()
    good = _decrypted_hashes(init, seg, KEY, tmp_path)
    wrong = _decrypted_hashes(init, seg, KEY[:-1] + "0", tmp_path)
    assert len(good) == 100 and sum(a != b for a, b in zip(good, wrong)) > 90


def test_encryption_errors_never_repeat_the_key(tmp_path):
    with pytest.raises(dashpack.InvalidInputError) as e:
        dashpack.package(FIXTURES / "h264_aac.mp4", tmp_path / "x", encryption_key=f"{KID}:{KEY[:20]}")
    assert KEY[:20] not in str(e.value) and "32 hex digits" in str(e.value)
    with pytest.raises(dashpack.InvalidInputError, match="no key applies to audio-1"):
        dashpack.package(FIXTURES / "h264_aac.mp4", tmp_path / "y", encryption_key=f"video:{KID}:{KEY}")
    with pytest.raises(dashpack.InvalidInputError, match="pssh"):
        dashpack.package(FIXTURES / "h264_aac.mp4", tmp_path / "z", encryption_key=f"{KID}:{KEY}", pssh=[b"nope"])
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


def test_hls_subtitles_and_languages(tmp_path):
    vtt = tmp_path / "fr.vtt"
    vtt.write_text("WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nBonjour\n")
    p = dashpack.package(
        [FIXTURES / "h264_aac.mp4", FIXTURES / "audio_only.m4a"], tmp_path / "o",
        hls=True, subtitles=[(vtt, "fra")], languages=[None, "de"],
    )
    assert [r.language for r in p.representations] == ["und", "und", "de", "fr"]
    text = p.representations[-1]
    written = (tmp_path / "o" / "text-1" / "subtitles.vtt").read_bytes()
    assert (text.id, text.content_type, text.bytes) == ("text-1", "text", len(written))
    assert (tmp_path / "o" / "master.m3u8").read_text().startswith("#EXTM3U")
    assert (tmp_path / "o" / "video-1" / "playlist.m3u8").exists()
    # The file as given, with the header line HLS reads its cue times by.
    first, second, rest = written.decode().split("\n", 2)
    assert first == "WEBVTT" and second.startswith("X-TIMESTAMP-MAP=MPEGTS:")
    assert "WEBVTT\n" + rest == vtt.read_text()
    mpd = p.mpd_path.read_text()
    assert 'contentType="text"' in mpd and 'lang="fr"' in mpd and 'lang="de"' in mpd
    with pytest.raises(dashpack.InvalidInputError, match="languages has 1 entries for 2 inputs"):
        dashpack.package([FIXTURES / "h264_aac.mp4", FIXTURES / "audio_only.m4a"], tmp_path / "p", languages=["de"])
    bad = tmp_path / "bad.vtt"
    # SubRip is converted to WebVTT; text that is neither is refused.
    srt = tmp_path / "en.srt"
    srt.write_text("1\n00:00:01,000 --> 00:00:02,000\nsrt\n")
    dashpack.package(FIXTURES / "h264_aac.mp4", tmp_path / "s", subtitles=[(srt, "en")])
    converted = (tmp_path / "s" / "text-1" / "subtitles.vtt").read_text()
    assert converted == "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nsrt\n"
    bad.write_text("just some text\n")
    with pytest.raises(dashpack.InvalidInputError, match="not a WebVTT file"):
        dashpack.package(FIXTURES / "h264_aac.mp4", tmp_path / "q", subtitles=[(bad, "en")])


def test_closed_captions(tmp_path):
    p = dashpack.package(
        FIXTURES / "h264_cea608.mp4", tmp_path / "o", caption_languages={"CC1": "en"}
    )
    video = next(r for r in p.representations if r.content_type == "video")
    assert video.captions == ["CC1=en", "SERVICE1=und"]
    assert 'value="CC1=eng"' in p.mpd_path.read_text()
    with pytest.raises(dashpack.InvalidInputError, match="caption_languages"):
        dashpack.package(FIXTURES / "h264_aac.mp4", tmp_path / "p", caption_languages={"CC7": "en"})


def test_on_demand_profile(tmp_path):
    p = dashpack.package(FIXTURES / "h264_aac.mp4", tmp_path / "o", profile="on-demand", hls=True)
    assert (tmp_path / "o" / "video-1" / "media.mp4").exists()
    assert not (tmp_path / "o" / "video-1" / "seg-1.m4s").exists()
    assert "isoff-on-demand" in p.mpd_path.read_text()
    assert "#EXT-X-BYTERANGE:" in (tmp_path / "o" / "video-1" / "playlist.m3u8").read_text()
    with pytest.raises(dashpack.InvalidInputError, match="profile"):
        dashpack.package(FIXTURES / "h264_aac.mp4", tmp_path / "p", profile="vod")


def test_error_kinds_map_to_documented_exceptions():
    # The one table from the library's error kinds to exceptions (docs/python.md).
    documented = {
        "Input": dashpack.InvalidInputError,
        "Unsupported": dashpack.UnsupportedError,
        "Limit": dashpack.LimitError,
        "Option": dashpack.InvalidOptionError,
        "Output": dashpack.OutputExistsError,
        "Io": dashpack.DashpackIOError,
        "Cancelled": KeyboardInterrupt,
        "Internal": dashpack.InternalError,
    }
    table = dict(dashpack._native._error_for_kinds())
    assert table == documented
    # Narrower classes stay catchable by the old ones.
    assert issubclass(dashpack.LimitError, dashpack.InvalidInputError)
    assert issubclass(dashpack.InvalidOptionError, dashpack.InvalidInputError)
    assert issubclass(dashpack.InternalError, dashpack.DashpackError)
    with pytest.raises(dashpack.InvalidOptionError, match="timeline"):
        dashpack.package(FIXTURES / "h264_aac.mp4", "unused", timeline="sometimes")


def test_ladder_options_are_checked(tmp_path):
    # A ladder that does not parse, or a preset x264 does not have, is refused by name
    # before anything is read or written.
    with pytest.raises(dashpack.InvalidOptionError, match="ladder"):
        dashpack.package(FIXTURES / "h264_aac.mp4", tmp_path / "o", ladder="1080")
    with pytest.raises(dashpack.InvalidOptionError, match="preset"):
        dashpack.package(FIXTURES / "h264_aac.mp4", tmp_path / "o", ladder="auto", ladder_preset="quick")
    # The wheel is built without the `transcode` feature: a ladder is refused, never
    # ignored (the video would be published as it is).
    with pytest.raises(dashpack.InvalidOptionError, match="transcode"):
        dashpack.package(FIXTURES / "h264_aac.mp4", tmp_path / "o", ladder="auto")
    assert not (tmp_path / "o").exists()


def test_video_no_player_decodes_is_refused_by_name(tmp_path):
    with pytest.raises(dashpack.UnsupportedError, match="track 1.*carried only encoded to H.264"):
        dashpack.package(FIXTURES / "mpeg4_aac.mp4", tmp_path / "o")
    assert not (tmp_path / "o").exists()
