// User details view: profile (phone masked until revealed), totals and rates per channel,
// median time from sent to click, the activity chart and the filtered, paged message list.

import { getJson, userPath } from "./api.js";
import { activityChart } from "./chart.js";
import { CHANNELS, LIFECYCLE, RATES, errorMessage, loading, section, showError, timeElement } from "./common.js";
import { el, replace } from "./dom.js";
import { fill, formatCount, formatDuration, formatRate, plural } from "./format.js";
import { messageHref } from "./links.js";
import { S } from "./strings.js";

const MESSAGE_PAGE_SIZE = 20;

function profileList(profile, revealed, onReveal) {
  const phone = profile.phone_number
    ? el("span", { class: "phone", tabindex: "-1", dataset: { field: "phone" }, text: profile.phone_number })
    : el("span", { class: "muted", text: S.profileNoPhone });
  const reveal = profile.phone_number && !revealed
    ? el("button", { type: "button", class: "button button-small", text: S.profileReveal, on: { click: onReveal } })
    : null;

  return el("div", {},
    profile.has_profile ? null : el("p", { class: "note", text: S.profileMissing }),
    el("dl", { class: "fields" },
      el("div", {}, el("dt", { text: S.profileUserId }), el("dd", { class: "mono", text: profile.user_id })),
      el("div", {}, el("dt", { text: S.profileNickname }),
        el("dd", { text: profile.nickname || S.noNickname, class: profile.nickname ? null : "muted" })),
      el("div", {}, el("dt", { text: S.profilePhone }), el("dd", { class: "phone-row" }, phone, reveal)),
    ),
  );
}

function rateCell(group, name, rate) {
  const parts = [el("span", { class: "rate-value", text: formatRate(rate.value) })];
  if (rate.value === null) {
    parts.push(el("span", { class: "visually-hidden", text: S.rateEmptyExplained }));
  }
  return el("td", {
    class: "number",
    dataset: { group, metric: name, value: rate.value === null ? "" : String(rate.value) },
  }, ...parts);
}

function medianCell(group, stats) {
  const value = stats.median_sent_to_click_s;
  return el("td", {
    class: "number",
    dataset: { group, metric: "median_sent_to_click_s", value: value === null || value === undefined ? "" : String(value) },
  },
    el("span", { class: "median-value", text: formatDuration(value) }),
    stats.clicks_timed > 0 ? el("span", { class: "cell-note", text: plural(S.medianOver, stats.clicks_timed) }) : null,
  );
}

function statsTable(stats) {
  const groups = [["total", stats.total], ...CHANNELS.filter((ch) => stats.by_channel[ch]).map((ch) => [ch, stats.by_channel[ch]])];
  const header = el("tr", {},
    el("th", { scope: "col", text: S.statsMetricColumn }),
    groups.map(([name]) => el("th", { scope: "col", class: "number", text: name === "total" ? S.statsTotalColumn : S.channel[name] })),
  );
  const countRows = LIFECYCLE.map((event) =>
    el("tr", { class: "count-row" },
      el("th", { scope: "row", text: S.event[event] }),
      groups.map(([name, group]) =>
        el("td", { class: "number", dataset: { group: name, metric: event, value: String(group.counts[event]) }, text: formatCount(group.counts[event]) }),
      ),
    ),
  );
  const rateRows = RATES.map((rate) =>
    el("tr", { class: "rate-row" },
      el("th", { scope: "row", title: S.rateDefinition[rate], "aria-describedby": `definition-${rate}` },
        el("span", { class: "defined-term", text: S.rate[rate] })),
      groups.map(([name, group]) => rateCell(name, rate, group.rates[rate])),
    ),
  );
  const medianRow = el("tr", { class: "median-row" },
    el("th", { scope: "row", title: S.medianDefinition, "aria-describedby": "definition-median" },
      el("span", { class: "defined-term", text: S.medianLabel })),
    groups.map(([name, group]) => medianCell(name, group)),
  );

  return el("div", {},
    el("div", { class: "table-scroll", tabindex: "0", role: "region", "aria-labelledby": "stats-caption" },
      el("table", { class: "data-table stats-table", id: "stats-table" },
        el("caption", { id: "stats-caption", class: "visually-hidden", text: S.statsCaption }),
        el("thead", {}, header),
        el("tbody", {}, countRows, rateRows, medianRow),
      ),
    ),
    el("div", { class: "definitions" },
      el("h3", { text: S.definitionsTitle }),
      el("ul", {},
        el("li", { id: "definition-counts", text: S.countsDefinition }),
        RATES.map((rate) => el("li", { id: `definition-${rate}`, text: S.rateDefinition[rate] })),
        el("li", { id: "definition-median", text: S.medianDefinition }),
        el("li", { text: S.rateNotes }),
      ),
    ),
  );
}

