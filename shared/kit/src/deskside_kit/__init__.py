"""The Deskside service kit.

The one copy of what every Deskside service does the same way: settings,
database sessions, problem+json errors, request ids, JSON logs, JWT
verification, cursor paging, health probes and metrics. A service adds only
its own domain on top.
"""
