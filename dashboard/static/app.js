// Entry module: fills the page's static text from strings.js, wires the search box and the
// import dialog, and routes between views by the URL fragment:
//   #/                                   start page
//   #/users/<user_id>                    user details
//   #/users/<user_id>/messages/<id>      message details

import { byId, el, replace } from "./dom.js";
import { setupImport } from "./import.js";
import { renderMessage } from "./message.js";
import { setupSearch } from "./search.js";
import { S } from "./strings.js";
import { renderUser } from "./user.js";

const TEXT_ATTRIBUTES = {
  text: (node, value) => {
    node.textContent = value;
  },
  label: (node, value) => node.setAttribute("aria-label", value),
  title: (node, value) => node.setAttribute("title", value),
  placeholder: (node, value) => node.setAttribute("placeholder", value),
};

/** Put the strings named by data-text, data-label, data-title and data-placeholder in place. */
function applyStrings(root) {
  for (const [attribute, apply] of Object.entries(TEXT_ATTRIBUTES)) {
    for (const node of root.querySelectorAll(`[data-${attribute}]`)) {
      const key = node.dataset[attribute];
      if (typeof S[key] === "string") apply(node, S[key]);
      else console.error(`strings.js has no string ${key}`);
    }
  }
}

function decodePart(part) {
  try {
    return decodeURIComponent(part);
  } catch {
    return ""; // a malformed escape leads to the start page
  }
}

function parseRoute(hash) {
  const parts = hash.replace(/^#\/?/, "").split("/").map(decodePart);
  if (parts[0] === "users" && parts[1] && parts.length === 2) return { view: "user", userId: parts[1] };
  if (parts[0] === "users" && parts[1] && parts[2] === "messages" && parts[3] && parts.length === 4) {
    return { view: "message", userId: parts[1], messageId: parts[3] };
  }
  return { view: "home" };
}

function renderHome(view) {
  replace(
    view,
    el("section", { class: "card home" },
      el("h1", { tabindex: "-1", text: S.homeTitle }),
      el("p", { text: S.homeIntro }),
      el("ul", { class: "home-list" },
        el("li", { text: S.homeSearchHint }),
        el("li", { text: S.homeImportHint }),
      ),
    ),
  );
  document.title = S.appTitle;
}

let currentRender = null;
let routed = false;

function route() {
  const view = byId("view");
  const target = parseRoute(location.hash);
  if (currentRender) currentRender.abort();
  currentRender = new AbortController();
  const { signal } = currentRender;

  document.body.dataset.view = target.view;
  if (target.view === "user") {
    renderUser(view, target.userId, signal);
  } else if (target.view === "message") {
    renderMessage(view, target.userId, target.messageId, signal);
  } else {
    renderHome(view);
  }

  // After a navigation, focus moves to the new view's heading as after a page load, so a
  // screen reader reads it and Tab continues from there.
  if (routed) view.querySelector("h1")?.focus();
  routed = true;
}

function start() {
  document.documentElement.lang = S.locale;
  document.title = S.appTitle;
  applyStrings(document);
  byId("secret-cancel").addEventListener("click", () => byId("secret-dialog").close());
  setupSearch();
  setupImport();
  window.addEventListener("hashchange", route);
  route();
}

start();
