"""Cyclic garbage is collected on the GUI thread only: a worker's allocations never set off a collection that
finalizes (Qt) objects on the worker's thread."""

from __future__ import annotations

import gc
import threading

from fashion_desktop.gui.gc_collector import GuiThreadCollector


class _Cycle:
    finalized_on: list[str] = []

    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the cyclic collector frees it

    def __del__(self) -> None:
        _Cycle.finalized_on.append(threading.current_thread().name)


def _make_garbage_in_a_worker(n: int) -> None:
    def work() -> None:
        for _ in range(n):
            _Cycle()

    t = threading.Thread(target=work, name="worker")
    t.start()
    t.join()


def test_a_workers_cycles_are_finalized_on_the_gui_thread(qtbot):
    was_enabled = gc.isenabled()
    gc.enable()  # as Python starts: automatic collection, which runs on whichever thread allocates
    _Cycle.finalized_on.clear()
    collector = GuiThreadCollector(interval_ms=20)
    collector.start()
    try:
        # 5,000 cycles: far past generation 0's threshold (700), so automatic collection would have run
        # in the worker and finalized some of them there.
        _make_garbage_in_a_worker(5_000)
        assert _Cycle.finalized_on == []
        qtbot.waitUntil(lambda: len(_Cycle.finalized_on) == 5_000, timeout=5_000)
        assert set(_Cycle.finalized_on) == {threading.main_thread().name}
    finally:
        collector.stop()
        automatic_again = gc.isenabled()
        if not was_enabled:
            gc.disable()
    assert automatic_again  # stopped, the collector gives collection back to Python


def test_nothing_is_collected_before_a_generation_is_due(qtbot):
    collector = GuiThreadCollector()
    gc.collect()
    _Cycle.finalized_on.clear()
    for _ in range(10):  # far under generation 0's threshold
        _Cycle()
    collector.collect_due()
    assert _Cycle.finalized_on == []
    gc.collect()
    assert len(_Cycle.finalized_on) == 10
