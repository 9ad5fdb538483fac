// Pieces shared by the views: section frames, loading and error states, definitions.

import { ApiError } from "./api.js";
import { el, replace } from "./dom.js";
import { fill, formatLocalTime, formatTime } from "./format.js";
import { S } from "./strings.js";

export const LIFECYCLE = ["sent", "delivered", "viewed", "clicked", "failed"];
export const CHANNELS = ["push", "inapp", "sms", "alimtalk", "whatsapp", "email"];
export const RATES = ["delivery_rate", "view_rate", "click_rate", "failure_rate"];

/** Build a card section with a heading, and return [section, body] so the body can be filled later. */
export function section(id, title, ...headerExtras) {
  const body = el("div", { class: "section-body" }, loading());
  const node = el("section", { class: "card", id, "aria-labelledby": `${id}-title` },
    el("div", { class: "section-header" }, el("h2", { id: `${id}-title`, text: title }), ...headerExtras),
    body,
  );
  return [node, body];
}

export function loading() {
  return el("p", { class: "loading", role: "status", text: S.loading });
}

/** Return the message of an error for display: the API's message, or a generic one. */
export function errorMessage(error) {
  if (error instanceof ApiError) return error.message;
  return fill(S.errorUnexpected, { message: String(error && error.message ? error.message : error) });
}

/** Show `error` in `container` as an alert under `title`, which names the failed request. */
export function showError(container, title, error) {
  replace(container,
    el("div", { class: "alert alert-error", role: "alert" },
      el("p", { class: "alert-title", text: title }),
      el("p", { class: "alert-message", text: errorMessage(error) }),
    ),
  );
}

/** Build a <time> element that shows UTC, with the browser's local time in the tooltip. */
export function timeElement(iso) {
  if (!iso) return el("span", { class: "muted", text: S.timeEmpty });
  return el("time", {
    datetime: iso,
    title: fill(S.localTimeTooltip, { time: formatLocalTime(iso) }),
    text: formatTime(iso),
  });
}
