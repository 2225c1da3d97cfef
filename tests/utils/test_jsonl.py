"""The one JSONL reader and its two writers (moka_train/utils/jsonl.py)."""

import json
import re

import pytest

from moka_train.utils.jsonl import JsonlError, append_jsonl, read_lines, read_objects, write_jsonl


class CallerError(ValueError):
    pass


def test_reader_numbers_lines_as_the_file_does_and_skips_blank_ones(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text('{"a": 1}\n\n   \n{"a": 2}\n')
    assert read_objects(path) == [(1, {"a": 1}), (4, {"a": 2})]


def test_a_bad_line_names_file_line_and_column_in_the_callers_error(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text('{"a": 1}\n\n{"a": \n')
    with pytest.raises(
        CallerError, match=rf"^{re.escape(str(path))}:3: not valid JSON \(Expecting value at column 7\)$"
    ):
        read_objects(path, error=CallerError)


def test_a_line_that_is_not_an_object_is_named_as_the_caller_calls_it(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text('{"a": 1}\n[1, 2]\n')
    with pytest.raises(JsonlError, match=rf"^{re.escape(str(path))}:2: a record must be a JSON object, got list$"):
        read_objects(path, what="a record")


def test_a_missing_file_is_named_with_the_callers_words_and_type(tmp_path):
    missing = tmp_path / "absent.jsonl"
    with pytest.raises(FileNotFoundError, match=rf"^JSONL file not found: {re.escape(str(missing))}$"):
        read_objects(missing)
    with pytest.raises(CallerError, match=rf"^predictions file not found: {re.escape(str(missing))}$"):
        read_lines(missing, missing=CallerError, file_kind="predictions file")


def test_a_raw_line_separator_inside_a_string_does_not_split_the_row(tmp_path):
    # json.dumps(ensure_ascii=False), as other tools write, keeps U+2028 / U+0085 raw;
    # str.splitlines would cut the row at them
    rows = [{"text": "one\u2028two"}, {"text": "three\x85four"}]
    path = tmp_path / "raw.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    assert read_objects(path) == [(1, rows[0]), (2, rows[1])]


def test_write_replaces_the_file_by_rename_and_creates_parents(tmp_path):
    path = tmp_path / "deep" / "er" / "out.jsonl"
    assert write_jsonl(path, [{"id": "a"}]) == path
    before = path.stat().st_ino
    write_jsonl(path, ({"id": k} for k in "bc"))  # any iterable of rows
    assert path.read_text() == '{"id": "b"}\n{"id": "c"}\n'
    assert path.stat().st_ino != before  # a new file renamed over the old: readers never see half of it
    assert sorted(p.name for p in path.parent.iterdir()) == ["out.jsonl"]  # no temporary left behind


def test_a_row_that_cannot_be_written_leaves_the_old_file_whole(tmp_path):
    path = write_jsonl(tmp_path / "out.jsonl", [{"id": "a"}])
    with pytest.raises(TypeError):
        write_jsonl(path, [{"id": "b"}, {"id": object()}])
    assert path.read_text() == '{"id": "a"}\n'


def test_append_adds_at_the_end_and_creates_the_file(tmp_path):
    path = tmp_path / "metrics.jsonl"
    append_jsonl(path, [{"step": 1}])
    append_jsonl(path, [])
    append_jsonl(path, [{"step": 2}, {"step": 3}])
    assert path.read_text() == '{"step": 1}\n{"step": 2}\n{"step": 3}\n'
    assert [row for _, row in read_objects(path)] == [{"step": 1}, {"step": 2}, {"step": 3}]
