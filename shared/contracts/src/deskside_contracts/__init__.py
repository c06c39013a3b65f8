"""Deskside API contracts.

Plain Pydantic models for every request, response, event and error that
crosses a service boundary. This package imports neither FastAPI nor a
database driver, so front ends and integrations can depend on it alone.
"""
