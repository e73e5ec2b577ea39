"""schemathesis over the OpenAPI description of the running app: no request it can make of
any operation, with or without a token, gets a server error."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from joinedup.access.dev_idp import DevIdentityProvider
from joinedup.directory.loader import load_directory
from joinedup.directory.store import save_directory
from joinedup.settings import DEFAULT_DIRECTORY, Settings
from joinedup.storage import make_engine, migrate, session_factory
from tests.e2e.conftest import serve
from tests.support.records import load_people

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    settings = Settings(var_dir=tmp_path_factory.mktemp("fuzz-var"), dev_idp=True)
    engine = make_engine(settings)
    migrate(engine)
    sessions = session_factory(engine)
    with sessions.begin() as session:
        save_directory(session, load_directory(DEFAULT_DIRECTORY))
    load_people(sessions, practice="L99021", other_practice="L99001")
    engine.dispose()
    token = DevIdentityProvider(settings).issue("demo-gp")
    for url in serve(settings):
        yield url, token


def test_no_server_errors(running: tuple[str, str]) -> None:
    url, token = running
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert any(op.path.startswith("/fhir") for op in operations)
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
        def no_server_error(case: Any) -> None:
            case.call_and_validate(
                base_url=url,
                headers={"Authorization": f"Bearer {token}"},
                checks=[not_a_server_error],
            )
            case.call_and_validate(base_url=url, checks=[not_a_server_error])

        no_server_error()
