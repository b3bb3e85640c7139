// Small SVG charts drawn with DOM calls (no library, no inline style): horizontal bars
// with their values written out, so the numbers are readable without the picture.
import { clear } from "./dom.js";

const SVG = "http://www.w3.org/2000/svg";

function svgNode(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  if (text !== undefined) node.textContent = String(text);
  return node;
}

// rows: [{label, values: [{value, text, className}]}]; one bar per value.
export function barChart(container, rows, { title, labelWidth = 330, width = 800 } = {}) {
  clear(container);
  const barHeight = 18;
  const gap = 4;
  const groupGap = 12;
  const max = Math.max(1, ...rows.flatMap((r) => r.values.map((v) => v.value || 0)));
  const plot = width - labelWidth - 210; // room for the value written after the bar
  let y = 4;
  const svg = svgNode("svg", { role: "img", class: "bar-chart", "aria-label": title, width: "100%" });
  svg.append(svgNode("title", {}, title));
  for (const row of rows) {
    const groupHeight = row.values.length * (barHeight + gap) - gap;
    svg.append(
      svgNode("text", { x: labelWidth - 8, y: y + groupHeight / 2 + 5, "text-anchor": "end", class: "chart-label" }, row.label),
    );
    for (const item of row.values) {
      const length = item.value ? Math.max(2, (item.value / max) * plot) : 0;
      svg.append(
        svgNode("rect", { x: labelWidth, y, width: length, height: barHeight, rx: 2, class: `bar ${item.className || ""}` }),
        svgNode("text", { x: labelWidth + length + 6, y: y + barHeight - 4, class: "chart-value" }, item.text),
      );
      y += barHeight + gap;
    }
    y += groupGap - gap;
  }
  svg.setAttribute("viewBox", `0 0 ${width} ${Math.max(y, 24)}`);
  container.append(svg);
}

// A share as a single bar out of 100 %.
export function shareBar(container, share, { title, text }) {
  clear(container);
  const width = 640;
  const svg = svgNode("svg", { role: "img", class: "bar-chart", "aria-label": title, viewBox: `0 0 ${width} 40`, width: "100%" });
  svg.append(svgNode("title", {}, title));
  svg.append(svgNode("rect", { x: 0, y: 4, width: width - 120, height: 24, rx: 3, class: "bar-track" }));
  svg.append(svgNode("rect", { x: 0, y: 4, width: (width - 120) * (share ?? 0), height: 24, rx: 3, class: "bar share" }));
  svg.append(svgNode("text", { x: width - 112, y: 22, class: "chart-value" }, text));
  container.append(svg);
}
