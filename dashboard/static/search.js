// Search box: results as you type (debounced, stale requests aborted), each result a link to
// the user. Keys: ArrowDown from the box moves into the results, ArrowUp and ArrowDown move
// between them, Home and End jump, Escape returns to the box, Enter follows the link.

import { ApiError, getJson } from "./api.js";
import { byId, el, replace } from "./dom.js";
import { fill, formatCount, formatTime, plural } from "./format.js";
import { currentUserId, userHref } from "./links.js";
import { S } from "./strings.js";

const DEBOUNCE_MS = 250;
const PAGE_SIZE = 20;
const SUMMARY_EVENTS = ["sent", "delivered", "viewed", "clicked", "failed"];

let timer = null;
let inFlight = null;

function resultItem(result) {
  const counts = el(
    "ul",
    { class: "result-counts", "aria-label": S.searchSummaryLabel },
    SUMMARY_EVENTS.map((event) =>
      el("li", { dataset: { event } },
        el("span", { class: "count-label", text: S.event[event] }),
        " ",
        el("span", { class: "count-value", text: formatCount(result.summary[event]) }),
      ),
    ),
  );
  const lastEvent = result.last_event_at
    ? fill(S.searchLastEvent, { time: formatTime(result.last_event_at) })
    : S.searchNoEvents;

  return el("li", {},
    el("a", { class: "result", href: userHref(result.user_id), dataset: { userId: result.user_id } },
      el("span", { class: "result-name", text: result.nickname || S.noNickname }),
      el("span", { class: "result-id", text: result.user_id }),
      el("span", { class: "result-match", dataset: { match: result.match }, text: S.match[result.match] }),
      counts,
      el("span", { class: "result-last", text: lastEvent }),
    ),
  );
}

function markCurrent() {
  const current = currentUserId();
  for (const link of byId("search-results").querySelectorAll("a.result")) {
    if (link.dataset.userId === current) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

function showPage(page) {
  const results = byId("search-results");
  const status = byId("search-status");
  replace(results, page.results.map(resultItem));
  markCurrent();
  status.classList.remove("error-text");
  if (page.total === 0) {
    status.textContent = fill(S.searchNoResults, { query: page.query });
  } else if (page.total > page.results.length) {
    status.textContent = fill(S.searchShowingFirst, {
      shown: formatCount(page.results.length),
      total: formatCount(page.total),
    });
  } else {
    status.textContent = plural(S.searchFound, page.total);
  }
}

async function runSearch(query) {
  if (inFlight) inFlight.abort();
  const status = byId("search-status");
  if (!query.trim()) {
    inFlight = null;
    replace(byId("search-results"));
    status.textContent = "";
    return;
  }
  const controller = new AbortController();
  inFlight = controller;
  status.classList.remove("error-text");
  status.textContent = S.searching;
  try {
    const page = await getJson("/users/search", { q: query, limit: PAGE_SIZE }, { signal: controller.signal });
    if (inFlight === controller) showPage(page);
  } catch (error) {
    if (error.name === "AbortError" || inFlight !== controller) return;
    replace(byId("search-results"));
    status.classList.add("error-text");
    status.textContent = fill(S.searchFailed, { message: error instanceof ApiError ? error.message : String(error) });
  } finally {
    if (inFlight === controller) inFlight = null;
  }
}

function resultLinks() {
  return [...byId("search-results").querySelectorAll("a.result")];
}

function onResultsKey(event) {
  const links = resultLinks();
  const index = links.indexOf(document.activeElement);
  if (index < 0) return;
  let next = null;
  if (event.key === "ArrowDown") next = links[Math.min(index + 1, links.length - 1)];
  else if (event.key === "ArrowUp") next = index === 0 ? byId("search-input") : links[index - 1];
  else if (event.key === "Home") next = links[0];
  else if (event.key === "End") next = links[links.length - 1];
  else if (event.key === "Escape") next = byId("search-input");
  if (next) {
    event.preventDefault();
    next.focus();
  }
}

export function setupSearch() {
  const input = byId("search-input");
  byId("search-form").addEventListener("submit", (event) => {
    event.preventDefault();
    clearTimeout(timer);
    runSearch(input.value);
  });
  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(() => runSearch(input.value), DEBOUNCE_MS);
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "ArrowDown") {
      const first = resultLinks()[0];
      if (first) {
        event.preventDefault();
        first.focus();
      }
    }
  });
  byId("search-results").addEventListener("keydown", onResultsKey);
  window.addEventListener("hashchange", markCurrent);
}
