// Requests to the user-insights HTTP API of the same origin. A 401 opens the token prompt
// and the request is sent again with `Authorization: Bearer`. Every other error becomes an
// ApiError that carries the server's message.

import { fill } from "./format.js";
import { askSecret, forgetSecret, storedSecret } from "./secret.js";
import { S } from "./strings.js";

export const API_PREFIX = "/api/v1";

/** An error response of the API, or a failed connection (status 0). */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
  }
}

/** Build "/api/v1/<path>?<params>", leaving out empty parameters. */
export function apiUrl(path, params = {}) {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") query.set(name, String(value));
  }
  const text = query.toString();
  return `${API_PREFIX}${path}${text ? `?${text}` : ""}`;
}

/** Return "/users/<id>" with the id encoded as one path segment. */
export function userPath(userId, ...rest) {
  return ["/users", userId, ...rest].map((part, i) => (i === 0 ? part : encodeURIComponent(part))).join("/");
}

function authHeaders(withPhoneToken) {
  const headers = { Accept: "application/json" };
  const token = storedSecret("api");
  if (token) headers.Authorization = `Bearer ${token}`;
  const phoneToken = withPhoneToken ? storedSecret("phone") : null;
  if (phoneToken) headers["X-Phone-Token"] = phoneToken;
  return headers;
}

function errorFrom(status, body) {
  const detail = body && typeof body === "object" ? body.error : null;
  if (detail && detail.message) return new ApiError(status, detail.code || "", detail.message);
  return new ApiError(status, "", fill(S.errorHttpStatus, { status }));
}

async function readJson(response) {
  try {
    return await response.json();
  } catch {
    return null;
  }
}

/** Ask for a new token after a 401 or 403, and return whether to send the request again. */
async function renewSecret(status, body) {
  const error = errorFrom(status, body);
  if (status === 401) {
    forgetSecret("api");
    return (await askSecret("api", error.message)) !== null;
  }
  if (status === 403 && error.code === "phone_reveal_forbidden") {
    forgetSecret("phone");
    return (await askSecret("phone", error.message)) !== null;
  }
  return false;
}

/**
 * GET a JSON resource. `phoneToken` sends the stored X-Phone-Token (for show_phone=true).
 * Throws ApiError, or the AbortError of `signal`.
 */
export async function getJson(path, params = {}, { signal, phoneToken = false } = {}) {
  const url = apiUrl(path, params);
  for (let attempt = 0; ; attempt += 1) {
    let response;
    try {
      response = await fetch(url, { headers: authHeaders(phoneToken), signal });
    } catch (error) {
      if (error.name === "AbortError") throw error;
      throw new ApiError(0, "network_error", S.errorNetwork);
    }
    const body = await readJson(response);
    if (response.ok) return body;
    if (attempt < 3 && (await renewSecret(response.status, body))) continue;
    throw errorFrom(response.status, body);
  }
}

function sendUpload(file, partial, { onProgress, onUploaded }) {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open("POST", apiUrl("/users/import", { partial: partial ? "true" : "" }));
    for (const [name, value] of Object.entries(authHeaders(false))) request.setRequestHeader(name, value);
    request.setRequestHeader("Content-Type", "text/csv");
    request.responseType = "text";
    request.upload.onprogress = (event) => {
      if (event.lengthComputable && onProgress) onProgress(event.loaded, event.total);
    };
    request.upload.onload = () => onUploaded && onUploaded();
    request.onerror = () => reject(new ApiError(0, "network_error", S.errorNetwork));
    request.onload = () => {
      let body = null;
      try {
        body = JSON.parse(request.responseText);
      } catch {
        body = null;
      }
      resolve({ status: request.status, body });
    };
    request.send(file);
  });
}

/**
 * POST a CSV file to /users/import as a raw text/csv body, reporting upload progress.
 * Resolves with the ImportResult of a 200 (imported) or 422 (rows invalid, nothing stored).
 */
export async function uploadCsv(file, { partial = false, onProgress, onUploaded } = {}) {
  for (let attempt = 0; ; attempt += 1) {
    const { status, body } = await sendUpload(file, partial, { onProgress, onUploaded });
    if ((status === 200 || status === 422) && body && Array.isArray(body.errors)) return body;
    if (attempt < 3 && (await renewSecret(status, body))) continue;
    throw errorFrom(status, body);
  }
}
