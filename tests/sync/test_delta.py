"""The PushState hashes are saved beside the writes, not after them (sync/delta.HashRecorder)."""

from __future__ import annotations

import threading

import pytest

from purview_sync.sync.delta import HashRecorder, values_hash


def test_hashes_are_saved_in_batches_while_the_writes_go_on() -> None:
    release = threading.Event()
    saved: list[dict[tuple[int, str], str]] = []
    first_save_started = threading.Event()

    def put(batch: dict[tuple[int, str], str]) -> None:
        first_save_started.set()
        assert release.wait(10), "the test never released the storage call"
        saved.append(dict(batch))

    recorder = HashRecorder(put, every=100)
    for i in range(250):
        recorder.add(i // 10, f"guid-{i}", {"QualityScore": i})
    # every add returned although the first save is still waiting on storage
    assert first_save_started.wait(5) and not saved
    release.set()
    recorder.close()
    assert [len(b) for b in saved] == [100, 100, 50]
    merged = {k: v for b in saved for k, v in b.items()}
    assert merged[(0, "guid-7")] == values_hash({"QualityScore": 7}) and len(merged) == 250


def test_a_storage_error_is_raised_by_close() -> None:
    def put(batch: dict[tuple[int, str], str]) -> None:
        raise OSError("table storage unreachable")

    recorder = HashRecorder(put, every=10)
    for i in range(25):
        recorder.add(1, f"guid-{i}", {"CheckCount": i})
    with pytest.raises(OSError, match="unreachable"):
        recorder.close()


def test_nothing_written_saves_nothing() -> None:
    calls: list[dict[tuple[int, str], str]] = []
    HashRecorder(calls.append).close()
    assert calls == []
