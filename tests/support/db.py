"""Small helpers for tests that look inside the store."""

from sqlalchemy import Table, func, select
from sqlalchemy.orm import Session, sessionmaker


def count_rows(sessions: sessionmaker[Session], table: Table) -> int:
    """How many rows ``table`` holds."""
    with sessions() as session:
        return int(session.execute(select(func.count()).select_from(table)).scalar_one())
