"""The API as a front end sees it: headless Chromium, pages on other origins, /docs.

One stack, one browser run: a page on an allowed origin creates a ticket and
shows its reference; the same page on a refused origin is blocked by CORS; and
the gateway's /docs lists every operation with no asset fetched from elsewhere.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from deskside_kit.devstack import SERVICES, Stack
from tests.browser.conftest import (
    BROWSER_TIMEOUT_SECONDS,
    HERE,
    BrowserTools,
    Origins,
)
from tests.support.tokens import bearer

pytestmark = pytest.mark.timeout(BROWSER_TIMEOUT_SECONDS)

HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
# The public API has more operations than this; fewer means a service went missing.
AT_LEAST_OPERATIONS = 50
ALLOWED_USER = "browser-allowed"
REFUSED_USER = "browser-refused"
PUBLIC_PATHS = {"tickets": "/v1/tickets", "inventory": "/v1/devices", "notify": "/v1/notifications"}


def _token(sub: str) -> str:
    return bearer(sub)["Authorization"].removeprefix("Bearer ")


def _operation_count(gateway: str) -> int:
    document = httpx.get(f"{gateway}/openapi.json", timeout=10).json()
    assert not document.get("x-deskside-missing-services")
    return sum(
        1 for item in document["paths"].values() for method in item if method in HTTP_METHODS
    )


@pytest.fixture(scope="module")
def seen(
    browser_tools: BrowserTools,
    browser_stack: Stack,
    page_origins: Origins,
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, Any]:
    """What the browser saw, in one Chromium run for the whole module."""
    operations = _operation_count(browser_stack.gateway_url)
    assert operations > AT_LEAST_OPERATIONS
    config = {
        "chromium": str(browser_tools.chromium),
        "gateway": browser_stack.gateway_url,
        "allowedPage": f"{page_origins.allowed}/index.html",
        "allowedToken": _token(ALLOWED_USER),
        "refusedPage": f"{page_origins.refused}/index.html",
        "refusedToken": _token(REFUSED_USER),
        "operations": operations,
        "screenshot": str(tmp_path_factory.mktemp("browser") / "docs.png"),
    }
    start = time.monotonic()
    result = subprocess.run(
        [browser_tools.node, str(HERE / "drive.mjs"), json.dumps(config)],
        cwd=HERE,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"drive.mjs failed:\n{result.stderr[-4000:]}"
    seen: dict[str, Any] = json.loads(result.stdout)
    seen["operations_expected"] = operations
    seen["node_seconds"] = time.monotonic() - start
    seen["screenshot"] = config["screenshot"]
    print(
        f"\nbrowser: Chromium {seen['version']}, installed {browser_tools.installed or 'nothing'},"
        f" steps (ms) {seen['timings']}, node run {seen['node_seconds']:.1f} s"
    )
    return seen


def test_a_page_on_an_allowed_origin_creates_a_ticket(
    seen: dict[str, Any], browser_stack: Stack
) -> None:
    page = seen["allowed"]
    assert page["state"] == "created", page
    assert re.fullmatch(r"SD-\d+", page["reference"])
    # Exposed by the gateway, so the page could read them.
    assert page["requestId"]
    assert re.fullmatch(r'"\d+"', page["etag"])
    ticket = httpx.get(
        f"{browser_stack.gateway_url}/v1/tickets/{page['reference']}",
        headers=bearer(ALLOWED_USER),
        timeout=10,
    )
    assert ticket.status_code == 200
    assert ticket.json()["title"] == "Dropbox stopped syncing on my iPad"


def test_a_page_on_another_origin_is_blocked(seen: dict[str, Any], browser_stack: Stack) -> None:
    page = seen["refused"]
    assert page["state"] == "failed", page
    assert page["reference"] == ""
    assert page["error"] == "TypeError: Failed to fetch"
    assert any("blocked by CORS policy" in line for line in page["console"]), page["console"]
    # The preflight was refused, so the ticket was never even sent.
    tickets = httpx.get(
        f"{browser_stack.gateway_url}/v1/tickets", headers=bearer(REFUSED_USER), timeout=10
    )
    assert tickets.status_code == 200
    assert tickets.json()["items"] == []


def test_the_docs_list_every_operation_from_local_assets(
    seen: dict[str, Any], browser_stack: Stack
) -> None:
    docs = seen["docs"]
    assert docs["failed"] == []
    assert docs["operations"] == seen["operations_expected"]
    assert docs["title"].startswith("Deskside API")
    elsewhere = [url for url in docs["requested"] if not url.startswith(browser_stack.gateway_url)]
    assert elsewhere == [], "the explorer fetched something from elsewhere"
    assert Path(seen["screenshot"]).stat().st_size > 10_000


def test_the_services_send_no_cors_headers_of_their_own(
    browser_stack: Stack, page_origins: Origins
) -> None:
    """CORS is the gateway's alone: asked directly, no service answers with any."""
    origin = {"Origin": page_origins.allowed}
    preflight = {**origin, "Access-Control-Request-Method": "POST"}
    for part in SERVICES:
        url = browser_stack.url(part) + PUBLIC_PATHS[part.name]
        answers = [
            httpx.get(url, headers={**origin, **bearer(ALLOWED_USER)}, timeout=10),
            httpx.options(url, headers=preflight, timeout=10),
            httpx.get(f"{browser_stack.url(part)}/openapi.json", headers=origin, timeout=10),
        ]
        for answer in answers:
            cors = [name for name in answer.headers if name.lower().startswith("access-control")]
            assert cors == [], f"{part.name} {answer.request.method} {answer.request.url}"
