// The facilities page: every facility with its level; creating and renaming facilities.
import { api } from "./api.js";
import { ADMIN, announce, attempt, items, onSubmit, showRefusal, smallButton } from "./admin.js";
import { $, clear, element } from "./dom.js";
import { t } from "./i18n.js";

let editing = null;

function row(facility) {
  const tr = element("tr", { attrs: { "data-testid": "facility-row", "data-code": facility.code } });
  const edit = smallButton(t("admin.edit"), "edit-facility-open");
  edit.addEventListener("click", () => {
    editing = facility;
    $("edit-facility-title").textContent = t("admin.edit_facility", { code: facility.code });
    $("ef-name").value = facility.name;
    $("ef-level").value = facility.level;
    showRefusal($("edit-facility-error"), null);
    $("edit-facility").showModal();
  });
  tr.append(
    element("td", { text: facility.code, className: "code" }),
    element("td", { text: facility.name, attrs: { "data-testid": "facility-name" } }),
    element("td", { text: t(`level.${facility.level}`) }),
    element("td").appendChild(edit).parentNode,
  );
  return tr;
}

function load() {
  return attempt($("facilities-error"), async () => {
    const facilities = await items("facilities");
    clear($("facilities-rows"));
    for (const facility of facilities) $("facilities-rows").append(row(facility));
  });
}

onSubmit($("edit-facility-form"), $("edit-facility-error"), async (body) => {
  await api(`${ADMIN}/facilities/${Number(editing.id)}`, { method: "PUT", body });
  $("edit-facility").close();
  announce(t("admin.facility_saved", { code: editing.code }));
  await load();
});

onSubmit($("new-facility"), $("new-facility-error"), async (body) => {
  await api(`${ADMIN}/facilities`, { method: "POST", body });
  $("new-facility").reset();
  announce(t("admin.created_facility", { code: body.code }));
  await load();
});

load();