function renderProfileAndStats(userId, heading, subtitle, profileBody, statsBody, signal) {
  const state = { revealed: false };

  async function load() {
    const params = state.revealed ? { show_phone: "true" } : {};
    const profile = await getJson(userPath(userId), params, { signal, phoneToken: state.revealed });
    if (signal.aborted) return;
    const onReveal = () => {
      state.revealed = true;
      load().catch((error) => {
        state.revealed = false;
        if (!signal.aborted && error.name !== "AbortError") {
          profileBody.append(el("p", { class: "alert alert-error", role: "alert", text: errorMessage(error) }));
        }
      });
    };
    heading.textContent = profile.nickname || profile.user_id;
    subtitle.textContent = profile.nickname ? profile.user_id : "";
    document.title = fill(S.userPageTitle, { name: heading.textContent, app: S.appTitle });
    replace(profileBody, profileList(profile, state.revealed, onReveal));
    replace(statsBody, statsTable(profile.stats));
    // The Reveal button is gone after a reveal, so focus moves to the number it revealed.
    if (state.revealed) profileBody.querySelector('[data-field="phone"]')?.focus();
  }

  load().catch((error) => {
    if (signal.aborted || error.name === "AbortError") return;
    showError(profileBody, S.profileLoadFailed, error);
    showError(statsBody, S.statsLoadFailed, error);
  });
}

function renderActivity(userId, body, signal) {
  getJson(userPath(userId, "activity"), {}, { signal })
    .then((activity) => {
      // NOTE: the chart is laid out once for the width at load time, and a resize only scales it.
      if (!signal.aborted) replace(body, activityChart(activity.days, body.clientWidth));
    })
    .catch((error) => {
      if (!signal.aborted && error.name !== "AbortError") showError(body, S.activityLoadFailed, error);
    });
}

function selectField(id, label, allLabel, values, names) {
  return el("div", { class: "field" },
    el("label", { for: id, text: label }),
    el("select", { id, name: id.replace("filter-", "") },
      el("option", { value: "", text: allLabel }),
      values.map((value) => el("option", { value, text: names[value] })),
    ),
  );
}

function dateField(id, label) {
  return el("div", { class: "field" },
    el("label", { for: id, text: label }),
    el("input", { id, name: id.replace("filter-", ""), type: "date" }),
  );
}

function messageRow(userId, message) {
  const template = message.template
    ? fill(S.templateRef, { key: message.template.key, version: message.template.version ?? S.templateNoVersion })
    : S.templateNotReported;
  return el("tr", { dataset: { messageId: message.message_id } },
    el("td", { dataset: { label: S.messagesColumnMessage } },
      el("a", { class: "message-link mono", href: messageHref(userId, message.message_id), text: message.message_id })),
    el("td", { dataset: { label: S.messagesColumnFirst } }, timeElement(message.first_event_at)),
    el("td", { dataset: { label: S.messagesColumnChannel }, text: S.channel[message.channel] }),
    el("td", { dataset: { label: S.messagesColumnTemplate }, class: message.template ? null : "muted", text: template }),
    el("td", { dataset: { label: S.messagesColumnTitle }, class: message.title ? null : "muted", text: message.title || S.noTitle }),
    el("td", { dataset: { label: S.messagesColumnEvents } },
      el("ul", { class: "chips" }, message.events.map((event) => el("li", { class: `chip chip-${event}`, text: S.event[event] })))),
  );
}

