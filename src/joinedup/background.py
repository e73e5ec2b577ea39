"""Work the web app does on a timer, in a daemon thread: a round every ``interval`` seconds
until stopped. A round that fails (the database away, say) is logged by its type only (no
patient data) and the next round tries again."""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod

logger = logging.getLogger(__name__)


class Periodic(ABC):
    """Subclasses say what a round does (:meth:`round`) and name the thread."""

    name = "periodic"

    def __init__(self, *, interval: float = 30.0) -> None:
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @abstractmethod
    def round(self) -> object:
        """One round of the work, now (also called directly, e.g. by tests and the CLI)."""

    def start(self) -> None:
        """Start in the background (the first round after one interval)."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop after the round in progress, if any (waiting up to ``timeout`` seconds)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.round()
            except Exception as failure:  # keep going: the next round may work
                logger.warning("%s round failed (%s)", self.name, type(failure).__name__)
