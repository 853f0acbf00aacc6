"""Keeping Python's cyclic garbage collector out of bulk work.

Bulk passes (an import, the full-text indexer, an export, reading a million label rows)
allocate millions of short-lived, acyclic objects that reference counting frees right away.
Their allocations still trigger the cyclic collector, whose full collections walk every object
of the process (imported libraries, caches) and find nothing to free: 10-20% of such a pass
(measured). Both helpers are process-wide and restore what they found."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic collection at all during the block (switched back on only if it was on).
    For bounded work that makes no cyclic garbage of its own (reading rows, writing files)."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


@contextmanager
def long_lived_frozen() -> Iterator[None]:
    """Everything alive when the block starts is left out of the collector's scans until it
    ends (:func:`gc.freeze`), while young objects are still collected as usual: for long
    passes of unbounded size (an import of any number of files), where an occasional cycle
    made along the way must not accumulate."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
