"""Short full garbage collections in a server process.

Start-up leaves a service about 100 MiB of objects that live as long as the
process: modules, FastAPI's routes and pydantic's validators, SQLAlchemy's
mappers and statement caches. CPython's full (generation 2) collection walks
every one of them each time it runs, about 100 ms on the benchmark's machine,
and the request in flight waits: the spikes in the one-connection p99s of
`bench/README.md`. `gc.freeze()` moves them to a permanent generation that
collections skip; objects made later are collected as before.

Only `serve` turns this on. A test process builds hundreds of apps, and
freezing each one's objects would keep them for good once they are dropped.
"""

from __future__ import annotations

import gc

_freezing = False


def freeze_after_start_up() -> None:
    """Mark this process as a server: `started_up` then freezes what start-up built."""
    global _freezing
    _freezing = True


def started_up() -> None:
    """Call at the end of an app's start-up (its lifespan, before it yields)."""
    if _freezing:
        gc.collect()  # start-up's garbage goes now, not into the permanent generation
        gc.freeze()
