// Message details view: template, content, the event timeline with first times and how many
// reports and devices were counted once, the click action or failure reason. Events that
// were never reported are marked `implied` or `not reported` instead of being left out.

import { getJson, userPath } from "./api.js";
import { loading, showError, timeElement } from "./common.js";
import { el, replace } from "./dom.js";
import { fill, plural } from "./format.js";
import { userHref } from "./links.js";
import { S } from "./strings.js";

function field(label, ...value) {
  return el("div", {}, el("dt", { text: label }), el("dd", {}, ...value));
}

function optional(value, emptyText) {
  return value === null || value === undefined || value === ""
    ? el("span", { class: "muted", text: emptyText })
    : el("span", { text: String(value) });
}

/** Return the text that states how many raw reports and devices one stored event merges. */
export function reportsText(entry) {
  if (entry.devices > 1) {
    return fill(S.reportedByDevices, { devices: entry.devices, reports: plural(S.reportCount, entry.reports) });
  }
  if (entry.reports > 1) return plural(S.reportsCountedOnce, entry.reports);
  return plural(S.reportCount, entry.reports);
}

function timelineEntry(entry) {
  const status = el("p", { class: "timeline-status", text: S.timelineStatus[entry.status] });
  const body = [el("h3", { class: "timeline-event", text: S.event[entry.event] }), status];
  if (entry.status === "reported") {
    body.push(
      el("p", { class: "timeline-first" }, S.timelineFirst, " ", timeElement(entry.first_occurred_at)),
      el("p", { class: "timeline-reports", text: reportsText(entry) }),
      el("dl", { class: "timeline-meta" },
        field(S.timelineDevice, optional(entry.device_id, S.valueNone)),
        field(S.timelineEventId, optional(entry.event_id, S.valueNone)),
        field(S.timelineReceived, timeElement(entry.received_at)),
      ),
    );
  }
  return el("li", { class: `timeline-entry status-${entry.status}`, dataset: { event: entry.event, status: entry.status } },
    el("span", { class: "timeline-mark", "aria-hidden": "true", text: S.statusMark[entry.status] }),
    el("div", { class: "timeline-body" }, ...body),
  );
}

function contentBlock(content) {
  if (!content) return el("p", { class: "muted", text: S.contentNotReported });
  const variables = Object.entries(content.variables);
  return el("dl", { class: "fields" },
    field(S.contentTitle, optional(content.title, S.valueNone)),
    field(S.contentBody, content.body ? el("span", { class: "message-body", text: content.body }) : optional(null, S.valueNone)),
    field(S.contentVariables,
      variables.length === 0
        ? optional(null, S.valueNone)
        : el("table", { class: "data-table variables-table" },
          el("thead", {}, el("tr", {},
            el("th", { scope: "col", text: S.variableName }),
            el("th", { scope: "col", text: S.variableValue }))),
          el("tbody", {}, variables.map(([name, value]) =>
            el("tr", {}, el("th", { scope: "row", class: "mono", text: name }), el("td", { text: value === null ? S.valueNull : String(value) })),
          )),
        ),
    ),
  );
}

function outcomeBlock(details) {
  const parts = [];
  if (details.click_action) {
    parts.push(el("div", { class: "outcome outcome-click", id: "click-action" },
      el("h3", { text: S.clickActionTitle }),
      el("dl", { class: "fields" },
        field(S.clickButton, optional(details.click_action.button, S.valueNone)),
        // The URL is shown as text, never as a link, because producers set it freely.
        field(S.clickUrl, details.click_action.url ? el("span", { class: "mono break", text: details.click_action.url }) : optional(null, S.valueNone)),
      ),
    ));
  }
  if (details.failure_reason) {
    parts.push(el("div", { class: "outcome outcome-failure", id: "failure-reason" },
      el("h3", { text: S.failureTitle }),
      el("dl", { class: "fields" },
        field(S.failureCode, optional(details.failure_reason.code, S.valueNone)),
        field(S.failureDetail, optional(details.failure_reason.detail, S.valueNone)),
      ),
    ));
  }
  return parts;
}

function renderDetails(body, details) {
  const template = details.template
    ? fill(S.templateRef, { key: details.template.key, version: details.template.version ?? S.templateNoVersion })
    : null;
  replace(body,
    el("div", { class: "message-grid" },
      el("section", { class: "card", "aria-labelledby": "message-summary-title" },
        el("h2", { id: "message-summary-title", text: S.messageSummaryTitle }),
        el("dl", { class: "fields" },
          field(S.messageId, el("span", { class: "mono break", text: details.message_id })),
          field(S.messageChannel, S.channel[details.channel]),
          field(S.messageTemplate, template ? el("span", { id: "message-template", text: template }) : optional(null, S.templateNotReported)),
        ),
        el("h3", { text: S.contentHeading }),
        contentBlock(details.content),
        outcomeBlock(details),
      ),
      el("section", { class: "card", "aria-labelledby": "timeline-title" },
        el("h2", { id: "timeline-title", text: S.timelineTitle }),
        details.arrived_out_of_order
          ? el("p", { class: "note", id: "out-of-order-note", text: S.outOfOrderNote })
          : null,
        details.sent_reported ? null : el("p", { class: "note", text: S.sentNotReportedNote }),
        el("ol", { class: "timeline", id: "timeline" }, details.timeline.map(timelineEntry)),
        el("p", { class: "help", text: S.timelineLegend }),
      ),
    ),
  );
}

/** Render one message of one user into `view`. `signal` aborts when the view changes. */
export function renderMessage(view, userId, messageId, signal) {
  const body = el("div", {}, loading());
  replace(view,
    el("div", { class: "view-header" },
      el("a", { class: "back-link", href: userHref(userId), text: fill(S.backToUser, { user: userId }) }),
      el("h1", { id: "message-heading", tabindex: "-1", text: fill(S.messageHeading, { id: messageId }) }),
    ),
    body,
  );
  document.title = fill(S.messagePageTitle, { id: messageId, app: S.appTitle });

  getJson(userPath(userId, "messages", messageId), {}, { signal })
    .then((details) => {
      if (!signal.aborted) renderDetails(body, details);
    })
    .catch((error) => {
      if (!signal.aborted && error.name !== "AbortError") showError(body, S.messageLoadFailed, error);
    });
}
