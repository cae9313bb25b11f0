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

// A float32 trait (a DataView over the message's bytes) as a Float32Array (copied: it may be unaligned).
const f32 = (dv) => (dv && dv.byteLength ? new Float32Array(dv.buffer.slice(dv.byteOffset, dv.byteOffset + dv.byteLength)) : new Float32Array(0));

// A 1-2-5 step that cuts `span` into about `n` pieces (axis ticks).
function niceStep(span, n) {
  const raw = span / Math.max(1, n), p10 = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((m) => m * p10).find((s) => s >= raw);
}

// twd_lab.metrics.TriggerPicker on a whole clip: the steps where the last `patience` probabilities were all
// above `threshold` and at least `refractory` steps (at least 1) have passed since the last firing.
function pickTriggers(probs, threshold, patience, refractory) {
  const fired = [], ref = Math.max(1, refractory | 0);
  let run = 0, allowed = -Infinity;
  for (let i = 0; i < probs.length; i++) {
    run = probs[i] > threshold ? run + 1 : 0;
    if (run >= patience && i >= allowed) { fired.push(i); allowed = i + ref; }
  }
  return fired;
}

// twd_lab.metrics.match_firings, counted: firings (s, ascending) that detect a word ending at e (ascending)
// when lo <= t - e <= hi, each word and firing used once, in time order.
function countHits(ends, fires, lo, hi) {
  const tol = 1e-9;
  let w = 0, hits = 0;
  for (const t of fires) {
    while (w < ends.length && t - ends[w] > hi + tol) w++;
    if (w < ends.length && t - ends[w] >= lo - tol) { hits++; w++; }
  }
  return hits;
}
