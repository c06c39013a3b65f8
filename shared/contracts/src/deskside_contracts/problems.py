"""RFC 9457 problem details: the one wire format of every Deskside error."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

PROBLEM_CONTENT_TYPE = "application/problem+json"


class FieldProblem(BaseModel):
    """One invalid input: where it is and what is wrong with it."""

    model_config = ConfigDict(frozen=True)

    field: str = Field(description="Dotted location, e.g. `body.title` or `query.limit`.")
    message: str
    code: str = Field(description="Machine-readable reason, e.g. `missing`, `string_too_long`.")


class Problem(BaseModel):
    """An error response (`application/problem+json`)."""

    model_config = ConfigDict(frozen=True, extra="allow")

    type: str = Field(
        default="about:blank",
        description="URI naming the kind of problem; stable, so clients may branch on it.",
    )
    title: str = Field(description="Short summary of the kind of problem.")
    status: int = Field(description="The HTTP status code.")
    detail: str | None = Field(default=None, description="What went wrong this time.")
    instance: str | None = Field(default=None, description="The request path.")
    request_id: str | None = Field(default=None, description="The `X-Request-ID` to quote.")
    errors: list[FieldProblem] | None = Field(
        default=None, description="Every invalid field, for validation problems."
    )
