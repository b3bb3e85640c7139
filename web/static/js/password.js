// Changing one's own password: the current one confirms it; the server ends every other
// session of the user, this one stays.
import { api } from "./api.js";
import { showText } from "./dom.js";
import { problemText, t } from "./i18n.js";

const form = document.getElementById("password-form");
const errorBox = document.getElementById("password-error");
const done = document.getElementById("password-done");

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  errorBox.hidden = true;
  done.textContent = "";
  const current = form.elements.current_password.value;
  const fresh = form.elements.new_password.value;
  if (fresh !== form.elements.repeat.value) {
    showText(errorBox, t("password.mismatch"));
    form.elements.repeat.focus();
    return;
  }
  try {
    await api("/api/v1/me/password", { method: "POST", body: { current_password: current, new_password: fresh } });
    form.reset();
    done.textContent = t("password.changed");
  } catch (error) {
    showText(errorBox, problemText(error));
  }
});
