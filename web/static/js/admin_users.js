// The users page: every account with its role, facility and council seats; creating,
// editing, disabling and enabling accounts and setting a new password.
import { api } from "./api.js";
import { ADMIN, announce, attempt, facilityOptions, fillSelect, items, onSubmit, showRefusal, smallButton } from "./admin.js";
import { confirmAction } from "./confirm.js";
import { $, clear, element } from "./dom.js";
import { formatTime, t } from "./i18n.js";

const myId = Number(document.body.dataset.userId);
let users = [];
let editing = null;

function seatsText(user) {
  return user.councils.map((c) => `${c.code}: ${t(`part.${c.council_role}`)}${c.specialty ? `, ${c.specialty}` : ""}`).join("; ") || "—";
}

function row(user) {
  const tr = element("tr", { attrs: { "data-testid": "user-row", "data-username": user.username, "data-active": String(user.is_active) } });
  const buttons = element("div", { className: "button-row" });
  const edit = smallButton(t("admin.edit"), "edit-user-open");
  edit.addEventListener("click", () => openEdit(user));
  const reset = smallButton(t("admin.reset_password"), "reset-password-open");
  reset.addEventListener("click", () => openReset(user));
  buttons.append(edit, reset);
  if (user.id !== myId) {
    const toggle = user.is_active
      ? smallButton(t("admin.disable"), "disable-user", { danger: true })
      : smallButton(t("admin.enable"), "enable-user");
    toggle.addEventListener("click", () => setActive(user, !user.is_active));
    buttons.append(toggle);
  }
  const actions = element("td");
  actions.append(buttons);
  tr.append(
    element("td", { text: user.username, className: "code" }),
    element("td", { text: user.full_name }),
    element("td", { text: t(`role.${user.role}`) }),
    element("td", { text: user.facility ? user.facility.name : "—" }),
    element("td", { text: seatsText(user), attrs: { "data-testid": "user-seats" } }),
    element("td", {
      text: user.is_active ? t("admin.active") : t("admin.disabled"),
      attrs: { "data-testid": "user-status", title: t("admin.since", { at: formatTime(user.created_at) }) },
    }),
    actions,
  );
  return tr;
}

function load() {
  return attempt($("users-error"), async () => {
    const [list, facilities, councils] = await Promise.all([items("users"), items("facilities"), items("councils")]);
    users = list;
    const facilityChoices = facilityOptions(facilities);
    fillSelect($("nu-facility"), facilityChoices, { empty: t("admin.no_facility") });
    fillSelect($("eu-facility"), facilityChoices, { empty: t("admin.no_facility") });
    fillSelect($("nu-council"), councils.map((c) => ({ value: c.code, label: `${c.name} (${c.code})` })), { empty: t("admin.no_council") });
    clear($("users-rows"));
    for (const user of users) $("users-rows").append(row(user));
  });
}

async function setActive(user, active) {
  if (!active) {
    const sure = await confirmAction(t("admin.confirm_disable", { name: user.full_name, username: user.username }), t("admin.disable"));
    if (!sure) return;
  }
  await attempt($("users-error"), async () => {
    await api(`${ADMIN}/users/${Number(user.id)}/${active ? "enable" : "disable"}`, { method: "POST" });
    announce(t(active ? "admin.enabled_user" : "admin.disabled_user", { username: user.username }));
    await load();
  });
}

function openEdit(user) {
  editing = user;
  $("edit-user-title").textContent = t("admin.edit_user", { username: user.username });
  $("eu-full-name").value = user.full_name;
  $("eu-role").value = user.role;
  $("eu-facility").value = user.facility ? user.facility.code : "";
  $("eu-email").value = user.email ?? "";
  showRefusal($("edit-user-error"), null);
  $("edit-user").showModal();
}

function openReset(user) {
  editing = user;
  $("reset-password-title").textContent = t("admin.reset_password_of", { username: user.username });
  $("rp-password").value = "";
  showRefusal($("reset-password-error"), null);
  $("reset-password").showModal();
}

onSubmit($("edit-user-form"), $("edit-user-error"), async (values) => {
  const body = {
    full_name: values.full_name,
    role: values.role,
    facility: values.facility || null,
    email: values.email || null,
  };
  await api(`${ADMIN}/users/${Number(editing.id)}`, { method: "PUT", body });
  $("edit-user").close();
  announce(t("admin.saved_user", { username: editing.username }));
  await load();
});

onSubmit($("reset-password-form"), $("reset-password-error"), async () => {
  const body = { password: $("rp-password").value };
  await api(`${ADMIN}/users/${Number(editing.id)}/password`, { method: "POST", body });
  $("reset-password").close();
  announce(t("admin.password_set", { username: editing.username }));
});

onSubmit($("new-user"), $("new-user-error"), async (values) => {
  const body = {
    username: values.username,
    full_name: values.full_name,
    role: values.role,
    facility: values.facility || null,
    password: $("nu-password").value,
    council: values.council || null,
    council_role: values.council_role,
    specialty: values.specialty,
    email: values.email || null,
  };
  await api(`${ADMIN}/users`, { method: "POST", body });
  $("new-user").reset();
  announce(t("admin.created_user", { username: body.username }));
  await load();
});

load();
