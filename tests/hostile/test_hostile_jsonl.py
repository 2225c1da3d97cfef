"""Data reading that one line cannot blow up or stop (issue 32 items 4 and 5): a JSONL line over
``data.max_line_bytes`` is dropped before it is decoded, parsed or tokenized (memory bounded under
an RLIMIT_AS cap), and a line that is not UTF-8 is a bad sample named by file:line under
``data.bad_sample_policy`` (was: a raw UnicodeDecodeError that aborted the run)."""

import json
import subprocess
import sys

import pytest
from transformers import AutoTokenizer

from moka_train.config.sections.data import DataConfig
from moka_train.data.dataset import BadSampleError, MultimodalDataset
from moka_train.data.tokenize import add_placeholder_tokens
from moka_train.modality import build_modality_specs
from moka_train.testing.tokenizer import make_tiny_tokenizer
from moka_train.utils.jsonl import JsonlError, read_objects

GOOD = {"id": "ok", "conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "hello"}]}

READ_UNDER_CAP = """
import resource, sys
from moka_train.data.records import read_records
size = int(open("/proc/self/statm").read().split()[0]) * resource.getpagesize()
resource.setrlimit(resource.RLIMIT_AS, (size + 96 * 2**20, size + 96 * 2**20))
entries = read_records(sys.argv[1], max_line_bytes=2**20)
print([(s.id if p is None else p.reason) for s, p in entries])
"""


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    directory = tmp_path_factory.mktemp("tok")
    make_tiny_tokenizer(directory, "llama3")
    tok = AutoTokenizer.from_pretrained(directory)
    add_placeholder_tokens(tok, SPECS)
    return tok


SPECS = build_modality_specs([("audio", "<audio>", 4)])


def dataset(tmp_path, lines: list[bytes], tokenizer, **cfg) -> MultimodalDataset:
    file = tmp_path / "train.jsonl"
    file.write_bytes(b"".join(line + b"\n" for line in lines))
    data = DataConfig(root=str(tmp_path), train_file=str(file), template="llama3", max_bad_fraction=1.0, **cfg)
    return MultimodalDataset.from_file(file, data, tokenizer, SPECS)


def test_invalid_utf8_line_is_a_bad_sample_named_by_file_and_line(tmp_path, tokenizer):
    bad = json.dumps({**GOOD, "id": "bad"}).encode().replace(b"hello", b"hel\xfflo")
    ds = dataset(tmp_path, [json.dumps(GOOD).encode(), bad], tokenizer)
    assert [s.id for s in ds.samples] == ["ok"]
    assert ds.report.counts == {"invalid_utf8": 1}
    (entry,) = ds.report.examples(1)
    assert f"{tmp_path / 'train.jsonl'}:2: not UTF-8 (byte 0xff" in entry["detail"]
    with pytest.raises(BadSampleError, match=r"invalid_utf8: .*train\.jsonl:2: not UTF-8"):
        dataset(tmp_path, [json.dumps(GOOD).encode(), bad], tokenizer, bad_sample_policy="fail")


def test_other_readers_name_the_line_that_is_not_utf8(tmp_path):
    file = tmp_path / "metrics.jsonl"
    file.write_bytes(b'{"step": 1}\n{"step": "\xfe"}\n')
    with pytest.raises(JsonlError, match=r"metrics\.jsonl:2: not UTF-8"):
        read_objects(file)


def test_overlong_line_is_dropped_before_it_is_parsed(tmp_path, tokenizer):
    long = json.dumps({**GOOD, "id": "long", "conversations": [{"from": "human", "value": "x" * 5000}]}).encode()
    ds = dataset(
        tmp_path, [long, json.dumps(GOOD).encode(), b"{not json at all" + b"y" * 5000], tokenizer, max_line_bytes=4096
    )
    assert [s.id for s in ds.samples] == ["ok"]
    assert ds.report.counts == {"line_too_long": 2}  # the broken JSON too: never parsed
    with pytest.raises(BadSampleError, match=r"train\.jsonl:1: line of \d+ bytes or more, above the 4096 byte limit"):
        dataset(tmp_path, [long], tokenizer, max_line_bytes=4096, overlength="fail")


def test_a_huge_line_is_skipped_in_bounded_memory(tmp_path):
    """A 200 MB line under a cap of 96 MB more address space: skipped in chunks, never held whole."""
    file = tmp_path / "huge.jsonl"
    with file.open("wb") as fh:
        fh.write(json.dumps(GOOD).encode() + b"\n")
        fh.write(b'{"id": "huge", "conversations": [{"from": "human", "value": "')
        for _ in range(200):
            fh.write(b"a" * 2**20)
        fh.write(b'"}]}\n')
        fh.write(json.dumps({**GOOD, "id": "after"}).encode() + b"\n")
    done = subprocess.run(
        [sys.executable, "-c", READ_UNDER_CAP, str(file)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "['ok', 'line_too_long', 'after']"


def test_a_deeply_nested_line_is_named(tmp_path):
    file = tmp_path / "rows.jsonl"
    file.write_text('{"a": ' + "[" * 100_000 + "]" * 100_000 + "}\n")
    with pytest.raises(JsonlError, match=r"rows\.jsonl:1: nested too deeply to be a line"):
        read_objects(file)
