"""The collector helpers restore the state they found and, when freezing, still free young
cycles made inside the block (an import of any size must not accumulate them)."""

from __future__ import annotations

import gc
import weakref

from annotator import gcpause


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


def test_gc_paused_switches_the_collector_off_and_back_on() -> None:
    assert gc.isenabled()
    with gcpause.gc_paused():
        assert not gc.isenabled()
        with gcpause.gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the inner block found it off and left it off
    assert gc.isenabled()


def test_long_lived_frozen_leaves_old_objects_out_and_still_frees_new_cycles() -> None:
    assert gc.get_freeze_count() == 0
    with gcpause.long_lived_frozen():
        assert gc.get_freeze_count() > 0  # what was alive is out of the scans
        a, b = Node(), Node()
        a.other, b.other = b, a
        gone = weakref.ref(a)
        del a, b
        gc.collect()
        assert gone() is None  # a cycle made inside is collected
    assert gc.get_freeze_count() == 0
