"""engine/atomic.py (write-then-rename) and engine/times.py (the one ISO time format)."""

from __future__ import annotations

import os
from datetime import datetime, timezone

import pytest
from runlake.engine import atomic
from runlake.engine.times import iso, parse_iso, parse_time


def test_replacing_publishes_whole_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "a.json"
    target.write_text("old")
    with atomic.replacing(target) as tmp:
        assert tmp.parent == tmp_path and tmp.name.startswith(atomic.TMP_PREFIX)
        tmp.write_text("new")
        assert target.read_text() == "old"  # not replaced before the body ends
    assert target.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_replacing_failure_keeps_the_old_file(tmp_path):
    target = tmp_path / "a.json"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic.replacing(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("disk full")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_fsync_syncs_file_and_folder_unless_told(tmp_path, monkeypatch):
    synced = []
    real = os.fsync
    monkeypatch.setattr(atomic.os, "fsync", lambda fd: (synced.append(fd), real(fd)))
    atomic.write_bytes(tmp_path / "x", b"1", fsync=True)
    assert len(synced) == 2  # the file, then the folder's entry
    synced.clear()
    with atomic.replacing(tmp_path / "y", fsync=True, fsync_dir=False) as tmp:
        tmp.write_bytes(b"2")
    assert len(synced) == 1
    synced.clear()
    atomic.write_bytes(tmp_path / "z", b"3")
    assert synced == []
    assert (tmp_path / "z").read_bytes() == b"3"


def test_iso_is_utc_with_microseconds():
    assert iso(0) == "1970-01-01T00:00:00.000000Z"
    assert iso(1.25) == "1970-01-01T00:00:01.250000Z"
    naive = datetime(2026, 11, 24, 13, 23, 6, 414487)
    assert iso(naive) == "2026-11-24T13:23:06.414487Z"
    assert iso().endswith("Z")


@pytest.mark.parametrize("text", [
    "2026-11-24T13:23:06.414487Z",   # run.json, as written
    "2026-11-24T13:23:06Z",          # older manifests: no microseconds
    "2026-11-24T13:23:06.414487+00:00",
    "2026-11-24T14:23:06.414487+01:00",
    "2026-11-24T13:23:06.414487",    # no offset: UTC
])
def test_parse_iso_reads_every_form_on_disk(text):
    when = parse_iso(text)
    assert when.tzinfo is not None and when.utcoffset().total_seconds() == 0
    assert when.replace(microsecond=0) == datetime(2026, 11, 24, 13, 23, 6, tzinfo=timezone.utc)


def test_round_trip_and_bad_input():
    ts = 1_790_000_000.123456
    assert parse_time(iso(ts)) == pytest.approx(ts, abs=1e-6)
    assert parse_time("yesterday") is None and parse_time(None) is None and parse_time("") is None
    with pytest.raises(ValueError):
        parse_iso("not a time")
