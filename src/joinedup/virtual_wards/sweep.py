"""Re-escalation on a timer: every open escalation past its due time, unacknowledged, is
escalated again (:meth:`VirtualWards.sweep`), from the web app (a background thread) or
from ``joinedup virtual-wards sweep`` (a scheduler's job)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from joinedup.background import Periodic
from joinedup.directory.store import read_directory
from joinedup.virtual_wards.config import load_wards
from joinedup.virtual_wards.store import VirtualWards

logger = logging.getLogger(__name__)


def sweep_once(sessions: sessionmaker[Session], wards_file: Path, now: datetime) -> int:
    """Re-escalate what is overdue (one transaction); how many. 0 with no directory yet."""
    with sessions.begin() as session:
        directory = read_directory(session)
        if directory is None:
            return 0
        return len(VirtualWards(load_wards(wards_file, directory)).sweep(session, now))


class Sweeper(Periodic):
    """:func:`sweep_once` every ``interval`` seconds (a minute: the shortest response time
    is 15). Logs counts only."""

    name = "virtual-ward-escalations"

    def __init__(
        self,
        sessions: sessionmaker[Session],
        wards_file: Path,
        *,
        interval: float = 60.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        super().__init__(interval=interval)
        self.sessions = sessions
        self.wards_file = wards_file
        self.clock = clock

    def round(self) -> int:
        count = sweep_once(self.sessions, self.wards_file, self.clock())
        if count:
            logger.info("virtual wards: %s escalations re-escalated", count)
        return count
