import { api } from "./api.js";
import { errorText } from "./i18n.js";

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
    errorBox.textContent = errorText(error);
    errorBox.hidden = false;
  }
});
