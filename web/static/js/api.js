// The JSON API from the browser: the session cookie, the CSRF header on unsafe methods,
// errors as ApiError (status, code, data), and a note of every request the server saw,
// which the session-timeout warning counts as activity.

const activityListeners = new Set();
let csrf = null;

export class ApiError extends Error {
  constructor(status, data) {
    super(data?.error?.message || String(status));
    this.status = status;
    this.code = data?.error?.code || "error";
    this.data = data?.error || {};
  }
}

export function onActivity(listener) {
  activityListeners.add(listener);
}

export function noteActivity() {
  const now = Date.now();
  for (const listener of activityListeners) listener(now);
}

export function sessionEnded() {
  window.location.assign("/login?expired=1");
}

export async function csrfToken() {
  if (csrf === null) {
    const me = await api("/api/v1/me");
    csrf = me.csrf_token;
  }
  return csrf;
}

export async function api(path, { method = "GET", body, csrf: withCsrf = true } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (withCsrf && method !== "GET") headers["X-CSRF-Token"] = await csrfToken();
  const response = await fetch(path, {
    method,
    headers,
    credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await response.json().catch(() => ({}));
  if (response.status === 401 && withCsrf) {
    sessionEnded();
  }
  if (!response.ok) throw new ApiError(response.status, data);
  noteActivity();
  return data;
}

// Uploads one file as multipart field `file`, reporting progress (0..1); XMLHttpRequest
// because fetch cannot report upload progress.
export async function upload(path, file, onProgress = () => {}) {
  const token = await csrfToken();
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", path);
    xhr.setRequestHeader("X-CSRF-Token", token);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    });
    xhr.addEventListener("load", () => {
      let data;
      try {
        data = JSON.parse(xhr.responseText);
      } catch {
        data = {};
      }
      if (xhr.status >= 200 && xhr.status < 300) {
        onProgress(1);
        noteActivity();
        resolve(data);
      } else {
        if (xhr.status === 401) sessionEnded();
        reject(new ApiError(xhr.status, data));
      }
    });
    xhr.addEventListener("error", () => reject(new ApiError(0, { error: { code: "network" } })));
    const form = new FormData();
    form.append("file", file, file.name);
    xhr.send(form);
  });
}
