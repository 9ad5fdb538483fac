"""`import-users` and `search`: the user directory on the command line."""

from __future__ import annotations

import csv
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import orjson

from directory.csv_reader import CsvFileError
from directory.phones import mask_digits_in_text, mask_phone_number
from directory.store import import_users_csv
from pipeline.errors import UserInsightsError
from pipeline.local_reads import WorkerUnavailable, open_local_pool, worker_get
from pipeline.settings import Settings
from queries.users import search_users

PROGRESS_WIDTH = 30


def print_progress(done: int, total: int) -> None:
    """Draw a progress bar on standard error; the last call ends the line."""
    filled = PROGRESS_WIDTH * done // total if total else PROGRESS_WIDTH
    bar = "#" * filled + "." * (PROGRESS_WIDTH - filled)
    end = "\n" if done >= total else ""
    print(f"\rstoring users [{bar}] {done:,}/{total:,}", end=end, file=sys.stderr, flush=True)


def import_users_file(settings: Settings, path: Path, *, partial: bool) -> dict[str, Any]:
    """Import a CSV through the running worker, or into local storage when none runs."""
    if not path.is_file():
        raise UserInsightsError(f"file {str(path)!r} does not exist; pass the CSV file to import")
    data = path.read_bytes()

    try:
        return _upload(settings, data, partial=partial)
    except WorkerUnavailable:
        pass

    pool = open_local_pool(settings)
    try:
        report = pool.call(import_users_csv, data, partial=partial, progress=print_progress)
    except CsvFileError as exc:
        raise UserInsightsError(f"{path}: {exc}") from exc
    return report.to_json()


def _upload(settings: Settings, data: bytes, *, partial: bool) -> dict[str, Any]:
    query = "?partial=true" if partial else ""
    request = urllib.request.Request(
        settings.http_base_url + "/api/v1/users/import" + query,
        data=data,
        method="POST",
        headers={"Content-Type": "text/csv"},
    )
    if settings.api_token is not None:
        request.add_header("Authorization", f"Bearer {settings.api_token.get_secret_value()}")
    try:
        with urllib.request.urlopen(request, timeout=settings.import_timeout_s) as response:
            report = orjson.loads(response.read())
    except urllib.error.HTTPError as exc:
        return _rejected_upload(exc)
    except (urllib.error.URLError, ConnectionError) as exc:
        raise WorkerUnavailable(str(exc)) from exc

    print(f"imported through the worker at {settings.http_base_url}", file=sys.stderr)
    return report


def _rejected_upload(exc: urllib.error.HTTPError) -> dict[str, Any]:
    try:
        body = orjson.loads(exc.read() or b"{}")
    except ValueError:
        body = {}
    if exc.code == 422:
        return body
    message = body.get("error", {}).get("message", f"HTTP {exc.code}")
    raise UserInsightsError(f"import rejected: {message}") from exc


def mask_report_phones(report: dict[str, Any]) -> dict[str, Any]:
    """Return the report with the digits of every phone value masked."""
    errors = []
    for error in report["errors"]:
        if error["column"] == "phone_number" and error["value"]:
            error = {**error, "value": mask_digits_in_text(error["value"])}
        errors.append(error)
    return {**report, "errors": errors}


def write_error_report(path: Path, report: dict[str, Any]) -> None:
    """Write one CSV row per error: line, column, value, reason."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["line", "column", "value", "reason"])
        for error in report["errors"]:
            writer.writerow([error["line"], error["column"] or "", error["value"] or "", error["reason"]])


def render_import(report: dict[str, Any], *, show_phone: bool) -> str:
    """Render an import report for people: counts, then errors and warnings."""
    verdict = "imported" if report["imported"] else "NOT imported (fix the errors or use --partial)"
    lines = [
        f"{verdict}: created {report['created']}, updated {report['updated']}, "
        f"skipped {report['skipped']}"
    ]
    for error in report["errors"]:
        value = error["value"]
        lines.append(f"  line {error['line']}: {error['column'] or '-'}={value!r}: {error['reason']}")
    for warning in report["warnings"]:
        lines.append(f"  warning: {warning}")
    return "\n".join(lines)


def find_users(
    settings: Settings, query: str, *, limit: int, offset: int, show_phone: bool
) -> dict[str, Any]:
    """Search through the running worker, or in local storage when none runs."""
    params = {"q": query, "limit": limit, "offset": offset}
    if show_phone:
        params["show_phone"] = "true"
    try:
        return worker_get(settings, "/api/v1/users/search", params)
    except WorkerUnavailable:
        pass
    return open_local_pool(settings).call(search_users, query, limit=limit, offset=offset)


def mask_results(page: dict[str, Any], *, show_phone: bool) -> list[dict[str, Any]]:
    results = []
    for result in page["results"]:
        phone = result.get("phone_number")
        if phone and not show_phone and not phone.count("*"):
            phone = mask_phone_number(phone)
        results.append({**result, "phone_number": phone})
    return results


def render_search(query: str, page: dict[str, Any], results: list[dict[str, Any]]) -> str:
    lines = [f"{page['total']} users match {query!r}"]
    for result in results:
        summary = result["summary"]
        counts = " ".join(f"{event}={summary[event]}" for event in summary)
        lines.append(
            f"  {result['user_id']:<24} {result.get('nickname') or '-':<20} "
            f"{result.get('phone_number') or '-':<16} [{result['match']}] {counts}"
        )
    return "\n".join(lines)
