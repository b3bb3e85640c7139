// Uploading attachments one after another, each with a progress bar and its result.
import { upload } from "./api.js";
import { errorText, t } from "./i18n.js";

export async function uploadFiles(caseId, files, list) {
  const template = document.getElementById("upload-template");
  let failures = 0;
  for (const file of files) {
    const item = template
      ? template.content.firstElementChild.cloneNode(true)
      : document.createElement("li");
    const name = item.querySelector(".upload-name");
    const bar = item.querySelector(".upload-progress");
    const status = item.querySelector(".upload-status");
    name.textContent = file.name;
    bar.setAttribute("aria-label", t("upload.progress", { name: file.name }));
    item.dataset.testid = "upload";
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
