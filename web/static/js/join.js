// The guest's landing page: the invitation is spent only when the guest presses Join.
import { api } from "./api.js";
import { errorText, t } from "./i18n.js";

const button = document.getElementById("join");
const errorBox = document.getElementById("join-error");
// The page's address is /join/<token>; the token never leaves this origin.
const token = decodeURIComponent(window.location.pathname.split("/").pop());

button.addEventListener("click", async () => {
  button.disabled = true;
  errorBox.hidden = true;
  try {
    const joined = await api("/api/v1/guests/redeem", {
      method: "POST",
      csrf: false,
      body: { token },
    });
    // Replace: the spent link should not stay in the history.
    window.location.replace(`/cases/${joined.case_id}`);
  } catch (error) {
    errorBox.textContent = error.code === "not_found" ? t("guest.link_invalid") : errorText(error);
    errorBox.hidden = false;
    button.disabled = false;
  }
});
