// Signing asks the chair to re-enter their password: the page's sign dialog sends it to
// POST /api/v1/session/step-up, and only then is the signature sent. A wrong password is
// said in the dialog, which stays open; going back signs nothing.
import { api } from "./api.js";
import { errorText } from "./i18n.js";

export function stepUp(text, yesLabel) {
  const dialog = document.getElementById("sign-dialog");
  const form = document.getElementById("sign-form");
  const password = document.getElementById("sign-password");
  const error = document.getElementById("sign-error");
  const yes = document.getElementById("sign-yes");
  const no = document.getElementById("sign-no");
  document.getElementById("sign-text").textContent = text;
  yes.textContent = yesLabel;
  password.value = "";
  error.hidden = true;
  return new Promise((resolve) => {
    const finish = (answer) => {
      form.removeEventListener("submit", onSubmit);
      no.removeEventListener("click", onNo);
      dialog.removeEventListener("cancel", onNo);
      password.value = "";
      if (dialog.open) dialog.close();
      resolve(answer);
    };
    const onSubmit = async (event) => {
      event.preventDefault();
      yes.disabled = true;
      try {
        await api("/api/v1/session/step-up", {
          method: "POST",
          body: { password: password.value },
        });
        finish(true);
      } catch (failure) {
        error.textContent = errorText(failure);
        error.hidden = false;
        password.select();
      } finally {
        yes.disabled = false;
      }
    };
    const onNo = () => finish(false);
    form.addEventListener("submit", onSubmit);
    no.addEventListener("click", onNo);
    dialog.addEventListener("cancel", onNo); // Escape
    dialog.showModal();
    password.focus();
  });
}