function messagesTable(userId, page, filtered) {
  if (page.messages.length === 0) {
    return el("p", { class: "muted", text: filtered ? S.messagesEmpty : S.messagesNone });
  }
  return el("div", { class: "table-scroll", tabindex: "0", role: "region", "aria-labelledby": "messages-caption" },
    el("table", { class: "data-table messages-table" },
      el("caption", { id: "messages-caption", class: "visually-hidden", text: S.messagesCaption }),
      el("thead", {}, el("tr", {},
        [S.messagesColumnMessage, S.messagesColumnFirst, S.messagesColumnChannel, S.messagesColumnTemplate,
          S.messagesColumnTitle, S.messagesColumnEvents].map((text) => el("th", { scope: "col", text })),
      )),
      el("tbody", {}, page.messages.map((message) => messageRow(userId, message))),
    ),
  );
}

function renderMessages(userId, body, signal) {
  const form = el("form", { class: "filters", "aria-label": S.messagesFilters },
    selectField("filter-channel", S.filterChannel, S.filterAllChannels, CHANNELS, S.channel),
    selectField("filter-event", S.filterEvent, S.filterAllEvents, LIFECYCLE, S.event),
    dateField("filter-since", S.filterSince),
    dateField("filter-until", S.filterUntil),
    el("div", { class: "filter-actions" },
      el("button", { type: "submit", class: "button button-primary", text: S.filterApply }),
      el("button", { type: "reset", class: "button", text: S.filterReset }),
    ),
  );
  const results = el("div", { class: "messages-results" });
  const status = el("p", { class: "page-status", role: "status", "aria-live": "polite" });
  const previous = el("button", { type: "button", class: "button", text: S.pagePrevious });
  const next = el("button", { type: "button", class: "button", text: S.pageNext });
  const pager = el("nav", { class: "pager", "aria-label": S.pagerLabel }, previous, status, next);
  replace(body, form, results, pager);

  let offset = 0;
  let controller = null;

  async function load() {
    if (controller) controller.abort();
    controller = new AbortController();
    const request = controller;
    signal.addEventListener("abort", () => request.abort(), { once: true });
    const data = new FormData(form);
    const filtered = [...data.values()].some((value) => value !== "");
    replace(results, loading());
    previous.disabled = true;
    next.disabled = true;
    try {
      const page = await getJson(userPath(userId, "messages"), {
        channel: data.get("channel"),
        event: data.get("event"),
        since: data.get("since"),
        until: data.get("until"),
        limit: MESSAGE_PAGE_SIZE,
        offset,
      }, { signal: request.signal });
      replace(results, messagesTable(userId, page, filtered));
      const shown = page.messages.length;
      status.textContent = shown === 0
        ? ""
        : fill(S.pageStatus, { first: formatCount(offset + 1), last: formatCount(offset + shown), total: formatCount(page.total) });
      previous.disabled = offset === 0;
      next.disabled = offset + shown >= page.total;
      const onePage = offset === 0 && next.disabled;
      previous.hidden = onePage;
      next.hidden = onePage;
    } catch (error) {
      if (error.name === "AbortError") return;
      status.textContent = "";
      showError(results, S.messagesLoadFailed, error);
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    offset = 0;
    load();
  });
  form.addEventListener("reset", () => {
    offset = 0;
    setTimeout(load); // the fields are cleared after the reset event
  });
  previous.addEventListener("click", () => {
    offset = Math.max(0, offset - MESSAGE_PAGE_SIZE);
    load();
  });
  next.addEventListener("click", () => {
    offset += MESSAGE_PAGE_SIZE;
    load();
  });
  load();
}

/** Render the details of `userId` into `view`. `signal` aborts when the view changes. */
export function renderUser(view, userId, signal) {
  const heading = el("h1", { id: "user-heading", tabindex: "-1", text: userId });
  const subtitle = el("p", { class: "view-subtitle mono" });
  const [profileSection, profileBody] = section("profile", S.profileTitle);
  const [statsSection, statsBody] = section("stats", S.statsTitle);
  const [activitySection, activityBody] = section("activity", S.activityTitle);
  const [messagesSection, messagesBody] = section("messages", S.messagesTitle);

  replace(view,
    el("div", { class: "view-header" },
      heading,
      subtitle,
    ),
    profileSection,
    statsSection,
    activitySection,
    messagesSection,
  );
  document.title = fill(S.userPageTitle, { name: userId, app: S.appTitle });

  renderProfileAndStats(userId, heading, subtitle, profileBody, statsBody, signal);
  renderActivity(userId, activityBody, signal);
  renderMessages(userId, messagesBody, signal);
}
