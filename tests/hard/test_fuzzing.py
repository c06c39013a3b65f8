"""API fuzzing: schemathesis against every service's OpenAPI document, and through the gateway.

The stack runs as real processes on loopback. Through the gateway every public
operation gets up to 30 generated requests (straight to its service, 10),
each sent with the token of one of the four roles in turn, and schemathesis'
checks: no server error; answers that conform to the document (status,
content type, headers, body schema); no use of a deleted resource and no
resource missing right after it was made. On top: every 4xx is problem+json,
and no answer leaks a stack trace, SQL or a path. Then a stateful run follows
the document's links (create, then read, change and delete what was made) as
an admin.

Left out, and why: "schema-valid input is accepted", since rules a JSON Schema
cannot say (a technology is no alternative to itself) answer 422 by design;
and generated invalid input (schemathesis' negative mode), whose removed
`Authorization` header the role's token would put back. Operations without
inputs get one request: there is nothing to vary.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import FlakyStrategyDefinition
from schemathesis.core.transport import Response
from schemathesis.generation.case import Case
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

from deskside_kit.devstack import GATEWAY, SERVICES, Part, Stack
from tests.support.leaks import leaks_in, sent_texts
from tests.support.servers import free_ports
from tests.support.tokens import TEST_JWT_SECRET, bearer

pytestmark = pytest.mark.hard

PROBLEM = "application/problem+json"
# Through the gateway every public operation gets this many; straight to each service
# (the same document, without the gateway) a quicker pass, to keep CI in its time.
CASES_PER_OPERATION = 30
DIRECT_CASES_PER_OPERATION = 10
ROLES = ["requester", "agent", "admin", "integration"]
TOKENS = {role: bearer(f"fuzz-{role}", role) for role in ROLES}
_next_role = itertools.cycle(ROLES)
_sent: Counter[str] = Counter()
_statuses: Counter[str] = Counter()
# One keep-alive connection pool for all the generated requests.
_session = requests.Session()


def _settings(cases: int) -> settings:
    return settings(
        max_examples=cases,
        deadline=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
        database=None,
        # Generate only: a live server's state changes between runs, so replaying or
        # shrinking a case cannot give the same answer twice. A failure is reported as found.
        phases=[Phase.generate],
    )


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    root: Path = tmp_path_factory.mktemp("fuzz")
    ports = dict(zip([p.name for p in (*SERVICES, GATEWAY)], free_ports(4), strict=True))
    running = Stack(
        ports=ports,
        env={
            "DESKSIDE_ENV": "test",
            "DESKSIDE_VAR_DIR": str(root / "var"),
            "DESKSIDE_JWT_SECRET": TEST_JWT_SECRET,
            "DESKSIDE_GATEWAY_RATE_LIMIT_ENABLED": "false",
            "DESKSIDE_LOG_LEVEL": "WARNING",
        },
        log_dir=root / "logs",
    )
    running.start()
    try:
        yield running
    finally:
        running.stop()
        print(
            f"\nfuzzing: {sum(_sent.values())} requests over {len(_sent)} operations "
            f"(fewest {min(_sent.values(), default=0)} for one), statuses {dict(_statuses)}"
        )


def _load(base_url: str) -> Any:
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")

    @schema.hook
    def map_query(context: Any, query: dict[str, Any] | None) -> dict[str, Any] | None:
        # A cursor is opaque: only one the API issued is valid, which no generator can
        # guess. Forged cursors have their own tests (tests/shared/test_paging_and_ids.py).
        if query:
            query.pop("cursor", None)
        return query

    return schema


def _fuzz_every_operation(base_url: str, where: str, cases: int) -> None:
    """Up to `cases` generated requests for each operation of the document.

    Driven with Hypothesis directly rather than schemathesis' pytest plugin, whose
    lazy loading does not run under this pytest.
    """
    schema = _load(base_url)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert operations
    for operation in operations:

        @given(case=operation.as_strategy())
        @_settings(cases)
        def fuzz(case: Case) -> None:
            role = next(_next_role)
            response = case.call_and_validate(
                session=_session,
                headers=TOKENS[role],
                timeout=30,
                excluded_checks=[positive_data_acceptance],
            )
            _sent[f"{where} {case.operation.label}"] += 1
            _statuses[f"{response.status_code // 100}xx"] += 1
            assert_problem_json(response)

        fuzz()


def assert_problem_json(response: Response) -> None:
    if 400 <= response.status_code < 500:
        # schemathesis keeps each header's values as a list
        assert response.headers["content-type"] == [PROBLEM], response.text
    request = response.request
    echoing = sent_texts(str(request.url), request.body)
    assert leaks_in(response.text, echoing=echoing) == [], response.text[:500]


# Long by design (hundreds of requests per operation); pytest-timeout is for hangs.
@pytest.mark.timeout(900)
@pytest.mark.parametrize("part", SERVICES, ids=[part.name for part in SERVICES])
def test_each_service(stack: Stack, part: Part) -> None:
    _fuzz_every_operation(stack.url(part), part.name, DIRECT_CASES_PER_OPERATION)


@pytest.mark.timeout(900)
def test_through_the_gateway(stack: Stack) -> None:
    _fuzz_every_operation(stack.gateway_url, "gateway", CASES_PER_OPERATION)


# The stateful run's rules depend on answers from a server whose state carries
# over from one scenario to the next. When Hypothesis replays a prefix it has
# seen and meets different state, it stops with FlakyStrategyDefinition: a limit
# of stateful testing against a live server, not a defect of the API. Such a run
# counts for the requests it made and a fresh one starts; every failed check is
# kept as it happens (`_stateful_failures`), so no replay can hide one.
STATEFUL_ATTEMPTS = 4
STATEFUL_REQUESTS_AT_LEAST = 300
_stateful_failures: list[str] = []


@pytest.mark.timeout(900)
def test_stateful_through_the_gateway(stack: Stack) -> None:
    machine = _load(stack.gateway_url).as_state_machine()

    class AsAdmin(machine):  # type: ignore[misc, valid-type]
        def get_call_kwargs(self, case: Case) -> dict[str, Any]:
            return {"headers": TOKENS["admin"], "timeout": 30}

        def after_call(self, response: Response, case: Case) -> None:
            super().after_call(response, case)  # records it for the stateful checks
            _sent[f"stateful {case.operation.label}"] += 1
            _statuses[f"{response.status_code // 100}xx"] += 1
            try:
                assert_problem_json(response)
            except AssertionError as failure:
                _stateful_failures.append(f"{case.operation.label}: {failure}")
                raise

        def validate_response(
            self, response: Response, case: Case, additional_checks: Any = None, **kwargs: Any
        ) -> None:
            try:
                case.validate_response(
                    response,
                    additional_checks=additional_checks,
                    # Steps exist to reach deep states; input validation is the stateless
                    # runs' job, and a step's token would mask a removed Authorization.
                    excluded_checks=[positive_data_acceptance, negative_data_rejection],
                    transport_kwargs=kwargs or None,
                    recorder=getattr(self, "recorder", None),
                )
            except Exception as failure:
                _stateful_failures.append(f"{case.operation.label}: {failure}")
                raise

    for attempt in range(STATEFUL_ATTEMPTS):
        try:
            AsAdmin.run(
                settings=settings(
                    max_examples=50,
                    stateful_step_count=8,
                    deadline=None,
                    # The first run is the same every time; later ones explore afresh.
                    derandomize=attempt == 0,
                    suppress_health_check=list(HealthCheck),
                    database=None,
                    phases=[Phase.generate],
                )
            )
        except FlakyStrategyDefinition:
            continue
        break
    sent = sum(count for label, count in _sent.items() if label.startswith("stateful "))
    assert not _stateful_failures, _stateful_failures
    assert sent >= STATEFUL_REQUESTS_AT_LEAST, f"the stateful runs made only {sent} requests"
