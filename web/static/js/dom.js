// Building DOM nodes: every dynamic text goes in as text, never as HTML.

export const $ = (id) => document.getElementById(id);

export function element(tag, { text, className, attrs } = {}) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, value);
  return node;
}

export function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
}

// Shows `text` in `box` (an error or notice line), or hides the box when there is none.
export function showText(box, text) {
  box.textContent = text ?? "";
  box.hidden = !text;
}
