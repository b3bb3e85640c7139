// The facilities page: every facility with its level; creating and renaming facilities.
import { api } from "./api.js";
import { ADMIN, announce, formValues, items, showRefusal, smallButton } from "./admin.js";
import { clear, element } from "./dom.js";
import { t } from "./i18n.js";

const $ = (id) => document.getElementById(id);
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

async function load() {
  try {
    const facilities = await items("facilities");
    clear($("facilities-rows"));
    for (const facility of facilities) $("facilities-rows").append(row(facility));
    showRefusal($("facilities-error"), null);
  } catch (error) {
    showRefusal($("facilities-error"), error);
  }
}

$("edit-facility-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    await api(`${ADMIN}/facilities/${Number(editing.id)}`, { method: "PUT", body: formValues(event.target) });
    $("edit-facility").close();
    announce(t("admin.facility_saved", { code: editing.code }));
    await load();
  } catch (error) {
    showRefusal($("edit-facility-error"), error);
  }
});

$("new-facility").addEventListener("submit", async (event) => {
  event.preventDefault();
  const body = formValues(event.target);
  try {
    await api(`${ADMIN}/facilities`, { method: "POST", body });
    event.target.reset();
    showRefusal($("new-facility-error"), null);
    announce(t("admin.created_facility", { code: body.code }));
    await load();
  } catch (error) {
    showRefusal($("new-facility-error"), error);
  }
});

for (const button of document.querySelectorAll("dialog [data-close]")) {
  button.addEventListener("click", () => button.closest("dialog").close());
}

load();
