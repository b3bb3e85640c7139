// The submit handler is attached before anything else is fetched: i18n.js waits for its
// catalog (a top-level await), and an Enter pressed before a handler exists would submit
// the form natively. The catalog is loaded only to word an error.
import { api } from "./api.js";

const form = document.getElementById("login-form");
const errorBox = document.getElementById("login-error");

if (new URLSearchParams(window.location.search).has("expired")) {
  document.getElementById("login-expired").hidden = false;
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  errorBox.hidden = true;
  const data = new FormData(form);
  try {
    await api("/api/v1/auth/login", {
      method: "POST",
      csrf: false,
      body: { username: data.get("username"), password: data.get("password") },
    });
    window.location.assign("/");
  } catch (error) {
    const { errorText } = await import("./i18n.js");
    errorBox.textContent = errorText(error);
    errorBox.hidden = false;
  }
});
