import { api } from "./api.js";

const form = document.getElementById("login-form");
const errorBox = document.getElementById("login-error");

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  errorBox.hidden = true;
  const data = new FormData(form);
  try {
    await api("/api/v1/auth/login", {
      method: "POST",
      body: { username: data.get("username"), password: data.get("password") },
    });
    window.location.assign("/");
  } catch (error) {
    errorBox.textContent = error.message;
    errorBox.hidden = false;
  }
});
