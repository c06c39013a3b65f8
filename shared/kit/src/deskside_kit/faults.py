"""Crash points: named places where a test can make the process die, as a power cut would.

`DESKSIDE_CRASH_AT=relay.after_send_before_mark:3` makes the process SIGKILL
itself the third time it passes that point. The crash-safety tests use them
to cut a process exactly between two steps that must survive being cut apart
(a commit and a send, a send and its mark). Production ignores the variable.
"""

from __future__ import annotations

import os
import signal

# Where the code may be cut, by name; the tests name them too.
RELAY_AFTER_SEND_BEFORE_MARK = "relay.after_send_before_mark"
WEBHOOKS_AFTER_CLAIM_BEFORE_SEND = "webhooks.after_claim_before_send"
WEBHOOKS_AFTER_SEND_BEFORE_MARK = "webhooks.after_send_before_mark"

_passes: dict[str, int] = {}


def _armed() -> tuple[str, int] | None:
    if os.environ.get("DESKSIDE_ENV") == "production":
        return None
    spec = os.environ.get("DESKSIDE_CRASH_AT", "")
    if not spec:
        return None
    name, _, count = spec.partition(":")
    return name, int(count or 1)


def crash_point(name: str) -> None:
    """Die here, at once and without cleanup, if the environment says so."""
    armed = _armed()
    if armed is None or armed[0] != name:
        return
    _passes[name] = _passes.get(name, 0) + 1
    if _passes[name] >= armed[1]:
        os.kill(os.getpid(), signal.SIGKILL)
