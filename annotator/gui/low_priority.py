"""Background work that must not slow the person at the keyboard runs on threads of its own at
a lower CPU priority (the search catch-up, a lead's dashboard warm-up)."""

from __future__ import annotations

import os
import sys
import threading


def lower_this_thread(niceness: int) -> None:
    """Lower the calling thread's CPU priority where the OS schedules threads apart (Linux: a
    thread's niceness is its own, and threads it starts inherit it). It cannot be raised back
    without privileges, hence a thread made for the job rather than one of the window's pool
    threads."""
    if not sys.platform.startswith("linux"):
        return
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) + niceness)
    except OSError:
        pass
