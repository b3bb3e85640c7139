import { api } from "./api.js";

document.getElementById("logout")?.addEventListener("click", async () => {
  const me = await api("/api/v1/me");
  await api("/api/v1/auth/logout", { method: "POST", csrfToken: me.csrf_token });
  window.location.assign("/login");
});
