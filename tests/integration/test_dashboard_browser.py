"""The dashboard in headless Debian chromium (Playwright) against real worker processes.

Each check compares what the page shows with the API's own response for the same data. The
browser is /usr/bin/chromium from `deploy/install-browser.sh`, because Playwright's own
browser download needs hosts outside the package registries. Screenshots of every step go to
test-artifacts/screenshots/<test>-<step>.png.
"""

from __future__ import annotations

import re
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.dashboard.strings_file import read_strings
from tests.support.kafka import produce
from tests.support.workers import WorkerFactory, WorkerProcess, wait_until

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
VIEWPORTS = {"laptop": {"width": 1366, "height": 768}, "phone": {"width": 390, "height": 844}}
REPO_ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO_ROOT / "test-artifacts" / "screenshots"
WAIT_MS = 20_000

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason=f"{CHROMIUM} is missing; install it with `bash deploy/install-browser.sh`",
    ),
]

S = read_strings()
KOREAN_USER = "u-kr-1"
KOREAN_CSV = (
    "user_id,phone_number,nickname\n"
    "u-kr-1,+821020000000,하늘별\n"
    "u-kr-2,+821011112222,바다\n"
    "u-kr-3,+821033334444,하늘바다\n"
)
# Unique messages per event of u-kr-1 after each step of _korean_events.
FIRST_STEP_COUNTS = {"sent": 3, "delivered": 3, "viewed": 2, "clicked": 2, "failed": 1}
ALL_COUNTS = {**FIRST_STEP_COUNTS, "sent": 4}


# --- expected text, derived from API values the way strings.js and format.js define it ---


def fill(template: str, **values: object) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: str(values.get(m[1], m[0])), template)


def plural(forms: dict[str, str], count: int) -> str:
    return fill(forms["one"] if count == 1 else forms["other"], count=f"{count:,}")


def rate_text(value: float | None) -> str:
    if value is None:
        return S["rateEmpty"]
    return f"{value * 100:.1f}".removesuffix(".0") + "%"


def duration_text(seconds: float | None) -> str:
    if seconds is None:
        return S["durationEmpty"]
    total = round(seconds)
    days, hours, minutes, secs = (
        total // 86400,
        total % 86400 // 3600,
        total % 3600 // 60,
        total % 60,
    )
    if days:
        return fill(S["durationDaysHours"], days=days, hours=hours)
    if hours:
        return fill(S["durationHoursMinutes"], hours=hours, minutes=minutes)
    if minutes and not secs:
        return fill(S["durationMinutes"], minutes=minutes)
    if minutes:
        return fill(S["durationMinutesSeconds"], minutes=minutes, seconds=secs)
    return fill(S["durationSeconds"], seconds=secs)


def time_text(iso: str) -> str:
    at = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    text = at.strftime("%Y-%m-%d %H:%M:%S")
    if at.microsecond // 1000:
        text += f".{at.microsecond // 1000:03d}"
    return fill(S["timeUtc"], date=text[:10], time=text[11:])


def reports_text(entry: dict[str, Any]) -> str:
    if entry["devices"] > 1:
        return fill(
            S["reportedByDevices"],
            devices=entry["devices"],
            reports=plural(S["reportCount"], entry["reports"]),
        )
    if entry["reports"] > 1:
        return plural(S["reportsCountedOnce"], entry["reports"])
    return plural(S["reportCount"], entry["reports"])


def template_text(template: dict[str, Any] | None) -> str:
    if template is None:
        return S["templateNotReported"]
    return fill(
        S["templateRef"], key=template["key"], version=template["version"] or S["templateNoVersion"]
    )


