"""Media held in memory (a server upload, issue 35) decode exactly as the same file does, through
the same header checks and caps (issue 32): video, WAV and compressed audio, image."""

import io
import wave

import pytest
import torch

from moka_train.data.media import MediaBytes, MediaError, MediaLimits, MediaTooLargeError, check_media, load_media

LOAD = {"frames": 4, "size": 32}


def ffmpeg_audio(path, suffix: str) -> bytes:
    """The WAV re-encoded (PyAV) as another container, e.g. FLAC."""
    import av

    out = io.BytesIO()
    with av.open(str(path)) as src, av.open(out, "w", format=suffix.lstrip(".")) as dst:
        stream = dst.add_stream(suffix.lstrip("."), rate=16000)
        for frame in src.decode(audio=0):
            frame.pts = None
            for packet in stream.encode(frame):
                dst.mux(packet)
        for packet in stream.encode(None):
            dst.mux(packet)
    return out.getvalue()


@pytest.mark.parametrize(
    "kind, rel", [("video", "video/av_00000.mp4"), ("audio", "audio/av_00000.wav"), ("image", "image/img_00000.png")]
)
def test_bytes_decode_as_the_file(synthetic_root, kind, rel):
    path = synthetic_root / rel
    from_file = load_media(kind, path, "s", **LOAD, limits=MediaLimits(10**8, 60))
    in_memory = load_media(kind, MediaBytes(path.read_bytes(), path.suffix, "the input"), "s", **LOAD)
    assert torch.equal(from_file, in_memory)


def test_compressed_audio_bytes_decode_as_the_file(synthetic_root, tmp_path):
    flac = ffmpeg_audio(synthetic_root / "audio/av_00000.wav", ".flac")
    (tmp_path / "a.flac").write_bytes(flac)
    assert torch.equal(
        load_media("audio", tmp_path / "a.flac", "s", **LOAD),
        load_media("audio", MediaBytes(flac, ".flac"), "s", **LOAD),
    )


def test_bytes_meet_the_same_caps_and_errors_name_the_input(synthetic_root):
    data = (synthetic_root / "audio/av_00000.wav").read_bytes()
    with pytest.raises(MediaTooLargeError, match="above data.media_max_bytes=100"):
        check_media("audio", MediaBytes(data, ".wav", "the audio input"), MediaLimits(max_bytes=100))
    slow = bytearray(data)
    slow[24:28], slow[28:32] = (1).to_bytes(4, "little"), (2).to_bytes(4, "little")  # a 1 Hz header
    with pytest.raises(MediaTooLargeError, match="declares 1 Hz"):
        load_media("audio", MediaBytes(bytes(slow), ".wav", "the audio input"), "s", **LOAD)
    with pytest.raises(MediaError, match="cannot read the video input"):
        load_media("video", MediaBytes(b"not a video", ".mp4", "the video input"), "s", **LOAD)
    with wave.open(io.BytesIO(data)) as fh:
        assert fh.getframerate() == 16000  # the fixture is what the header test assumes
