// Uploading attachments one after another, each with a progress bar and its result.
import { upload } from "./api.js";
import { element } from "./dom.js";
import { errorText, t } from "./i18n.js";

// One line of the list per file, built here so that every page shows uploads alike.
function uploadItem(file) {
  const item = element("li", { className: "upload", attrs: { "data-testid": "upload" } });
  const bar = element("progress", {
    className: "upload-progress",
    attrs: { max: "100", value: "0", "aria-label": t("upload.progress", { name: file.name }) },
  });
  const status = element("span", { className: "upload-status", attrs: { role: "status" } });
  item.append(element("span", { className: "upload-name", text: file.name }), bar, status);
  return { item, bar, status };
}

export async function uploadFiles(caseId, files, list) {
  let failures = 0;
  for (const file of files) {
    const { item, bar, status } = uploadItem(file);
    list.append(item);
    status.textContent = t("upload.sending");
    try {
      await upload(`/api/v1/cases/${Number(caseId)}/attachments`, file, (share) => {
        bar.value = Math.round(share * 100);
      });
      status.textContent = t("upload.done");
      item.dataset.state = "done";
    } catch (error) {
      failures += 1;
      status.textContent = t("upload.failed", { reason: errorText(error) });
      item.dataset.state = "failed";
      item.classList.add("error");
    }
  }
  return failures;
}
