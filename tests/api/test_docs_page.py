"""The interactive docs work offline: /docs refers only to files the API itself serves."""

import re

import httpx


def test_docs_load_nothing_from_elsewhere(client: httpx.Client) -> None:
    """Every script, stylesheet and icon of /docs is served by the API (no CDN), and the
    page points the UI at the API's own OpenAPI document."""
    page = client.get("/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    refs = re.findall(r"""(?:src|href)=["']([^"']+)["']""", page.text)
    refs += re.findall(r"""url: ?["']([^"']+)["']""", page.text)
    assert refs
    for ref in refs:
        assert ref.startswith("/"), f"/docs loads {ref} from elsewhere"
        asset = client.get(ref)
        assert asset.status_code == 200, ref
        assert len(asset.content) > 100, ref
    assert "/openapi.json" in refs
    assert any(ref.endswith("swagger-ui-bundle.js") for ref in refs)
