"""/docs and /redoc work offline: every asset they load comes from the web itself."""

from __future__ import annotations

import re

import pytest

from tests.web.conftest import Web


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_load_only_same_origin_assets_and_those_are_served(web: Web, page: str) -> None:
    html = web.client.get(page)
    assert html.status_code == 200
    assert html.headers["content-type"].startswith("text/html")
    references = re.findall(r'(?:src|href|spec-url)="([^"]+)"', html.text)
    assert references, html.text
    assert "<script>" not in html.text  # no inline script (script-src 'self')
    for reference in references:
        assert reference.startswith("/") and not reference.startswith("//"), reference
        asset = web.client.get(reference)
        assert asset.status_code == 200, reference
        assert len(asset.content) > 0, reference
    scripts = [r for r in references if r.endswith(".js")]
    assert any("swagger-ui-bundle" in s or "redoc.standalone" in s for s in scripts)


def test_the_swagger_bundle_is_the_real_one_and_unknown_assets_404(web: Web) -> None:
    bundle = web.client.get("/docs/assets/swagger-ui-bundle.js")
    assert "SwaggerUIBundle" in bundle.text[:200_000]
    assert bundle.headers["content-type"].startswith("text/javascript")
    init = web.client.get("/docs/swagger-init.js").text
    assert '"/openapi.json"' in init
    assert web.client.get("/docs/assets/..%2F..%2Fetc%2Fpasswd").status_code == 404
    assert web.client.get("/docs/assets/core.py").status_code == 404


def test_openapi_lists_the_new_routes(web: Web) -> None:
    paths = web.client.get("/openapi.json").json()["paths"]
    for path in (
        "/api/trades",
        "/api/performance",
        "/api/auth/logout",
        "/api/auth/password",
        "/api/orders",
        "/api/events",
    ):
        assert path in paths, path
