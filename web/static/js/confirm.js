// Asking before an action that cannot be taken back (cancel, decline, sign, disable): the
// page's own dialog, not window.confirm, so that it is styled, translated and testable.

export function confirmAction(text, yesLabel) {
  const dialog = document.getElementById("confirm-dialog");
  if (!dialog) return Promise.resolve(true);
  document.getElementById("confirm-text").textContent = text;
  const yes = document.getElementById("confirm-yes");
  const no = document.getElementById("confirm-no");
  yes.textContent = yesLabel;
  return new Promise((resolve) => {
    const finish = (answer) => {
      yes.removeEventListener("click", onYes);
      no.removeEventListener("click", onNo);
      dialog.removeEventListener("cancel", onNo);
      if (dialog.open) dialog.close();
      resolve(answer);
    };
    const onYes = () => finish(true);
    const onNo = () => finish(false);
    yes.addEventListener("click", onYes);
    no.addEventListener("click", onNo);
    dialog.addEventListener("cancel", onNo); // Escape
    dialog.showModal();
    no.focus();
  });
}
