"""GET /metrics for Prometheus: a static bearer token, or loopback clients only.

With `web.metrics_token` set in secrets.yaml every scrape must send `Authorization: Bearer
<token>`; without one, only a client on this host (loopback) may read. Behind a reverse proxy
the web sees the proxy's loopback address unless `web.trusted_proxies` names it, so the shipped
nginx config refuses /metrics to anyone outside the host itself.
"""

from __future__ import annotations

import hmac
import ipaddress
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from web.context import Context
from web.services import metrics as service

router = APIRouter(tags=["metrics"])
_bearer = HTTPBearer(auto_error=False, description="web.metrics_token from secrets.yaml")


def _is_loopback(host: str | None) -> bool:
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def authorise(
    request: Request,
    context: Context,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    token = context.settings.web.metrics_token
    if token is None:
        if not _is_loopback(request.client.host if request.client else None):
            raise HTTPException(
                403, "metrics: only loopback clients may read without web.metrics_token"
            )
        return
    offered = credentials.credentials if credentials is not None else ""
    if not hmac.compare_digest(offered.encode(), token.encode()):
        raise HTTPException(
            401, "metrics: missing or wrong bearer token", headers={"WWW-Authenticate": "Bearer"}
        )


@router.get("/metrics", dependencies=[Depends(authorise)], response_class=Response)
async def get_metrics(request: Request, context: Context) -> Response:
    mode = context.settings.mode
    families = await context.database.read_async(lambda c: service.collect(c, mode=mode))
    body, content_type = service.exposition(families, request.headers.get("accept"))
    return Response(body, media_type=content_type)
