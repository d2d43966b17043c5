"""Conditional GETs: an ETag on every answer, 304 when the client's copy is current.

The stamp (what the answer depends on, web.services.responses) and the answer are read on one
connection in one worker thread: the answer is at least as new as its stamp, so a tag can only
ever be older than its body, which costs a client one extra download, never a stale screen.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from fastapi import Request, Response
from sqlalchemy import Connection

from web.context import WebContext
from web.services import responses
from web.services.responses import Part

JSON = "application/json"

Parts = Callable[[Connection], Sequence[Part]]
Build = Callable[[Connection], Any]


def _tag(conn: Connection, key: str, parts: Parts) -> str:
    return responses.etag(key, responses.stamp(conn, parts(conn)))


def _body(context: WebContext, conn: Connection, tag: str, build: Build) -> bytes:
    body = context.responses.get(tag)
    if body is None:
        body = responses.encode(build(conn))
        context.responses.put(tag, body)
    return body


def cached(
    context: WebContext, conn: Connection, key: str, parts: Parts, build: Build
) -> tuple[str, bytes]:
    """The answer's ETag and encoded body: kept from an earlier request, or built now."""
    tag = _tag(conn, key, parts)
    return tag, _body(context, conn, tag, build)


def answer(
    request: Request, context: WebContext, conn: Connection, parts: Parts, build: Build
) -> Response:
    """On the request's connection: the stamp, then 304, a kept body, or a freshly built one."""
    tag = _tag(conn, f"{request.url.path}?{request.url.query}", parts)
    if responses.matches(request.headers.get("if-none-match"), tag):
        return Response(status_code=304, headers={"ETag": tag})
    return Response(_body(context, conn, tag, build), media_type=JSON, headers={"ETag": tag})


async def conditional_get(
    request: Request, context: WebContext, parts: Parts, build: Build
) -> Response:
    return await context.database.read_async(
        lambda conn: answer(request, context, conn, parts, build)
    )


def projection(_: Connection) -> list[Part]:
    """For answers from the read models only."""
    return [responses.projection_position()]
