"""The converter library (data_prep/common.py, media_lookup.py): media lookup over layouts and
extensions, the accounting every report carries, id policies, the shared flags and exit codes."""

import argparse

import pytest
from common import Conversion, ConversionError, base_parser, fill_template, list_field, run
from media_lookup import MediaLookup


def make(root, *paths):
    for rel in paths:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(b"")


def test_lookup_tries_folders_then_extensions_and_counts_what_it_used(tmp_path):
    make(tmp_path, "audio_data/a.mp3", "audio/b.wav", "audio_data/b.mp3", "audio/c.flac")
    lookup = MediaLookup(tmp_path, "audio", ["audio", "audio_data"])
    assert [lookup.path(x) for x in "abcd"] == ["audio_data/a.mp3", "audio/b.wav", "audio/c.flac", "audio/d.wav"]
    assert dict(lookup.used) == {"audio_data/*.mp3": 1, "audio/*.wav": 1, "audio/*.flac": 1, "missing": 1}


def test_lookup_keeps_a_given_extension_first_and_tries_nested_then_flat(tmp_path):
    make(tmp_path, "clips/x.flac", "audio/A1/s1.wav", "audio/s2.wav")
    assert MediaLookup(tmp_path, "speech", ["clips"]).path("x.wav") == "clips/x.flac"
    nested = MediaLookup(tmp_path, "speech", ["audio"])
    assert [nested.path("A1/s1", "s1"), nested.path("A1/s2", "s2")] == ["audio/A1/s1.wav", "audio/s2.wav"]
    assert dict(nested.used) == {"audio/<sub>/*.wav": 1, "audio/*.wav": 1}


def test_conversion_accounts_for_every_row_and_reports_distinct_missing(tmp_path):
    make(tmp_path, "v/1.mp4")
    conv = Conversion("x", tmp_path)
    conv.read = 4
    conv.add({"id": "1"}, {"video": "v/1.mp4"})
    conv.add({"id": "2"}, {"video": "v/2.mp4"})
    conv.add({"id": "3"}, {"video": "v/2.mp4"}, drop_missing=True)
    conv.skip("bad")
    report = conv.report()
    assert (report["read"], report["written"], report["skipped"]) == (4, 2, {"missing_media": 1, "bad": 1})
    assert (report["missing_media"], report["rows_missing_media"], report["missing_examples"]) == (1, 2, ["v/2.mp4"])
    conv.read = 5  # a row neither written nor skipped is a converter bug
    with pytest.raises(AssertionError, match="5 rows read but 2 written"):
        conv.report()


@pytest.mark.parametrize(
    "policy, ids, skipped", [("keep-first", ["a"], {"duplicate_id": 1}), ("number", ["a", "a#2"], {})]
)
def test_duplicate_ids(tmp_path, policy, ids, skipped):
    conv = Conversion("x", tmp_path, duplicates=policy)
    conv.read = 2
    conv.add({"id": "a"}, {})
    conv.add({"id": "a"}, {})
    assert [r["id"] for r in conv.rows] == ids and conv.report()["skipped"] == skipped


def test_duplicate_ids_fail_by_default(tmp_path):
    conv = Conversion("x", tmp_path)
    conv.add({"id": "a"}, {})
    with pytest.raises(ConversionError, match="row id 'a' occurs more than once"):
        conv.add({"id": "a"}, {})


def test_shared_flags_out_alias_and_exit_status_when_nothing_written(tmp_path, capsys):
    parser = base_parser("t", {"video": "v"})
    args = parser.parse_args(
        [
            "--input",
            "i",
            "--out",
            str(tmp_path / "o.jsonl"),
            "--media-root",
            str(tmp_path),
            "--video-dir",
            "a",
            "--video-dir",
            "b",
        ]
    )
    assert (args.output, args.video_dir) == (tmp_path / "o.jsonl", ["a", "b"])

    def nothing(a: argparse.Namespace) -> Conversion:
        conv = Conversion("empty", a.media_root)
        conv.read = 1
        conv.skip("filtered")
        return conv

    argv = ["--input", "i", "--output", str(tmp_path / "o.jsonl"), "--media-root", str(tmp_path)]
    assert run(nothing, parser, argv) == 1
    captured = capsys.readouterr()
    assert '"written": 0' in captured.out and "nothing written" in captured.err


def test_template_filler_and_list_fields():
    assert (
        fill_template("Is the <Object> on the <LR> of the <Object>?", ["cello", "left", "violin"], "q")
        == "Is the cello on the left of the violin?"
    )
    with pytest.raises(ConversionError, match="q7: question '<Object> and <Object>' has 2 slots but 1 values"):
        fill_template("<Object> and <Object>", ["a"], "q7")
    assert list_field('["Audio", "Counting"]', "t") == ["Audio", "Counting"] == list_field("['Audio', 'Counting']", "t")
    with pytest.raises(ConversionError, match="expected a list"):
        list_field("Audio", "t")
