// TrainingMonitor's curves (anywidget ES module): one panel per metric, side by side, the metric (solid,
// dots) and its val_ (dashed, squares) per epoch, drawn at the device's resolution; hover names the values.
// (h, hidpiCanvas and niceStep come from _common.js, which twd_lab.widgets._anywidget.esm puts before this)

const COLORS = ["#1f77b4", "#ff7f0e"];

function render({ model, el }) {
  const root = h("div", { class: "twd-curves" });
  const canvas = h("canvas");
  const hover = h("div", { class: "twd-hover" });
  root.append(canvas, hover);
  el.append(root);
  const fit = hidpiCanvas(canvas, 220);
  let raf = 0, boxes = [];

  function draw() {
    raf = 0;
    const { W, H, dpr } = fit();
    const g = canvas.getContext("2d");
    g.fillStyle = "#fff"; g.fillRect(0, 0, W, H);
    const hist = model.get("history"), panels = model.get("panels");
    const epochs = Math.max(1, model.get("epochs"), ...Object.values(hist).map((v) => v.length));
    const pw = W / Math.max(1, panels.length);
    boxes = [];
    g.font = `${11 * dpr}px sans-serif`;
    panels.forEach((name, k) => {
      const L = k * pw + 48 * dpr, R = (k + 1) * pw - 12 * dpr, T = 20 * dpr, B = H - 34 * dpr;
      const keys = [name, `val_${name}`].filter((key) => hist[key] && hist[key].length);
      const all = keys.flatMap((key) => hist[key]).filter(Number.isFinite);
      let lo = all.length ? Math.min(...all) : 0, hi = all.length ? Math.max(...all) : 1;
      if (hi - lo < 1e-9) { lo -= 0.5 * Math.abs(lo || 1) * 0.1; hi += 0.5 * Math.abs(hi || 1) * 0.1; }
      const pad = 0.06 * (hi - lo); lo -= pad; hi += pad;
      const xOf = (e) => L + (epochs > 1 ? ((e - 1) / (epochs - 1)) * (R - L) : (R - L) / 2);
      const yOf = (v) => B - ((v - lo) / (hi - lo)) * (B - T);
      boxes.push({ name, keys, L, R, T, B, xOf, epochs });
      g.strokeStyle = "#e4e4e4"; g.lineWidth = dpr; g.fillStyle = "#444"; g.textAlign = "right";
      const ys = niceStep(hi - lo, 4);
      for (let v = Math.ceil(lo / ys) * ys; v <= hi + 1e-12; v += ys) {
        g.beginPath(); g.moveTo(L, yOf(v)); g.lineTo(R, yOf(v)); g.stroke();
        g.fillText(`${+v.toPrecision(3)}`, L - 4 * dpr, yOf(v) + 4 * dpr);
      }
      g.textAlign = "center";
      const xs = Math.max(1, Math.round(niceStep(epochs, 6)));
      for (let e = 1; e <= epochs; e += xs) g.fillText(`${e}`, xOf(e), B + 14 * dpr);
      g.fillText("epoch", (L + R) / 2, H - 4 * dpr);
      g.font = `bold ${12 * dpr}px sans-serif`; g.fillText(name, (L + R) / 2, 13 * dpr);
      g.font = `${11 * dpr}px sans-serif`;
      g.strokeStyle = "#999"; g.strokeRect(L, T, R - L, B - T);
      keys.forEach((key, j) => {
        const v = hist[key];
        g.strokeStyle = g.fillStyle = COLORS[j]; g.lineWidth = 1.5 * dpr;
        g.setLineDash(j ? [5 * dpr, 3 * dpr] : []);
        g.beginPath();
        let pen = false; // a missing value (a NaN loss) breaks the line
        v.forEach((y, i) => {
          if (!Number.isFinite(y)) { pen = false; return; }
          if (pen) g.lineTo(xOf(i + 1), yOf(y)); else g.moveTo(xOf(i + 1), yOf(y));
          pen = true;
        });
        g.stroke(); g.setLineDash([]);
        v.forEach((y, i) => {
          if (!Number.isFinite(y)) return;
          if (j) g.fillRect(xOf(i + 1) - 2.5 * dpr, yOf(y) - 2.5 * dpr, 5 * dpr, 5 * dpr);
          else { g.beginPath(); g.arc(xOf(i + 1), yOf(y), 2.5 * dpr, 0, 2 * Math.PI); g.fill(); }
        });
        g.textAlign = "left"; g.fillText(key, L + 6 * dpr + j * 90 * dpr, T + 13 * dpr);
      });
    });
    root.dataset.panels = panels.join(",");
    root.dataset.points = String(Object.values(hist).reduce((s, v) => s + v.length, 0));
    root.dataset.drawnAt = String(performance.now());
  }
  const redraw = () => { if (!raf) raf = requestAnimationFrame(draw); };
  canvas.addEventListener("pointermove", (ev) => {
    const r = canvas.getBoundingClientRect(), dpr = window.devicePixelRatio || 1, px = (ev.clientX - r.left) * dpr;
    const b = boxes.find((bb) => px >= bb.L - 10 * dpr && px <= bb.R + 10 * dpr);
    if (!b) { hover.textContent = ""; return; }
    let e = 1;
    for (let k = 1; k <= b.epochs; k++) if (Math.abs(b.xOf(k) - px) < Math.abs(b.xOf(e) - px)) e = k;
    const hist = model.get("history");
    hover.textContent = `epoch ${e}: ` + b.keys.filter((k) => hist[k].length >= e).map((k) => `${k} ${Number.isFinite(hist[k][e - 1]) ? hist[k][e - 1].toFixed(4) : "nan"}`).join(", ");
  });
  canvas.addEventListener("pointerleave", () => { hover.textContent = ""; });
  for (const name of ["history", "panels", "epochs"]) model.on(`change:${name}`, redraw);
  const resize = new ResizeObserver(redraw);
  resize.observe(canvas);
  redraw();
  return () => { cancelAnimationFrame(raf); resize.disconnect(); };
}

export default { render };
