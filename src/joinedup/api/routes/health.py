"""``GET /healthz``: is the service up, and can it reach its operational store?"""

from __future__ import annotations

import logging
from typing import Literal

from fastapi import APIRouter, Response, status
from pydantic import BaseModel, Field
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

import joinedup
from joinedup.api.deps import SessionDep

logger = logging.getLogger(__name__)

router = APIRouter(tags=["health"])


class Health(BaseModel):
    """The service's health, as a load balancer or monitoring probe reads it."""

    status: Literal["ok", "unavailable"] = Field(
        description="`ok` when the service can do its work."
    )
    database: Literal["ok", "unreachable"] = Field(
        description="Whether the operational store answered a `SELECT 1`."
    )
    version: str = Field(description="The running JoinedUp version.")
    detail: str | None = Field(default=None, description="What failed, when something did.")


@router.get(
    "/healthz",
    response_model=Health,
    response_model_exclude_none=True,
    responses={status.HTTP_503_SERVICE_UNAVAILABLE: {"model": Health}},
    summary="Health check",
)
def healthz(session: SessionDep, response: Response) -> Health:
    """Run ``SELECT 1`` on the operational store; 503 with the reason if that fails."""
    try:
        session.execute(text("SELECT 1")).scalar_one()
    except SQLAlchemyError as error:
        # The driver's message can name hosts and paths: it goes to the log, not the client.
        logger.warning("health check: operational store unreachable: %s", error)
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
        return Health(
            status="unavailable",
            database="unreachable",
            version=joinedup.__version__,
            detail=f"the operational store did not answer SELECT 1 ({type(error).__name__})",
        )
    return Health(status="ok", database="ok", version=joinedup.__version__)
