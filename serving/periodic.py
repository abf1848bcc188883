"""A task run now and then every so many seconds in a daemon thread, until stopped."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

logger = logging.getLogger(__name__)


class Periodic:
    """Runs `task` at once (after `seconds` with `wait_first`) and then every `seconds` in a daemon thread (0:
    never; callers may still run it themselves). A failing run is logged; the next one runs on time."""

    def __init__(
        self, name: str, task: Callable[[], object], seconds: float, wait_first: bool = False
    ) -> None:
        self.name, self.task, self.seconds, self.wait_first = name, task, seconds, wait_first
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self.seconds > 0:
            self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        if self.wait_first and self._stop.wait(self.seconds):
            return
        while True:
            try:
                self.task()
            except Exception as exc:  # what the task keeps up to date stays as it was
                logger.warning("%s failed: %s", self.name, exc)
            if self._stop.wait(self.seconds):
                return
