"""docs/http-api.md is generated from the OpenAPI document, and kept up to date."""

from __future__ import annotations

from pathlib import Path

from authward.web.apidoc import http_api_markdown, service_openapi

HTTP_API_DOC = Path(__file__).parents[2] / "docs" / "http-api.md"


def test_http_api_reference_is_up_to_date() -> None:
    assert HTTP_API_DOC.read_text() == http_api_markdown(service_openapi()), (
        "run: authward openapi --markdown > docs/http-api.md"
    )


def test_every_path_of_the_document_is_in_the_reference() -> None:
    document = service_openapi()
    text = http_api_markdown(document)
    for path, operations in document["paths"].items():
        for method in operations:
            assert f"### `{method.upper()} {path}`" in text
