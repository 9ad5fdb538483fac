// The prompt for the API bearer token and the phone token. Both are kept in sessionStorage,
// so they last until the tab closes and are never written to disk by the page.

import { byId } from "./dom.js";
import { S } from "./strings.js";

const STORAGE_KEYS = { api: "user-insights.api-token", phone: "user-insights.phone-token" };
const pending = new Map();

export function storedSecret(kind) {
  try {
    return sessionStorage.getItem(STORAGE_KEYS[kind]) || null;
  } catch {
    return null; // storage is disabled, so the token lasts only until the page reloads
  }
}

function storeSecret(kind, value) {
  try {
    sessionStorage.setItem(STORAGE_KEYS[kind], value);
  } catch {
    // Storage is disabled, but the caller still gets the value for this request.
  }
}

export function forgetSecret(kind) {
  try {
    sessionStorage.removeItem(STORAGE_KEYS[kind]);
  } catch {
    // Nothing is stored when storage is disabled.
  }
}

/**
 * Ask for a token of `kind` ("api" or "phone") with the server's `message` shown as the reason.
 * Resolves with the token, or null when the user cancels. Concurrent requests share one prompt.
 */
export function askSecret(kind, message) {
  if (pending.has(kind)) return pending.get(kind);
  const prompt = new Promise((resolve) => {
    const dialog = byId("secret-dialog");
    const form = byId("secret-form");
    const input = byId("secret-input");
    const phone = kind === "phone";
    byId("secret-title").textContent = phone ? S.phoneTokenTitle : S.apiTokenTitle;
    byId("secret-help").textContent = phone ? S.phoneTokenHelp : S.apiTokenHelp;
    byId("secret-label").textContent = phone ? S.phoneTokenLabel : S.apiTokenLabel;
    byId("secret-reason").textContent = message || "";
    input.value = "";

    const finish = (value) => {
      form.removeEventListener("submit", onSubmit);
      dialog.removeEventListener("close", onClose);
      if (dialog.open) dialog.close();
      pending.delete(kind);
      if (value) storeSecret(kind, value);
      resolve(value || null);
    };
    const onSubmit = (event) => {
      event.preventDefault();
      const value = input.value.trim();
      if (value) finish(value);
    };
    const onClose = () => finish(null);
    form.addEventListener("submit", onSubmit);
    dialog.addEventListener("close", onClose);
    dialog.showModal();
    input.focus();
  });
  pending.set(kind, prompt);
  return prompt;
}
