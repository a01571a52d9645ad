"""Drain the outbox: N threads claim due rows, push each through its transport (with the
system's adapter on top, when it names one), settle it.

SIGTERM (or Ctrl-C) sets a stop flag: each thread finishes the attempt it is making and exits.
A SIGKILL at any moment loses nothing: the row stays leased until its lease runs out, then it
is claimed again, and the receiver's idempotency makes the repeat harmless.

Whatever goes wrong in one delivery (a transport that cannot be built from its settings, a
malformed key, a bug) is recorded on that row and its attempts, which is retried or
dead-lettered; a thread that dies anyway is counted, and ``photocore deliver`` exits non-zero.
"""

from __future__ import annotations

import signal
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from ..adapters.registry import make_sender
from ..errors import PhotocoreError
from .outbox import DEAD, Outbox
from .transports.base import Delivery, DeliveryError, Transport


class _RateLimit:
    """A token bucket per destination, shared by the threads of this process."""

    def __init__(self, per_second: float):
        self.interval, self.next_at, self.lock = 1.0 / per_second, 0.0, threading.Lock()

    def wait(self, stop: threading.Event) -> None:
        with self.lock:
            now = time.monotonic()
            start = max(now, self.next_at)
            self.next_at = start + self.interval
        if start > now:
            stop.wait(start - now)


@dataclass
class Stats:
    delivered: int = 0
    retried: int = 0
    dead: int = 0
    threads_lost: int = 0  # delivery threads that died on an error no row could record
    lost_because: str = ""  # the last such error, for the operator
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, key: str) -> None:
        with self.lock:
            setattr(self, key, getattr(self, key) + 1)


class Worker:
    def __init__(self, outbox: Outbox, threads: int = 1, once: bool = False, idle_wait: float = 1.0):
        self.outbox, self.threads, self.once, self.idle_wait = outbox, max(1, threads), once, idle_wait
        self.stop = threading.Event()
        self.stats = Stats()
        self._limits: dict[str, _RateLimit] = {}
        self._limits_lock = threading.Lock()

    def _limit_for(self, destination: str, config: dict):
        rate = config.get("rate_limit")
        if not rate:
            return None
        with self._limits_lock:
            return self._limits.setdefault(destination, _RateLimit(float(rate)))

    def _loop(self) -> None:
        transports: dict[str, Transport] = {}  # destination id -> its sender, built on first use
        configs: dict[str, dict[str, Any]] = {}
        try:
            while not self.stop.is_set():
                claimed = self.outbox.claim(1)
                if not claimed:
                    wait = self.outbox.next_due()
                    if self.once and (wait is None or wait > 0):
                        return  # nothing due now: --once is done
                    self.stop.wait(min(self.idle_wait, wait if wait is not None else self.idle_wait) or 0.01)
                    continue
                for delivery, destination in claimed:
                    self._deliver(delivery, destination, transports, configs)
        except Exception as exc:  # noqa: BLE001 - the outbox itself failed (unreadable rows, a broken database)
            with self.stats.lock:
                self.stats.threads_lost += 1
                self.stats.lost_because = f"{getattr(exc, 'code', type(exc).__name__)}: {exc}"
        finally:
            for transport in transports.values():
                transport.close()
            self.outbox.close()

    def _deliver(self, delivery: Delivery, destination: str, transports: dict[str, Transport],
                 configs: dict[str, dict[str, Any]]) -> None:
        """One attempt, settled on its row whatever happens."""
        started = time.time()
        try:
            if destination not in transports:
                configs[destination] = self.outbox.destination(destination)
                transports[destination] = make_sender(configs[destination], destination)
            limit = self._limit_for(destination, configs[destination])
            if limit:
                limit.wait(self.stop)
            started = time.time()
            receipt = transports[destination].send(delivery)
        except DeliveryError as exc:
            status = self.outbox.failed(delivery, exc.code, exc.message, exc.permanent, exc.retry_after, started)
            self.stats.add("dead" if status == DEAD else "retried")
            return
        except (PhotocoreError, ValueError, TypeError, KeyError) as exc:
            # bad configuration (a missing secret, a malformed key): no retry can fix this row
            code = getattr(exc, "code", "deliver.bad_config")
            self.outbox.failed(delivery, code, f"{type(exc).__name__}: {exc}", True, None, started)
            self.stats.add("dead")
            return
        except Exception as exc:  # noqa: BLE001 - anything else: recorded and retried, dead-lettered after max_attempts
            status = self.outbox.failed(delivery, "deliver.internal", f"{type(exc).__name__}: {exc}", False, None,
                                        started)
            self.stats.add("dead" if status == DEAD else "retried")
            return
        self.outbox.delivered(delivery, receipt.receipt_id, receipt.detail, started)
        self.stats.add("delivered")

    def run(self, install_signals: bool = True) -> Stats:
        if install_signals and threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, lambda *_: self.stop.set())
        threads = [threading.Thread(target=self._loop, name=f"deliver-{i}", daemon=True) for i in range(self.threads)]
        for t in threads:
            t.start()
        while any(t.is_alive() for t in threads):
            for t in threads:
                t.join(timeout=0.2)
        return self.stats
