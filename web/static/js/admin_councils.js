// The councils page: each council with its members (chair, secretary, members and their
// specialties), seating and removing members, renaming a council, creating one.
import { api } from "./api.js";
import { ADMIN, announce, attempt, facilityOptions, fillSelect, items, onSubmit, smallButton } from "./admin.js";
import { confirmAction } from "./confirm.js";
import { $, clear, element } from "./dom.js";
import { t } from "./i18n.js";

const SEAT_ORDER = { chair: 0, secretary: 1, member: 2 };

function memberRow(council, member, box) {
  const tr = element("tr", { attrs: { "data-testid": "member-row", "data-username": member.user.username } });
  const remove = smallButton(t("admin.remove"), "member-remove", { danger: true });
  remove.addEventListener("click", async () => {
    const text = t("admin.confirm_remove", { name: member.user.full_name, council: council.name });
    if (!(await confirmAction(text, t("admin.remove")))) return;
    await attempt(box, async () => {
      await api(`${ADMIN}/councils/${Number(council.id)}/members/${Number(member.user.id)}`, { method: "DELETE" });
      announce(t("admin.removed_member", { username: member.user.username, council: council.code }));
      await load();
    });
  });
  const name = `${member.user.full_name} (${member.user.username})${member.user.is_active ? "" : ` — ${t("admin.disabled")}`}`;
  tr.append(
    element("td", { text: name }),
    element("td", { text: t(`part.${member.council_role}`), attrs: { "data-testid": "member-seat" } }),
    element("td", { text: member.specialty || "—" }),
    element("td").appendChild(remove).parentNode,
  );
  return tr;
}

function councilCard(council, memberChoices, facilityChoices) {
  const card = $("council-template").content.firstElementChild.cloneNode(true);
  const slot = (name) => card.querySelector(`[data-slot="${name}"]`);
  card.dataset.code = council.code;
  slot("title").textContent = `${council.name} (${council.code})`;
  slot("seat").textContent = t("admin.seated_at", { facility: council.seat_facility.name });
  const errorBox = slot("error");
  const members = [...council.members].sort((a, b) => SEAT_ORDER[a.council_role] - SEAT_ORDER[b.council_role]);
  for (const member of members) slot("members").append(memberRow(council, member, errorBox));
  slot("empty").hidden = members.length > 0;
  for (const label of card.querySelectorAll("label[data-for]")) {
    const field = label.parentElement.querySelector(`[name="${label.dataset.for}"]`);
    field.id = `${label.dataset.for}-${council.id}-${label.closest("form").className}`;
    label.htmlFor = field.id;
  }
  const memberForm = card.querySelector(".member-form");
  fillSelect(memberForm.elements.user, memberChoices);
  onSubmit(memberForm, errorBox, async (values) => {
    const body = { council_role: values.council_role, specialty: values.specialty };
    await api(`${ADMIN}/councils/${Number(council.id)}/members/${Number(values.user)}`, { method: "PUT", body });
    announce(t("admin.seat_saved", { council: council.code }));
    await load();
  });
  const councilForm = card.querySelector(".council-form");
  fillSelect(councilForm.elements.seat_facility, facilityChoices);
  councilForm.elements.name.value = council.name;
  councilForm.elements.seat_facility.value = council.seat_facility.code;
  onSubmit(councilForm, errorBox, async (body) => {
    await api(`${ADMIN}/councils/${Number(council.id)}`, { method: "PUT", body });
    announce(t("admin.council_saved", { council: council.code }));
    await load();
  });
  return card;
}

function load() {
  return attempt($("councils-error"), async () => {
    const [councils, users, facilities] = await Promise.all([items("councils"), items("users"), items("facilities")]);
    const memberChoices = users
      .filter((u) => u.role === "council_member")
      .map((u) => ({ value: String(u.id), label: `${u.full_name} (${u.username})` }));
    const facilityChoices = facilityOptions(facilities);
    fillSelect($("nc-seat"), facilityChoices);
    clear($("councils"));
    for (const council of councils) $("councils").append(councilCard(council, memberChoices, facilityChoices));
  });
}

onSubmit($("new-council"), $("new-council-error"), async (body) => {
  await api(`${ADMIN}/councils`, { method: "POST", body });
  $("new-council").reset();
  announce(t("admin.created_council", { council: body.code }));
  await load();
});

load();
