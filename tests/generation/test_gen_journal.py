"""The journal: append-only, torn tail tolerated and cut, corruption named, single writer."""

from __future__ import annotations

import pytest

from sycl.generation.journal import Journal, index_journal, read_journal, read_records_at
from sycl.io.errors import DataError


def test_reopen_keeps_records_and_latest_status(tmp_path):
    path = tmp_path / "journal.jsonl"
    with Journal(path) as j:
        j.append({"key": "a", "status": "failed"})
        j.append({"key": "b", "status": "done", "passages": {"3": ["x"]}})
    with Journal(path) as j:
        assert j.status == {"a": "failed", "b": "done"}
        j.append({"key": "a", "status": "done"})
    assert [r["key"] for r in read_journal(path)] == ["a", "b", "a"]
    with Journal(path) as j:
        assert j.status == {"a": "done", "b": "done"}


def test_torn_last_line_is_skipped_and_cut_before_appending(tmp_path):
    path = tmp_path / "journal.jsonl"
    with Journal(path) as j:
        j.append({"key": "a", "status": "done"})
    with open(path, "ab") as fh:
        fh.write(b'{"key": "b", "status": "do')  # killed mid-write
    assert [r["key"] for r in read_journal(path)] == ["a"]
    with Journal(path) as j:
        assert j.status == {"a": "done"}
        j.append({"key": "c", "status": "done"})
    assert path.read_bytes().count(b"\n") == 2
    assert [r["key"] for r in read_journal(path)] == ["a", "c"]


def test_corrupt_middle_line_names_file_and_line(tmp_path):
    path = tmp_path / "journal.jsonl"
    path.write_text('{"key": "a", "status": "done"}\nnot json\n{"key": "b", "status": "done"}\n')
    with pytest.raises(DataError, match=r"journal.jsonl:2: corrupt journal line"):
        list(read_journal(path))


def test_second_writer_is_refused(tmp_path):
    path = tmp_path / "journal.jsonl"
    with Journal(path):
        with pytest.raises(DataError, match="locked"):
            Journal(path).open()
    with Journal(path) as j:  # released on close
        j.append({"key": "x"})


def test_records_read_back_at_their_offsets_past_blank_lines_and_a_torn_tail(tmp_path):
    # compile_journal keeps only offsets in its first pass and reads the records in unit order
    path = tmp_path / "journal.jsonl"
    path.write_text(
        '{"key": "a", "status": "done"}\n\n{"key": "b", "text": "é ü"}\n  \n{"key": "c"}\n{"key": "d", "st',
        encoding="utf-8",
    )
    index = list(index_journal(path))
    assert [r["key"] for _, r in index] == ["a", "b", "c"]
    back = list(read_records_at(path, [at for at, _ in reversed(index)]))
    assert back == [r for _, r in reversed(index)]
    assert back[1]["text"] == "é ü"
