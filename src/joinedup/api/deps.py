"""Request dependencies, declared once as ``Annotated`` aliases for routes and pages.

The settings, the engine and the session factory live on ``app.state``; they are made
by :func:`joinedup.api.app.create_app` and its lifespan, one set per application.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker

from joinedup.settings import Settings


def get_settings(request: Request) -> Settings:
    """The settings the application was made with."""
    settings: Settings = request.app.state.settings
    return settings


def get_session(request: Request) -> Iterator[Session]:
    """A session on the operational store for one request, closed when the request ends."""
    sessions: sessionmaker[Session] = request.app.state.sessions
    with sessions() as session:
        yield session


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[Session, Depends(get_session)]
