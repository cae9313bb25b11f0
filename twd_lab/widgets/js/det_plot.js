// ThresholdExplorer's DET plot (anywidget ES module): false accepts per hour (x) and miss rate (y), both on
// log axes with a "0" lane for zeros, the curve, and one labelled operating point: the current threshold.
// (hidpiCanvas and h come from _common.js, which twd_lab.widgets._anywidget.esm puts before this module)

function logRange(values, floor) {
  const pos = values.filter((v) => v > 0);
  const lo = Math.min(floor, pos.length ? Math.min(...pos) : floor);
  const hi = Math.max(pos.length ? Math.max(...pos) : 1, lo * 10);
  return [10 ** Math.floor(Math.log10(lo)), 10 ** Math.ceil(Math.log10(hi))];
}

const fmt = (v) => (v >= 1 ? `${+v.toFixed(1)}` : `${+v.toPrecision(1)}`);

function render({ model, el }) {
  const root = h("div", { class: "twd-det" });
  const canvas = h("canvas");
  root.append(canvas);
  el.append(root);
  const fit = hidpiCanvas(canvas, 300);
  canvas.style.maxWidth = "560px";
  let raf = 0;

  function draw() {
    raf = 0;
    const { W, H, dpr } = fit();
    const g = canvas.getContext("2d");
    g.fillStyle = "#fff"; g.fillRect(0, 0, W, H);
    const th = model.get("thresholds"), fa = model.get("fa_per_hour"), miss = model.get("miss_rate");
    const L = 62 * dpr, R = W - 24 * dpr, T = 10 * dpr, B = H - 40 * dpr, lane = 34 * dpr;
    const [xlo, xhi] = logRange(fa, 0.1), [ylo, yhi] = [logRange(miss, 0.01)[0], 1];
    const xOf = (v) => (v <= 0 ? L + lane / 2 : L + lane + ((Math.log10(v) - Math.log10(xlo)) / (Math.log10(xhi) - Math.log10(xlo))) * (R - L - lane));
    const yOf = (v) => (v <= 0 ? B - lane / 2 : B - lane - ((Math.log10(v) - Math.log10(ylo)) / (Math.log10(yhi) - Math.log10(ylo))) * (B - T - lane));
    g.font = `${11 * dpr}px sans-serif`; g.fillStyle = "#444"; g.strokeStyle = "#e4e4e4"; g.lineWidth = dpr;
    g.textAlign = "center";
    for (let e = Math.log10(xlo); e <= Math.log10(xhi) + 1e-9; e++) {
      const x = xOf(10 ** e);
      g.beginPath(); g.moveTo(x, T); g.lineTo(x, B); g.stroke();
      g.fillText(fmt(10 ** e), x, B + 14 * dpr);
    }
    g.fillText("0", xOf(0), B + 14 * dpr);
    g.fillText("false accepts per hour (log)", (L + R) / 2, H - 6 * dpr);
    g.textAlign = "right";
    for (let e = Math.log10(ylo); e <= 1e-9; e++) {
      const y = yOf(10 ** e);
      g.beginPath(); g.moveTo(L, y); g.lineTo(R, y); g.stroke();
      g.fillText(`${+(100 * 10 ** e).toPrecision(2)}%`, L - 4 * dpr, y + 4 * dpr);
    }
    g.fillText("0%", L - 4 * dpr, yOf(0) + 4 * dpr);
    g.save(); g.translate(12 * dpr, (T + B) / 2); g.rotate(-Math.PI / 2); g.textAlign = "center";
    g.fillText("miss rate (log)", 0, 0); g.restore();
    g.strokeStyle = "#999"; g.strokeRect(L, T, R - L, B - T);
    g.setLineDash([3 * dpr, 3 * dpr]);
    g.beginPath(); g.moveTo(L + lane, T); g.lineTo(L + lane, B); g.moveTo(L, B - lane); g.lineTo(R, B - lane); g.stroke();
    g.setLineDash([]);
    // the curve, and its points
    g.strokeStyle = "#1f77b4"; g.fillStyle = "#1f77b4"; g.lineWidth = 1.5 * dpr; g.beginPath();
    fa.forEach((v, i) => (i ? g.lineTo(xOf(v), yOf(miss[i])) : g.moveTo(xOf(v), yOf(miss[i]))));
    g.stroke();
    fa.forEach((v, i) => { g.beginPath(); g.arc(xOf(v), yOf(miss[i]), 2 * dpr, 0, 2 * Math.PI); g.fill(); });
    // the current threshold: the kernel's exact point when it has come, else between the curve's points
    const t = model.get("threshold");
    let px, py, vfa, vmiss;
    if (Math.abs(model.get("point_threshold") - t) < 1e-9) {
      [vfa, vmiss] = model.get("point"); px = xOf(vfa); py = yOf(vmiss);
    } else if (th.length) {
      let i = th.findIndex((v) => v >= t);
      if (i < 0) i = th.length - 1;
      const j = Math.max(0, i - 1), f = th[i] === th[j] ? 0 : (t - th[j]) / (th[i] - th[j]);
      px = xOf(fa[j]) + f * (xOf(fa[i]) - xOf(fa[j])); py = yOf(miss[j]) + f * (yOf(miss[i]) - yOf(miss[j]));
      vfa = fa[j] + f * (fa[i] - fa[j]); vmiss = miss[j] + f * (miss[i] - miss[j]);
    }
    if (px !== undefined) {
      g.fillStyle = "#d62728"; g.beginPath(); g.arc(px, py, 5 * dpr, 0, 2 * Math.PI); g.fill();
      const text = `threshold ${t.toFixed(2)}: ${vfa.toFixed(1)} FA/h, miss ${(100 * vmiss).toFixed(1)}%`;
      g.font = `bold ${12 * dpr}px sans-serif`;
      const w = g.measureText(text).width;
      g.textAlign = px + 8 * dpr + w > R ? "right" : "left";
      const tx = g.textAlign === "right" ? px - 8 * dpr : px + 8 * dpr;
      const ty = py - 8 * dpr < T + 12 * dpr ? py + 18 * dpr : py - 8 * dpr;
      g.fillStyle = "rgba(255,255,255,0.85)";
      g.fillRect(g.textAlign === "right" ? tx - w - 2 * dpr : tx - 2 * dpr, ty - 12 * dpr, w + 4 * dpr, 16 * dpr);
      g.fillStyle = "#d62728"; g.fillText(text, tx, ty);
      root.dataset.pointX = (px / dpr).toFixed(1);
      root.dataset.pointY = (py / dpr).toFixed(1);
    }
    g.fillStyle = "#666"; g.textAlign = "right"; g.font = `${11 * dpr}px sans-serif`;
    g.fillText(model.get("caption"), R - 4 * dpr, T + 14 * dpr);
    root.dataset.drawnThreshold = t.toFixed(4);
    root.dataset.drawnAt = String(performance.now());
  }
  const redraw = () => { if (!raf) raf = requestAnimationFrame(draw); };
  for (const name of ["thresholds", "fa_per_hour", "miss_rate", "threshold", "point", "point_threshold", "caption"])
    model.on(`change:${name}`, redraw);
  const resize = new ResizeObserver(redraw);
  resize.observe(canvas);
  redraw();
  return () => { cancelAnimationFrame(raf); resize.disconnect(); };
}

export default { render };
