"""The dashboard's static files: local assets only, every UI string in strings.js, served."""

from __future__ import annotations

import re
import typing
from html.parser import HTMLParser
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from dashboard.routes import add_dashboard_routes
from schemas.api import SearchResult, TimelineEntry
from schemas.events import CHANNELS, EVENT_TYPES
from schemas.insights import RATE_DEFINITIONS
from tests.dashboard.strings_file import STATIC_DIR, read_strings

EXPECTED_FILES = [
    "index.html",
    "styles.css",
    "icon.svg",
    "strings.js",
    "app.js",
    "api.js",
    "chart.js",
    "common.js",
    "dom.js",
    "format.js",
    "import.js",
    "links.js",
    "message.js",
    "search.js",
    "secret.js",
    "user.js",
]
SVG_NAMESPACE = "http://www.w3.org/2000/svg"
# Properties and attributes whose value is shown to the user, where a literal would bypass
# strings.js.
_LITERAL_UI_TEXT = re.compile(
    r"""(?:\btext|\btitle|"aria-label"|\bplaceholder|\balt)\s*:\s*["'`][^"'`]*[A-Za-z]"""
    r"""|\.(?:textContent|innerText|title|placeholder)\s*=\s*["'`][^"'`]*[A-Za-z]"""
    r"""|setAttribute\(\s*["'](?:aria-label|title|placeholder|alt)["']\s*,\s*["'`][^"'`]*[A-Za-z]"""
)
_STRING_USE = re.compile(r"\bS\.(\w+)(?:\.(\w+))?")


def _scripts() -> list[Path]:
    return sorted(path for path in STATIC_DIR.glob("*.js") if path.name != "strings.js")


class _Page(HTMLParser):
    """Collects the asset URLs, the data-* string keys and the text of index.html."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.string_keys: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href") and value is not None:
                self.urls.append(value)
            if name in ("data-text", "data-label", "data-title", "data-placeholder") and value:
                self.string_keys.append(value)

    def handle_data(self, data: str) -> None:
        if data.strip():
            self.text.append(data.strip())


def _parse_index() -> _Page:
    page = _Page()
    page.feed((STATIC_DIR / "index.html").read_text(encoding="utf-8"))
    return page


@pytest.mark.parametrize("name", EXPECTED_FILES)
def test_static_file_exists(name: str):
    assert (STATIC_DIR / name).is_file()


def test_index_loads_local_assets_only():
    text = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
    page = _parse_index()

    assert "http://" not in text
    assert "https://" not in text
    assert "//" not in "".join(url for url in page.urls if not url.startswith("#"))
    for url in page.urls:
        if url.startswith("#"):
            continue
        assert url.startswith("/static/"), url
        assert (STATIC_DIR / url.removeprefix("/static/")).is_file(), url


def test_assets_fetch_nothing_remote():
    for path in [*STATIC_DIR.glob("*.js"), *STATIC_DIR.glob("*.css")]:
        text = path.read_text(encoding="utf-8").replace(SVG_NAMESPACE, "")
        assert "http://" not in text, path.name
        assert "https://" not in text, path.name
        assert "@import" not in text, path.name


def test_module_imports_are_local_files():
    for path in STATIC_DIR.glob("*.js"):
        for target in re.findall(
            r"""^import .* from "([^"]+)";$""", path.read_text(encoding="utf-8"), re.M
        ):
            assert target.startswith("./"), f"{path.name} imports {target}"
            assert (STATIC_DIR / target.removeprefix("./")).is_file(), (
                f"{path.name} imports {target}"
            )


def test_strings_file_parses():
    strings = read_strings()

    assert strings["locale"] == "en"
    assert strings["appTitle"] == "User Insights"
    assert strings["event"]["clicked"] == "Clicked"


def test_script_string_keys_exist():
    strings = read_strings()
    missing = []
    for path in _scripts():
        for key, sub_key in _STRING_USE.findall(path.read_text(encoding="utf-8")):
            if key not in strings:
                missing.append(f"{path.name}: S.{key}")
            elif sub_key and not (isinstance(strings[key], dict) and sub_key in strings[key]):
                missing.append(f"{path.name}: S.{key}.{sub_key}")

    assert missing == []


def test_every_string_is_used():
    strings = read_strings()
    sources = "".join(path.read_text(encoding="utf-8") for path in _scripts())
    html_keys = set(_parse_index().string_keys)
    used = {key for key, _ in _STRING_USE.findall(sources)} | html_keys

    assert sorted(set(strings) - used) == []


def test_html_string_keys_exist():
    strings = read_strings()
    keys = _parse_index().string_keys

    assert keys
    assert [key for key in keys if not isinstance(strings.get(key), str)] == []


def test_html_has_no_literal_text():
    assert _parse_index().text == []


def test_scripts_have_no_literal_ui_text():
    found = []
    for path in _scripts():
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if _LITERAL_UI_TEXT.search(line):
                found.append(f"{path.name}:{number}: {line.strip()}")

    assert found == []


def test_string_maps_cover_api_values():
    strings = read_strings()
    match_kinds = set(typing.get_args(SearchResult.model_fields["match"].annotation))
    statuses = set(typing.get_args(TimelineEntry.model_fields["status"].annotation))

    assert set(strings["event"]) == set(EVENT_TYPES)
    assert set(strings["channel"]) == set(CHANNELS)
    assert set(strings["rate"]) == set(RATE_DEFINITIONS)
    assert set(strings["rateDefinition"]) == set(RATE_DEFINITIONS)
    assert set(strings["match"]) == match_kinds
    assert set(strings["timelineStatus"]) == statuses
    assert set(strings["statusMark"]) == statuses
    assert set(strings["importCount"]) == {"created", "updated", "skipped"}


def test_rate_definitions_match_api():
    definitions = read_strings()["rateDefinition"]

    for rate, (numerator, denominator) in RATE_DEFINITIONS.items():
        expected = f"{rate.replace('_', ' ')} = unique {numerator} / unique {denominator}"
        assert definitions[rate] == expected


def test_plural_strings_have_one_and_other():
    for key, value in read_strings().items():
        if isinstance(value, dict) and ("one" in value or "other" in value):
            assert set(value) == {"one", "other"}, key
            assert "{count}" in value["other"], key


@pytest.fixture
async def client():
    app = web.Application()
    add_dashboard_routes(app)
    async with TestClient(TestServer(app, host="127.0.0.1")) as test_client:
        yield test_client


async def test_index_served(client: TestClient):
    response = await client.get("/")

    assert response.status == 200
    assert response.content_type == "text/html"
    assert await response.read() == (STATIC_DIR / "index.html").read_bytes()
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]


async def test_app_js_served(client: TestClient):
    response = await client.get("/static/app.js")

    assert response.status == 200
    assert response.content_type == "text/javascript"
    assert response.charset == "utf-8"
    assert await response.read() == (STATIC_DIR / "app.js").read_bytes()
    assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize(
    ("name", "content_type"), [("styles.css", "text/css"), ("icon.svg", "image/svg+xml")]
)
async def test_other_assets_served(client: TestClient, name: str, content_type: str):
    response = await client.get(f"/static/{name}")

    assert response.status == 200
    assert response.content_type == content_type


@pytest.mark.parametrize(
    "path",
    [
        "/static/missing.js",
        "/static/routes.py",
        "/static/..%2Froutes.py",
        "/static/.hidden.js",
        "/static/",
    ],
)
async def test_other_paths_not_found(client: TestClient, path: str):
    response = await client.get(path)

    assert response.status == 404
