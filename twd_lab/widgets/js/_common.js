// Shared by the browser-drawn widgets (twd_lab.widgets._anywidget.esm puts this before each module).

// An element with attributes and children: h("button", {class: "x"}, "Start").
function h(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  e.append(...children);
  return e;
}

// Keep a canvas's backing store at its CSS size times devicePixelRatio (crisp at any width and on HiDPI
// screens). Returns fit(): call it before drawing; it gives the size in device pixels and the ratio.
function hidpiCanvas(canvas, cssHeight) {
  canvas.style.width = "100%";
  canvas.style.height = `${cssHeight}px`;
  canvas.style.display = "block";
  return function fit() {
    const dpr = window.devicePixelRatio || 1;
    const W = Math.max(1, Math.round((canvas.clientWidth || 600) * dpr));
    const H = Math.max(1, Math.round(cssHeight * dpr));
    if (canvas.width !== W || canvas.height !== H) { canvas.width = W; canvas.height = H; }
    return { W, H, dpr };
  };
}