# --- browser and worker helpers ---


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Launch one headless chromium for this module.

    It closes before other modules' asyncio tests run, because Playwright's sync API keeps an
    event loop in the main thread while it is open.
    """
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=WAIT_MS)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        yield chromium
        chromium.close()


class Page:
    """A Playwright page with a viewport, uncaught-error capture and numbered screenshots."""

    def __init__(self, browser: Any, viewport: str, shot_prefix: str) -> None:
        self.context = browser.new_context(viewport=VIEWPORTS[viewport])
        self.page = self.context.new_page()
        self.page.set_default_timeout(WAIT_MS)
        self.viewport = viewport
        self.shot_prefix = shot_prefix
        self.errors: list[str] = []
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))

    def shot(self, step: str) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=SCREENSHOTS / f"{self.shot_prefix}-{step}.png", full_page=True)

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def open_page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """Return a factory of pages, each of which must end without an uncaught script error."""
    pages: list[Page] = []
    name = re.sub(r"[^A-Za-z0-9]+", "-", request.node.name.removeprefix("test_")).strip("-")

    def make(viewport: str = "laptop") -> Page:
        page = Page(browser, viewport, name)
        pages.append(page)
        return page

    yield make
    for page in pages:
        page.close()
    assert [error for page in pages for error in page.errors] == []


def require_dashboard(worker: WorkerProcess) -> None:
    try:
        with urllib.request.urlopen(worker.base_url + "/", timeout=10) as response:
            assert response.status == 200
    except urllib.error.HTTPError as exc:
        pytest.fail(
            f"GET / returned {exc.code}: the worker does not serve the dashboard; "
            "call dashboard.routes.add_dashboard_routes(app) in api.server.create_api"
        )


def api(worker: WorkerProcess, path: str) -> Any:
    return worker.get(path)


def import_file(page: Any, name: str, data: bytes, *, drop: bool) -> None:
    """Attach a file in the import dialog, by the Upload button or by dropping it on the zone."""
    page.click("#import-open")
    if drop:
        transfer = page.evaluate_handle(
            """([name, bytes]) => {
                const transfer = new DataTransfer();
                transfer.items.add(new File([new Uint8Array(bytes)], name, { type: "text/csv" }));
                return transfer;
            }""",
            [name, list(data)],
        )
        page.dispatch_event("#import-drop", "drop", {"dataTransfer": transfer})
        return
    with page.expect_file_chooser() as chooser:
        page.click("#import-choose")
    chooser.value.set_files(files=[{"name": name, "mimeType": "text/csv", "buffer": data}])


def produce_events(bootstrap: str, topic: str, records: list[tuple[bytes, bytes, None]]) -> None:
    # Playwright's sync API keeps an event loop in this thread, so asyncio.run in produce()
    # runs in a thread of its own.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(produce, bootstrap, topic, records).result()


def _event(
    event: str, message_id: str, channel: str, at: str, **fields: Any
) -> tuple[bytes, bytes, None]:
    record = {
        "event": event,
        "user_id": KOREAN_USER,
        "message_id": message_id,
        "channel": channel,
        "occurred_at": at,
    }
    return KOREAN_USER.encode(), orjson.dumps({**record, **fields}), None


def _korean_events() -> tuple[list, list]:
    """Return events of u-kr-1 in two steps, so the `sent` of m-kr-4 arrives after its delivery."""
    coupon = {"button": "쿠폰 보기", "url": "https://example.com/coupons?u=1"}
    first = [
        _event(
            "sent",
            "m-kr-1",
            "push",
            "2026-03-01T09:00:00Z",
            template={"key": "welcome", "version": 3},
            content={
                "title": "환영합니다",
                "body": "하늘별님, 가입을 환영합니다!\n쿠폰을 확인하세요.",
                "variables": {"name": "하늘별", "coupon": 10},
            },
        ),
        _event(
            "delivered",
            "m-kr-1",
            "push",
            "2026-03-01T09:00:02Z",
            device_id="phone-A",
            event_id="d1",
        ),
        _event(
            "delivered",
            "m-kr-1",
            "push",
            "2026-03-01T09:00:03Z",
            device_id="tablet-B",
            event_id="d2",
        ),
        _event("viewed", "m-kr-1", "push", "2026-03-01T09:01:00Z", device_id="phone-A"),
        _event(
            "clicked",
            "m-kr-1",
            "push",
            "2026-03-01T09:05:00Z",
            device_id="phone-A",
            event_id="c1",
            action=coupon,
        ),
        _event(
            "clicked",
            "m-kr-1",
            "push",
            "2026-03-01T09:05:00Z",
            device_id="phone-A",
            event_id="c2",
            action=coupon,
        ),
        _event(
            "sent",
            "m-kr-2",
            "alimtalk",
            "2026-03-02T12:00:00Z",
            template={"key": "order_shipped", "version": 1},
            content={
                "body": "주문하신 상품이 발송되었습니다.",
                "variables": {"order_id": "A-1001"},
            },
        ),
        _event(
            "failed",
            "m-kr-2",
            "alimtalk",
            "2026-03-02T12:00:05Z",
            reason={
                "code": "template_mismatch",
                "detail": "variables do not match the approved template",
            },
        ),
        _event(
            "clicked",
            "m-kr-3",
            "push",
            "2026-03-03T08:00:00Z",
            device_id="phone-A",
            action={"button": "Open"},
        ),
        _event("delivered", "m-kr-4", "sms", "2026-03-04T10:00:01.250Z", device_id="phone-A"),
        _event(
            "sent",
            "m-kr-5",
            "email",
            "2026-03-04T15:00:00Z",
            template={"key": "newsletter", "version": 12},
            content={"title": "3월 소식", "body": "이번 달 소식입니다.", "variables": {}},
        ),
        _event("delivered", "m-kr-5", "email", "2026-03-04T15:00:04Z"),
        _event("viewed", "m-kr-5", "email", "2026-03-05T07:30:00Z"),
    ]
    second = [
        _event(
            "sent",
            "m-kr-4",
            "sms",
            "2026-03-04T10:00:00Z",
            template={"key": "otp", "version": 2},
            content={"body": "인증번호는 123456입니다", "variables": {"code": "123456"}},
        ),
    ]
    return first, second


@pytest.fixture(scope="module")
def korean_site(
    kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory, browser: Any
) -> Iterator[WorkerProcess]:
    """A worker with u-kr-1..3 imported through the page and u-kr-1's events stored.

    The fixture is module-scoped, so the read-only tests share one worker. It is a
    WorkerFactory like the `workers` fixture, on its own topics and data directory.
    """
    from playwright.sync_api import expect

    factory = WorkerFactory(
        kafka_bootstrap, tmp_path_factory.mktemp("dashboard"), uuid.uuid4().hex[:10]
    )
    try:
        worker = factory.start()
        require_dashboard(worker)

        page = Page(browser, "laptop", "korean-site")
        page.page.goto(worker.base_url + "/")
        import_file(page.page, "korean.csv", KOREAN_CSV.encode(), drop=False)
        expect(page.page.locator("#import-counts [data-count=created] dd")).to_have_text("3")
        page.shot("imported")
        page.close()
        assert page.errors == []

        first, second = _korean_events()
        stats_path = f"/api/v1/users/{KOREAN_USER}/stats"
        produce_events(kafka_bootstrap, factory.events_topic, first)
        wait_until(
            lambda: api(worker, stats_path)["total"]["counts"] == FIRST_STEP_COUNTS,
            timeout_s=60,
            what="the first events of u-kr-1 to be stored",
        )
        produce_events(kafka_bootstrap, factory.events_topic, second)
        wait_until(
            lambda: api(worker, stats_path)["total"]["counts"] == ALL_COUNTS,
            timeout_s=60,
            what="the late sent event of m-kr-4 to be stored",
        )
        assert (
            api(worker, f"/api/v1/users/{KOREAN_USER}/messages/m-kr-4")["arrived_out_of_order"]
            is True
        )
        yield worker
    finally:
        factory.stop_all()


# --- import with errors, then only the valid rows ---


@pytest.mark.parametrize("viewport", ["laptop", "phone"])
def test_import_valid_rows_only(
    viewport: str, workers: WorkerFactory, shared_cases: Path, open_page
):
    from playwright.sync_api import expect

    worker = workers.start()
    require_dashboard(worker)
    csv_path = shared_cases / "csv" / "spreadsheet_mangled.csv"
    data = csv_path.read_bytes()
    # Without partial=true an invalid file stores nothing, so this request changes no state.
    status, rejected = worker.request(
        "POST", "/api/v1/users/import", data, {"Content-Type": "text/csv"}
    )
    assert status == 422
    assert [error["line"] for error in rejected["errors"]] == [2, 3, 4]

    view = open_page(viewport)
    page = view.page
    page.goto(worker.base_url + "/")
    import_file(page, csv_path.name, data, drop=viewport == "phone")

    rows = page.locator("#import-errors tbody tr")
    expect(rows).to_have_count(3)
    view.shot("errors")
    assert [int(rows.nth(i).get_attribute("data-line")) for i in range(3)] == [2, 3, 4]
    for i, error in enumerate(rejected["errors"]):
        cells = rows.nth(i).locator("td")
        assert cells.nth(0).inner_text() == str(error["line"])
        assert cells.nth(1).inner_text() == error["column"]
        assert cells.nth(2).inner_text() == error["reason"]
    expect(page.locator("#import-warnings li")).to_have_text(rejected["warnings"])

    page.click("#import-partial")
    expect(page.locator(".check-mark")).to_be_visible()
    view.shot("imported")
    assert page.locator("#import-counts [data-count=created] dd").inner_text() == "4"
    assert page.locator("#import-counts [data-count=updated] dd").inner_text() == "0"
    assert page.locator("#import-counts [data-count=skipped] dd").inner_text() == "3"
    assert api(worker, "/api/v1/users/u-1005")["has_profile"] is True
    assert worker.request("GET", "/api/v1/users/u-1002")[0] == 404


def test_import_shows_progress(workers: WorkerFactory, open_page):
    from playwright.sync_api import expect

    worker = workers.start()
    require_dashboard(worker)
    rows = [f"u-bulk-{i},+8210{20_000_000 + i},벌크{i}" for i in range(20_000)]
    data = ("user_id,phone_number,nickname\n" + "\n".join(rows) + "\n").encode()

    view = open_page("laptop")
    page = view.page
    page.goto(worker.base_url + "/")
    # Record every progress text, with whether the bar had a value (determinate) at that time.
    page.evaluate(
        """() => {
            window.progressSeen = [];
            const text = document.getElementById("import-progress-text");
            const bar = document.getElementById("import-progress-bar");
            const record = () =>
                window.progressSeen.push([text.textContent, bar.hasAttribute("value")]);
            new MutationObserver(record)
                .observe(text, { childList: true, characterData: true, subtree: true });
        }"""
    )
    import_file(page, "bulk.csv", data, drop=False)

    expect(page.locator("#import-counts [data-count=created] dd")).to_have_text("20,000")
    view.shot("imported")
    seen = page.evaluate("window.progressSeen")
    assert [fill(S["importUploading"], name="bulk.csv", percent="0%"), True] in seen
    assert [S["importProcessing"], False] == seen[-1]
    expect(page.locator("#import-progress")).to_be_hidden()
    assert api(worker, "/api/v1/users/u-bulk-19999")["nickname"] == "벌크19999"


# --- search, open the user, compare totals and rates ---


def _check_stats_table(page: Any, stats: dict[str, Any]) -> None:
    groups = {"total": stats["total"], **stats["by_channel"]}
    header = page.locator("#stats-table thead th")
    expected_header = [S["statsMetricColumn"], S["statsTotalColumn"]] + [
        S["channel"][ch] for ch in stats["by_channel"]
    ]
    assert sorted(header.all_inner_texts()[2:]) == sorted(expected_header[2:])
    assert header.all_inner_texts()[:2] == expected_header[:2]

    for group, numbers in groups.items():
        for event, count in numbers["counts"].items():
            cell = page.locator(f'#stats-table td[data-group="{group}"][data-metric="{event}"]')
            assert cell.inner_text() == f"{count:,}", (group, event)
        for rate, value in numbers["rates"].items():
            cell = page.locator(f'#stats-table td[data-group="{group}"][data-metric="{rate}"]')
            assert cell.locator(".rate-value").inner_text() == rate_text(value["value"]), (
                group,
                rate,
            )
            shown = cell.get_attribute("data-value")
            assert (None if shown == "" else float(shown)) == value["value"], (group, rate)
        median = page.locator(
            f'#stats-table td[data-group="{group}"][data-metric="median_sent_to_click_s"]'
        )
        assert median.locator(".median-value").inner_text() == duration_text(
            numbers["median_sent_to_click_s"]
        )

    for rate in stats["total"]["rates"]:
        header_cell = page.locator("#stats-table tr.rate-row th").filter(has_text=S["rate"][rate])
        assert header_cell.get_attribute("title") == S["rateDefinition"][rate]
        assert page.locator(f"#definition-{rate}").inner_text() == S["rateDefinition"][rate]


@pytest.mark.parametrize("viewport", ["laptop", "phone"])
def test_search_opens_user(viewport: str, korean_site: WorkerProcess, open_page):
    from playwright.sync_api import expect

    worker = korean_site
    found = api(worker, "/api/v1/users/search?q=" + urllib.parse.quote("하늘"))
    view = open_page(viewport)
    page = view.page
    page.goto(worker.base_url + "/")

    page.fill("#search-input", "하늘")
    results = page.locator("#search-results a.result")
    expect(results).to_have_count(found["total"])
    expect(page.locator("#search-status")).to_have_text(plural(S["searchFound"], found["total"]))
    view.shot("results")
    for i, result in enumerate(found["results"]):
        link = results.nth(i)
        assert link.get_attribute("data-user-id") == result["user_id"]
        assert link.locator(".result-name").inner_text() == result["nickname"]
        assert link.locator(".result-match").inner_text() == S["match"][result["match"]]
        for event, count in result["summary"].items():
            assert link.locator(f'li[data-event="{event}"] .count-value').inner_text() == str(count)

    page.locator(f'a.result[data-user-id="{KOREAN_USER}"]').click()
    expect(page.locator("#stats-table")).to_be_visible()
    expect(page.locator("#user-heading")).to_have_text("하늘별")
    view.shot("user")

    stats = api(worker, f"/api/v1/users/{KOREAN_USER}/stats")
    _check_stats_table(page, stats)

    profile = api(worker, f"/api/v1/users/{KOREAN_USER}")
    assert page.locator('[data-field="phone"]').inner_text() == profile["phone_number"]
    page.get_by_role("button", name=S["profileReveal"]).click()
    revealed = api(worker, f"/api/v1/users/{KOREAN_USER}?show_phone=true")["phone_number"]
    expect(page.locator('[data-field="phone"]')).to_have_text(revealed)
    assert revealed == "+821020000000"


@pytest.mark.parametrize("viewport", ["laptop", "phone"])
def test_activity_and_messages(viewport: str, korean_site: WorkerProcess, open_page):
    from playwright.sync_api import expect

    worker = korean_site
    activity = api(worker, f"/api/v1/users/{KOREAN_USER}/activity")["days"]
    messages = api(worker, f"/api/v1/users/{KOREAN_USER}/messages")
    push_only = api(worker, f"/api/v1/users/{KOREAN_USER}/messages?channel=push")
    view = open_page(viewport)
    page = view.page
    page.goto(f"{worker.base_url}/#/users/{KOREAN_USER}")

    expect(page.locator("svg.chart")).to_be_visible()
    # The five days are consecutive, so the chart has one bar per day and event type.
    expected_titles = [
        fill(S["chartPointTitle"], day=day["day"], count=day[event], event=S["event"][event])
        for day in activity
        for event in ("sent", "delivered", "viewed", "clicked", "failed")
    ]
    assert page.locator("svg.chart rect.bar title").all_text_contents() == expected_titles
    assert page.locator(".legend li").all_inner_texts() == [
        S["event"][e] for e in ("sent", "delivered", "viewed", "clicked", "failed")
    ]
    assert page.locator("svg.chart .axis-title").all_text_contents() == [
        S["chartAxisY"],
        S["chartAxisX"],
    ]

    rows = page.locator(".messages-table tbody tr")
    expect(rows).to_have_count(len(messages["messages"]))
    view.shot("messages")
    assert [rows.nth(i).get_attribute("data-message-id") for i in range(rows.count())] == [
        m["message_id"] for m in messages["messages"]
    ]
    expect(page.locator(".pager .page-status")).to_have_text(
        fill(S["pageStatus"], first=1, last=messages["total"], total=messages["total"])
    )

    page.select_option("#filter-channel", "push")
    page.get_by_role("button", name=S["filterApply"]).click()
    expect(rows).to_have_count(len(push_only["messages"]))
    view.shot("push-only")
    assert [rows.nth(i).get_attribute("data-message-id") for i in range(rows.count())] == [
        m["message_id"] for m in push_only["messages"]
    ]


def _row_ids(page: Any) -> list[str]:
    rows = page.locator(".messages-table tbody tr")
    return [rows.nth(i).get_attribute("data-message-id") for i in range(rows.count())]


def test_date_filter_matches_api(korean_site: WorkerProcess, open_page):
    from playwright.sync_api import expect

    worker = korean_site
    everything = api(worker, f"/api/v1/users/{KOREAN_USER}/messages")
    between = api(
        worker, f"/api/v1/users/{KOREAN_USER}/messages?since=2026-03-03&until=2026-03-04"
    )
    # The range keeps some messages and drops others, so the filter is visible.
    assert 0 < between["total"] < everything["total"]
    view = open_page()
    page = view.page
    page.goto(f"{worker.base_url}/#/users/{KOREAN_USER}")
    expect(page.locator(".messages-table tbody tr")).to_have_count(everything["total"])

    page.fill("#filter-since", "2026-03-03")
    page.fill("#filter-until", "2026-03-04")
    page.get_by_role("button", name=S["filterApply"]).click()

    expect(page.locator(".messages-table tbody tr")).to_have_count(between["total"])
    view.shot("between")
    assert _row_ids(page) == [m["message_id"] for m in between["messages"]]
    expect(page.locator(".pager .page-status")).to_have_text(
        fill(S["pageStatus"], first=1, last=between["total"], total=between["total"])
    )


PAGED_USER = "u-pages"
PAGED_MESSAGES = 45


def test_message_pages_match_api(workers: WorkerFactory, kafka_bootstrap: str, open_page):
    from playwright.sync_api import expect

    worker = workers.start()
    require_dashboard(worker)
    records = [
        (
            PAGED_USER.encode(),
            orjson.dumps(
                {
                    "event": "sent",
                    "user_id": PAGED_USER,
                    "message_id": f"m-page-{number:02d}",
                    "channel": "push",
                    "occurred_at": f"2026-04-01T{number // 60:02d}:{number % 60:02d}:00Z",
                }
            ),
            None,
        )
        for number in range(PAGED_MESSAGES)
    ]
    produce_events(kafka_bootstrap, workers.events_topic, records)
    messages_path = f"/api/v1/users/{PAGED_USER}/messages"
    wait_until(
        lambda: api(worker, messages_path)["total"] == PAGED_MESSAGES,
        timeout_s=60,
        what="the paged user's messages to be stored",
    )
    view = open_page()
    page = view.page
    page.goto(f"{worker.base_url}/#/users/{PAGED_USER}")
    status = page.locator(".pager .page-status")
    previous = page.get_by_role("button", name=S["pagePrevious"])
    following = page.get_by_role("button", name=S["pageNext"])

    pages = [(0, 20), (20, 40), (40, 45)]
    for offset, last in pages:
        expected = api(worker, f"{messages_path}?limit=20&offset={offset}")["messages"]
        expect(status).to_have_text(
            fill(S["pageStatus"], first=offset + 1, last=last, total=PAGED_MESSAGES)
        )
        assert _row_ids(page) == [m["message_id"] for m in expected]
        view.shot(f"offset-{offset}")
        if last < PAGED_MESSAGES:
            following.click()

    expect(following).to_be_disabled()
    previous.click()
    expect(status).to_have_text(fill(S["pageStatus"], first=21, last=40, total=PAGED_MESSAGES))
    expect(previous).to_be_enabled()


# --- message details ---


def _check_message(page: Any, details: dict[str, Any]) -> None:
    from playwright.sync_api import expect

    entries = page.locator("#timeline > li")
    expect(entries).to_have_count(len(details["timeline"]))
    expect(page.locator("#message-heading")).to_have_text(
        fill(S["messageHeading"], id=details["message_id"])
    )

    template = page.locator("#message-template")
    if details["template"] is None:
        assert template.count() == 0
        expect(page.get_by_text(S["templateNotReported"])).to_be_visible()
    else:
        assert template.inner_text() == template_text(details["template"])
    if details["content"] and details["content"]["body"]:
        assert page.locator(".message-body").inner_text() == details["content"]["body"]

    for i, entry in enumerate(details["timeline"]):
        item = entries.nth(i)
        assert item.get_attribute("data-event") == entry["event"]
        assert item.get_attribute("data-status") == entry["status"]
        assert item.locator(".timeline-event").inner_text() == S["event"][entry["event"]]
        assert item.locator(".timeline-status").inner_text() == S["timelineStatus"][entry["status"]]
        if entry["status"] != "reported":
            assert item.locator(".timeline-first").count() == 0
            continue
        first = item.locator(".timeline-first time")
        assert first.get_attribute("datetime") == entry["first_occurred_at"]
        assert first.inner_text() == time_text(entry["first_occurred_at"])
        assert item.locator(".timeline-reports").inner_text() == reports_text(entry)

    assert page.locator("#out-of-order-note").count() == int(details["arrived_out_of_order"])
    click = details["click_action"]
    assert page.locator("#click-action").count() == int(click is not None)
    if click is not None:
        assert click["button"] in page.locator("#click-action").inner_text()
    failure = details["failure_reason"]
    assert page.locator("#failure-reason").count() == int(failure is not None)
    if failure is not None:
        text = page.locator("#failure-reason").inner_text()
        assert failure["code"] in text
        assert failure["detail"] in text


@pytest.mark.parametrize("viewport", ["laptop", "phone"])
def test_message_details_match_api(viewport: str, korean_site: WorkerProcess, open_page):
    from playwright.sync_api import expect

    worker = korean_site
    listed = api(worker, f"/api/v1/users/{KOREAN_USER}/messages")["messages"]
    view = open_page(viewport)
    page = view.page
    page.goto(f"{worker.base_url}/#/users/{KOREAN_USER}")

    for message in listed:
        message_id = message["message_id"]
        page.locator(".message-link", has_text=message_id).click()
        details = api(worker, f"/api/v1/users/{KOREAN_USER}/messages/{message_id}")
        _check_message(page, details)
        view.shot(message_id)
        page.get_by_role("link", name=fill(S["backToUser"], user=KOREAN_USER)).click()
        expect(page.locator(".messages-table")).to_be_visible()

    # The data set must keep the cases it is built for: reports from several devices and
    # repeats counted once, and events implied by a later click.
    m1 = api(worker, f"/api/v1/users/{KOREAN_USER}/messages/m-kr-1")["timeline"]
    assert [(e["event"], e["reports"], e["devices"]) for e in m1][1:] == [
        ("delivered", 2, 2),
        ("viewed", 1, 1),
        ("clicked", 2, 1),
    ]
    m3 = api(worker, f"/api/v1/users/{KOREAN_USER}/messages/m-kr-3")["timeline"]
    assert [e["status"] for e in m3] == ["implied", "implied", "reported"]


def test_api_error_message_shown(korean_site: WorkerProcess, open_page):
    from playwright.sync_api import expect

    status, body = korean_site.request("GET", "/api/v1/users/u-nobody")
    assert status == 404
    view = open_page("laptop")
    page = view.page
    page.goto(f"{korean_site.base_url}/#/users/u-nobody")

    alert = page.locator("#profile [role=alert]")
    expect(alert.locator(".alert-message")).to_have_text(body["error"]["message"])
    expect(alert.locator(".alert-title")).to_have_text(S["profileLoadFailed"])
    view.shot("not-found")


def test_token_prompt_on_401(workers: WorkerFactory, open_page):
    from playwright.sync_api import expect

    worker = workers.start(api_token="dashboard-test-token")
    require_dashboard(worker)
    status, body = worker.request("GET", "/api/v1/users/search?q=u")
    assert status == 401
    view = open_page("laptop")
    page = view.page
    page.goto(worker.base_url + "/")

    page.fill("#search-input", "u-1")
    dialog = page.locator("#secret-dialog")
    expect(dialog).to_be_visible()
    expect(page.locator("#secret-reason")).to_have_text(body["error"]["message"])
    view.shot("prompt")
    with page.expect_response(lambda response: "/api/v1/users/search" in response.url) as rejected:
        page.fill("#secret-input", "wrong-token")
        page.keyboard.press("Enter")
    assert rejected.value.status == 401
    expect(dialog).to_be_visible()
    expect(page.locator("#secret-input")).to_have_value("")

    with page.expect_request(lambda request: "/api/v1/users/search" in request.url) as sent:
        page.fill("#secret-input", "dashboard-test-token")
        page.keyboard.press("Enter")
    expect(dialog).to_be_hidden()
    expect(page.locator("#search-status")).to_have_text(fill(S["searchNoResults"], query="u-1"))
    assert sent.value.headers["authorization"] == "Bearer dashboard-test-token"
    assert (
        page.evaluate("sessionStorage.getItem('user-insights.api-token')") == "dashboard-test-token"
    )
    view.shot("after-token")


# --- keyboard ---


def _focused(page: Any) -> dict[str, str]:
    return page.evaluate(
        """() => {
            const node = document.activeElement;
            const style = getComputedStyle(node);
            return {
                id: node.id,
                user: node.dataset.userId || "",
                outline: style.outlineStyle,
                width: style.outlineWidth,
            };
        }"""
    )


def test_keyboard_opens_user(korean_site: WorkerProcess, open_page):
    from playwright.sync_api import expect

    view = open_page("laptop")
    page = view.page
    page.goto(korean_site.base_url + "/")

    presses = 0
    while _focused(page)["id"] != "search-input" and presses < 10:
        page.keyboard.press("Tab")
        presses += 1
    assert _focused(page)["id"] == "search-input"
    assert _focused(page)["outline"] == "solid"

    page.keyboard.type("하늘")
    expect(page.locator("#search-results a.result")).to_have_count(2)
    page.keyboard.press("ArrowDown")
    assert _focused(page)["user"] == "u-kr-1"
    page.keyboard.press("ArrowDown")
    assert _focused(page)["user"] == "u-kr-3"
    page.keyboard.press("ArrowUp")
    focused = _focused(page)
    assert focused["user"] == "u-kr-1"
    assert focused["outline"] == "solid"
    assert focused["width"] == "3px"
    view.shot("result-focused")

    page.keyboard.press("Enter")
    expect(page.locator("#user-heading")).to_have_text("하늘별")
    expect(page.locator("#stats-table")).to_be_visible()
    assert page.evaluate("location.hash") == f"#/users/{KOREAN_USER}"
    assert _focused(page)["id"] == "user-heading"
    view.shot("user-opened")
