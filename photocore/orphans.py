"""No orphans: helper processes (batch workers, `serve` workers) die with the process that started them.

``exit_with_parent()`` asks the Linux kernel for a parent-death signal (``prctl(PR_SET_PDEATHSIG)``),
so that even a ``kill -9`` of the parent takes its workers down within moments instead of leaving
them running (and holding their models' memory) forever. Note the kernel's rule: the signal fires
when the *thread* that created this process exits, so the parent must start its workers from a
thread that lives as long as it does (the main thread, as ``ProcessPoolExecutor.submit`` and
uvicorn's supervisor both do).
"""

from __future__ import annotations

import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def exit_with_parent(parent: int | None = None, sig: int = signal.SIGKILL) -> bool:
    """Have this process receive ``sig`` when its parent dies; True if the kernel took the request.

    ``parent`` is the pid of the process that started this one, as that process saw itself: the
    parent may die before a freshly spawned worker gets here (it imports for a while first), and
    then ``os.getppid()`` already names whoever adopted it. Exits at once when the parent is gone."""
    if not sys.platform.startswith("linux"):
        return False  # PR_SET_PDEATHSIG is Linux-only; elsewhere workers fall back on their pipes' EOF
    import ctypes
    import ctypes.util

    parent = os.getppid() if parent is None else parent
    if os.getppid() != parent:  # died while this process was starting: nobody will send the signal
        os._exit(1)
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) != 0:
            return False
    except (OSError, AttributeError):
        return False
    if os.getppid() != parent:  # the parent died before the request: nobody will send the signal
        os._exit(1)
    return True
