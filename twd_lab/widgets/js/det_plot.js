// ThresholdExplorer's DET plot (anywidget ES module): false accepts per hour (x) and miss rate (y), both on
// log axes with a "0" lane for zeros, the curve, and one labelled operating point: the current threshold.
// With the clips' probabilities stored, the scores at a threshold (the table, the point, the curve for the
// current patience and refractory) are computed here, as twd_lab.metrics.event_scores pooled over clips.
// (h, hidpiCanvas, f32, pickTriggers and countHits come from _common.js, which
// twd_lab.widgets._anywidget.esm puts before this module)

// Pooled event scores at `threshold` over the stored clips, or null when none are stored.
function scorer(model) {
  const lengths = model.get("clip_lengths");
  if (!lengths.length) return null;
  const probs = f32(model.get("clip_probs")), ends = model.get("clip_ends"), neg = model.get("clip_negative_s");
  const step = model.get("step_s"), [lo, hi] = model.get("window");
  const clips = [];
  let at = 0;
  for (const n of lengths) { clips.push(probs.subarray(at, at + n)); at += n; }
  return (threshold, patience, refractory) => {
    let hits = 0, words = 0, triggers = 0, negative = 0;
    clips.forEach((p, i) => {
      const fires = pickTriggers(p, threshold, patience, refractory).map((k) => k * step);
      hits += countHits(ends[i], fires, lo, hi);
      words += ends[i].length; triggers += fires.length; negative += neg[i];
    });
    const fa = triggers - hits, precision = triggers ? hits / triggers : 1, recall = words ? hits / words : 1;
    const faPerHour = negative > 0 ? (fa * 3600) / negative : fa ? Infinity : 0;
    return { hits, words, triggers, negative, fa, precision, recall, faPerHour, miss: 1 - recall,
             f1: precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0 };
  };
}

// The kernel's table (twd_lab.widgets.det_view.scores_table_html), written here.
function scoresTable(s) {
  return "<table class='twd-scores' style='font-size:13px'>" +
    `<tr><td>precision</td><td><b>${s.precision.toFixed(3)}</b></td><td>(${s.hits} of ${s.triggers} detections are right)</td></tr>` +
    `<tr><td>recall</td><td><b>${s.recall.toFixed(3)}</b></td><td>(${s.hits} of ${s.words} words detected; miss rate ${s.miss.toFixed(3)})</td></tr>` +
    `<tr><td>F1</td><td><b>${s.f1.toFixed(3)}</b></td><td></td></tr>` +
    `<tr><td>false accepts / hour</td><td><b>${s.faPerHour.toFixed(1)}</b></td><td>(${s.fa} in ${(s.negative / 60).toFixed(1)} min of audio without the word)</td></tr>` +
    "</table>";
}

function logRange(values, floor) {
  const pos = values.filter((v) => v > 0);
  const lo = Math.min(floor, pos.length ? Math.min(...pos) : floor);
  const hi = Math.max(pos.length ? Math.max(...pos) : 1, lo * 10);
  return [10 ** Math.floor(Math.log10(lo)), 10 ** Math.ceil(Math.log10(hi))];
}

const fmt = (v) => (v >= 1 ? `${+v.toFixed(1)}` : `${+v.toPrecision(1)}`);

function render({ model, el }) {
  const root = h("div", { class: "twd-det" });
  const table = h("div", { class: "twd-det-table" });
  const canvas = h("canvas");
  root.append(table, canvas);
  el.append(root);
  const fit = hidpiCanvas(canvas, 300);
  canvas.style.maxWidth = "560px";
  let raf = 0, score = scorer(model), curveCache = null;

  function draw() {
    raf = 0;
    const { W, H, dpr } = fit();
    const g = canvas.getContext("2d");
    g.fillStyle = "#fff"; g.fillRect(0, 0, W, H);
    const th = model.get("thresholds");
    let fa = model.get("fa_per_hour"), miss = model.get("miss_rate"), here = null;
    if (score) { // the scores, the point and the curve for the current rule, computed here
      const rule = [model.get("patience"), model.get("refractory")];
      const key = JSON.stringify([rule, th]); // the curve changes with the rule, not with the threshold
      if (!curveCache || curveCache.key !== key) curveCache = { key, points: th.map((v) => score(v, ...rule)) };
      fa = curveCache.points.map((c) => c.faPerHour); miss = curveCache.points.map((c) => c.miss);
      here = score(model.get("threshold"), ...rule);
      table.innerHTML = scoresTable(here);
      root.dataset.scores = JSON.stringify({ precision: here.precision, recall: here.recall, hits: here.hits,
        triggers: here.triggers, fa_per_hour: here.faPerHour, patience: rule[0], refractory: rule[1] });
    }
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
    if (here) {
      vfa = here.faPerHour; vmiss = here.miss; px = xOf(vfa); py = yOf(vmiss);
    } else if (Math.abs(model.get("point_threshold") - t) < 1e-9) {
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
    const caption = score ? `patience ${model.get("patience")}, refractory ${model.get("refractory")}` : model.get("caption");
    g.fillText(caption, R - 4 * dpr, T + 14 * dpr);
    root.dataset.drawnThreshold = t.toFixed(4);
    root.dataset.kernelThreshold = model.get("point_threshold").toFixed(4); // the kernel's last answer
    root.dataset.drawnAt = String(performance.now());
  }
  const redraw = () => { if (!raf) raf = requestAnimationFrame(draw); };
  for (const name of ["thresholds", "fa_per_hour", "miss_rate", "threshold", "point", "point_threshold", "caption",
    "patience", "refractory"])
    model.on(`change:${name}`, redraw);
  for (const name of ["clip_probs", "clip_lengths", "clip_ends", "clip_negative_s", "step_s", "window"])
    model.on(`change:${name}`, () => { score = scorer(model); curveCache = null; redraw(); });
  const resize = new ResizeObserver(redraw);
  resize.observe(canvas);
  redraw();
  return () => { cancelAnimationFrame(raf); resize.disconnect(); };
}

export default { render };
