// AudioView's browser side (anywidget ES module), the one drawing module of the AudioPlayer, the
// SynthesisExplorer and the DetectionDemo: waveform, spectrogram, label spans, marked regions,
// probabilities, threshold and detections on one time axis, drawn at the device's resolution; a playhead
// at screen rate; click or drag to seek; hover shows time and value; zoom on the time axis (Ctrl/Alt +
// wheel, or shift-drag a region and press "zoom"; "all" or a double click resets). The clip's data
// arrives once, as binary traits; with fire_in_browser the firing rule runs here on the stored
// probabilities, so the threshold, patience and refractory controls need no kernel.
// (h, hidpiCanvas, f32, niceStep and pickTriggers come from _common.js, which
// twd_lab.widgets._anywidget.esm puts before this module)

const PAD_L = 46, PAD_R = 10; // CSS px for the row labels on the left
const MIN_SPAN_S = 0.05; // the narrowest zoom

// A magma-like colour map: 256 RGB triples from a few stops, linearly between them.
const LUT = (() => {
  const stops = [[0, 0, 4], [40, 11, 84], [101, 21, 110], [159, 42, 99], [212, 72, 66], [245, 125, 21], [250, 193, 39], [252, 253, 191]];
  const lut = new Uint8ClampedArray(256 * 3);
  for (let i = 0; i < 256; i++) {
    const x = (i / 255) * (stops.length - 1), k = Math.min(stops.length - 2, Math.floor(x)), f = x - k;
    for (let c = 0; c < 3; c++) lut[3 * i + c] = stops[k][c] + f * (stops[k + 1][c] - stops[k][c]);
  }
  return lut;
})();

function render({ model, el }) {
  const root = h("div", { class: "twd-player" });
  const play = h("button", { class: "twd-play" }, "▶ Play");
  const zoomIn = h("button", { class: "twd-zoom", title: "Zoom to the shift-dragged region" }, "zoom");
  const zoomAll = h("button", { class: "twd-zoom-reset", title: "Show the whole clip (or double-click the picture)" }, "all");
  const clock = h("span", { class: "twd-clock" });
  const hover = h("div", { class: "twd-hover" });
  const canvas = h("canvas", { class: "twd-player-canvas" });
  const audio = h("audio", { preload: "auto" });
  audio.style.display = "none";
  root.append(h("div", { class: "twd-row" }, play, zoomIn, zoomAll, clock), canvas, hover, audio);
  el.append(root);

  let spec = null, probs = new Float32Array(0), times = new Float32Array(0), wave = new Float32Array(0), url = null;
  let layout = null, base = null, raf = 0, dragging = false;
  let selecting = false, sel = null; // a region [a, b] (s), chosen by shift-dragging; Play plays only it
  let view = [0, Math.max(1e-3, model.get("duration_s"))], shownDur = -1; // the time span shown (s)

  const dur = () => Math.max(1e-3, model.get("duration_s"));
  const rowsNow = () => {
    const rows = [];
    if (wave.length) rows.push(["waveform", 56]);
    rows.push(["spectrogram", 120]);
    if (model.get("has_labels")) rows.push(["labels", 34]);
    if (probs.length) rows.push(["probabilities", 80]);
    return rows;
  };
  const cssHeight = () => rowsNow().reduce((s, r) => s + r[1] + 6, 0) + 22;
  let fit = hidpiCanvas(canvas, cssHeight());

  function setView(a, b) {
    const d = dur(), span = Math.min(d, Math.max(MIN_SPAN_S, b - a));
    a = Math.max(0, Math.min(d - span, a));
    view = [a, a + span];
    root.dataset.view = `${view[0].toFixed(3)},${view[1].toFixed(3)}`;
    base = null;
    redraw();
  }

  function loadClip() {
    const wav = model.get("value");
    if (url) URL.revokeObjectURL(url);
    url = wav && wav.byteLength ? URL.createObjectURL(new Blob([wav], { type: "audio/wav" })) : null;
    if (url) audio.src = url; else audio.removeAttribute("src");
    const [rows, cols] = model.get("spec_shape");
    const bytes = model.get("spec");
    spec = null;
    if (rows && cols && bytes && bytes.byteLength === rows * cols) {
      const u8 = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      spec = document.createElement("canvas");
      spec.width = cols; spec.height = rows;
      const img = spec.getContext("2d").createImageData(cols, rows);
      for (let r = 0; r < rows; r++) {
        const y = rows - 1 - r; // low frequencies at the bottom
        for (let c = 0; c < cols; c++) {
          const v = u8[r * cols + c], o = 4 * (y * cols + c);
          img.data[o] = LUT[3 * v]; img.data[o + 1] = LUT[3 * v + 1]; img.data[o + 2] = LUT[3 * v + 2]; img.data[o + 3] = 255;
        }
      }
      spec.getContext("2d").putImageData(img, 0, 0);
    }
    wave = f32(model.get("wave"));
    // a clip as long as the last one keeps the zoom (the SynthesisExplorer's clips: compare like with like)
    if (Math.abs(dur() - shownDur) > 1e-6) view = [0, dur()];
    shownDur = dur();
    root.dataset.view = `${view[0].toFixed(3)},${view[1].toFixed(3)}`;
    loadOverlays();
  }
  function loadOverlays() {
    probs = f32(model.get("probs"));
    times = f32(model.get("prob_times"));
    fit = hidpiCanvas(canvas, cssHeight());
    base = null;
  }
  function triggerTimes() {
    if (!(model.get("fire_in_browser") && probs.length)) return model.get("triggers");
    const fires = pickTriggers(probs, model.get("threshold"), model.get("patience"), model.get("refractory"));
    return fires.map((i) => times[i]);
  }

  // the static picture, redrawn only when the data, the view or the size changes
  function drawBase(W, H, dpr) {
    const [v0, v1] = view;
    const x0 = PAD_L * dpr, x1 = W - PAD_R * dpr;
    const xOf = (t) => x0 + ((t - v0) / (v1 - v0)) * (x1 - x0);
    const rows = [];
    let y = 4 * dpr;
    for (const [name, hh] of rowsNow()) { rows.push({ name, y, h: hh * dpr }); y += (hh + 6) * dpr; }
    layout = { x0, x1, v0, v1, rows, dpr, axisY: y };
    base = document.createElement("canvas");
    base.width = W; base.height = H;
    const g = base.getContext("2d");
    g.fillStyle = "#fff"; g.fillRect(0, 0, W, H);
    g.font = `${11 * dpr}px sans-serif`;
    const th = model.get("threshold");
    const clipTo = (r) => { g.save(); g.beginPath(); g.rect(x0, r.y, x1 - x0, r.h); g.clip(); };
    for (const r of rows) {
      g.fillStyle = "#444"; g.textAlign = "right";
      if (r.name === "waveform") {
        g.fillStyle = "#f7f7f7"; g.fillRect(x0, r.y, x1 - x0, r.h);
        const n = wave.length / 2, mid = r.y + r.h / 2, amp = r.h / 2 - 2 * dpr;
        let peak = 1e-6;
        for (let i = 0; i < wave.length; i++) peak = Math.max(peak, Math.abs(wave[i]));
        clipTo(r);
        g.fillStyle = "#555";
        const c0 = Math.max(0, Math.floor((v0 / dur()) * n)), c1 = Math.min(n, Math.ceil((v1 / dur()) * n));
        const wCol = Math.max(dpr, (x1 - x0) / Math.max(1, c1 - c0));
        for (let c = c0; c < c1; c++) {
          const lo = wave[2 * c] / peak, hi = wave[2 * c + 1] / peak;
          g.fillRect(xOf((c / n) * dur()), mid - hi * amp, wCol, Math.max(dpr, (hi - lo) * amp));
        }
        g.restore();
        g.fillStyle = "#444"; g.fillText("wave", x0 - 4 * dpr, mid + 4 * dpr);
      } else if (r.name === "spectrogram") {
        g.fillStyle = "#000"; g.fillRect(x0, r.y, x1 - x0, r.h);
        if (spec) {
          clipTo(r);
          g.imageSmoothingEnabled = true;
          g.drawImage(spec, 0, 0, spec.width, spec.height, xOf(0), r.y, xOf(model.get("spec_end_s")) - xOf(0), r.h);
          g.restore();
        }
        g.fillStyle = "#444";
        const top = model.get("spec_top_khz");
        for (let k = 0; k <= top; k += 2) g.fillText(`${k}`, x0 - 4 * dpr, r.y + r.h - (k / top) * r.h + 4 * dpr);
        g.save(); g.translate(10 * dpr, r.y + r.h / 2); g.rotate(-Math.PI / 2); g.textAlign = "center";
        g.fillText("kHz", 0, 0); g.restore();
      } else if (r.name === "labels") {
        g.fillStyle = "#f3f3f3"; g.fillRect(x0, r.y, x1 - x0, r.h);
        clipTo(r);
        g.fillStyle = "rgba(44, 160, 44, 0.75)";
        for (const [a, b] of model.get("label_spans")) g.fillRect(xOf(a), r.y + 3 * dpr, Math.max(dpr, xOf(b) - xOf(a)), r.h - 6 * dpr);
        g.restore();
        g.fillStyle = "#444"; g.fillText("label", x0 - 4 * dpr, r.y + r.h / 2 + 4 * dpr);
      } else {
        const yOf = (p) => r.y + (1 - p) * r.h;
        g.strokeStyle = "#ddd"; g.lineWidth = dpr; g.strokeRect(x0, r.y, x1 - x0, r.h);
        g.fillStyle = "#444";
        for (const p of [0, 0.5, 1]) g.fillText(p.toFixed(1), x0 - 4 * dpr, yOf(p) + 4 * dpr);
        clipTo(r);
        g.strokeStyle = "#1f77b4"; g.lineWidth = 1.5 * dpr; g.beginPath();
        for (let i = 0; i < probs.length; i++) (i ? g.lineTo : g.moveTo).call(g, xOf(times[i]), yOf(probs[i]));
        g.stroke();
        g.restore();
        g.setLineDash([6 * dpr, 4 * dpr]); g.strokeStyle = "#555"; g.lineWidth = dpr;
        g.beginPath(); g.moveTo(x0, yOf(th)); g.lineTo(x1, yOf(th)); g.stroke(); g.setLineDash([]);
        g.textAlign = "left"; g.fillText(`threshold ${th.toFixed(2)}`, x0 + 4 * dpr, yOf(th) - 3 * dpr);
      }
    }
    const all = { y: rows[0].y, h: layout.axisY - 6 * dpr - rows[0].y };
    clipTo(all);
    for (const [a, b, name, color] of model.get("regions")) {
      g.globalAlpha = 0.25; g.fillStyle = color;
      g.fillRect(xOf(a), all.y, xOf(b) - xOf(a), all.h);
      g.globalAlpha = 1; g.textAlign = "center"; g.font = `bold ${11 * dpr}px sans-serif`;
      g.fillText(name, (xOf(a) + xOf(b)) / 2, rows[0].y + 12 * dpr);
    }
    g.font = `${11 * dpr}px sans-serif`;
    const shown = triggerTimes();
    g.strokeStyle = "#d62728"; g.lineWidth = 1.5 * dpr;
    for (const t of shown) { g.beginPath(); g.moveTo(xOf(t), all.y); g.lineTo(xOf(t), all.y + all.h); g.stroke(); }
    g.restore();
    root.dataset.triggers = JSON.stringify(shown.map((t) => +t.toFixed(4)));
    root.dataset.kernelTriggers = JSON.stringify(model.get("triggers").map((t) => +t.toFixed(4)));
    root.dataset.regions = JSON.stringify(model.get("regions").map(([a, b, name]) => [name, +a.toFixed(3), +b.toFixed(3)]));
    // the time axis: about one tick per 80 CSS px, at 1-2-5 steps
    const step = niceStep(v1 - v0, (x1 - x0) / (80 * dpr));
    g.fillStyle = "#444"; g.textAlign = "center";
    for (let t = Math.ceil(v0 / step - 1e-9) * step; t <= v1 + 1e-9; t += step) {
      g.fillRect(xOf(t) - dpr / 2, layout.axisY - 6 * dpr, dpr, 4 * dpr);
      g.fillText(`${+t.toFixed(3)} s`, xOf(t), layout.axisY + 8 * dpr);
    }
    root.dataset.drawnThreshold = th.toFixed(4);
    root.dataset.drawnAt = String(performance.now());
  }

  function frame() {
    const { W, H, dpr } = fit();
    let t = audio.currentTime || model.get("position_s") || 0;
    // playing past the view's edge turns the page, as a score follows the music
    if (!audio.paused && layout && (t > view[1] || t < view[0]) && view[1] - view[0] < dur() - 1e-6) {
      const span = view[1] - view[0];
      view = [Math.max(0, Math.min(dur() - span, t - 0.05 * span)), 0];
      view[1] = view[0] + span;
      root.dataset.view = `${view[0].toFixed(3)},${view[1].toFixed(3)}`;
      base = null;
    }
    if (!base || base.width !== W || base.height !== H) drawBase(W, H, dpr);
    const g = canvas.getContext("2d");
    g.drawImage(base, 0, 0);
    const xAt = (tt) => layout.x0 + ((tt - layout.v0) / (layout.v1 - layout.v0)) * (layout.x1 - layout.x0);
    g.save(); g.beginPath(); g.rect(layout.x0, 0, layout.x1 - layout.x0, H); g.clip();
    if (sel) {
      g.fillStyle = "rgba(0, 183, 255, 0.18)";
      g.fillRect(xAt(sel[0]), layout.rows[0].y, xAt(sel[1]) - xAt(sel[0]), layout.axisY - layout.rows[0].y);
      if (!audio.paused && audio.currentTime >= sel[1]) audio.pause();
    }
    root.dataset.selection = sel ? `${sel[0].toFixed(3)},${sel[1].toFixed(3)}` : "";
    t = audio.currentTime || model.get("position_s") || 0;
    const x = xAt(Math.min(t, dur()));
    g.fillStyle = "#00b7ff"; g.fillRect(x - dpr, layout.rows[0].y, 2 * dpr, layout.axisY - layout.rows[0].y);
    g.restore();
    root.dataset.position = t.toFixed(3);
    root.dataset.playheadX = (x / dpr).toFixed(1);
    clock.textContent = `${t.toFixed(2)} / ${dur().toFixed(2)} s`;
    zoomIn.disabled = !sel;
    zoomAll.disabled = view[1] - view[0] >= dur() - 1e-6;
    if (!audio.paused) raf = requestAnimationFrame(frame); else raf = 0;
  }
  const redraw = () => { if (!raf) raf = requestAnimationFrame(frame); };

  // pointer: seek (click or drag), select (shift-drag) and hover readout
  const where = (ev) => {
    const r = canvas.getBoundingClientRect(), dpr = layout.dpr;
    const px = (ev.clientX - r.left) * dpr, py = (ev.clientY - r.top) * dpr;
    // the view now, not the one last drawn: a click right after a zoom lands where the new axis puts it
    const t = Math.max(0, Math.min(dur(), view[0] + ((px - layout.x0) / (layout.x1 - layout.x0)) * (view[1] - view[0])));
    const row = layout.rows.find((rr) => py >= rr.y && py <= rr.y + rr.h);
    return { t, row, py };
  };
  const seek = (t) => {
    audio.currentTime = t;
    model.set("position_s", t); model.save_changes();
    redraw();
  };
  let anchor = 0;
  canvas.addEventListener("pointerdown", (ev) => {
    canvas.setPointerCapture(ev.pointerId);
    const { t } = where(ev);
    if (ev.shiftKey) { selecting = true; anchor = t; sel = [t, t]; } else { dragging = true; sel = null; }
    seek(t);
  });
  canvas.addEventListener("pointerup", (ev) => {
    dragging = selecting = false;
    canvas.releasePointerCapture(ev.pointerId);
    if (sel && sel[1] - sel[0] < 0.02) sel = null; // a shift-click alone selects nothing
    redraw();
  });
  canvas.addEventListener("pointermove", (ev) => {
    const { t, row, py } = where(ev);
    if (dragging) seek(t);
    if (selecting) { sel = [Math.min(anchor, t), Math.max(anchor, t)]; seek(sel[0]); }
    let value = "";
    if (row && row.name === "spectrogram") {
      const khz = ((row.y + row.h - py) / row.h) * model.get("spec_top_khz");
      value = ` · ${khz.toFixed(1)} kHz`;
      const [rows, cols] = model.get("spec_shape");
      const c = Math.floor((t / model.get("spec_end_s")) * cols);
      const rIdx = Math.round((khz / model.get("spec_top_khz")) * (rows - 1));
      if (spec && c >= 0 && c < cols) {
        const u8 = new Uint8Array(model.get("spec").buffer, model.get("spec").byteOffset);
        const [lo, hi] = model.get("spec_db");
        value += ` · ${(lo + (u8[rIdx * cols + c] / 255) * (hi - lo)).toFixed(0)} dB`;
      }
    } else if (row && row.name === "probabilities" && times.length) {
      let i = 0;
      while (i + 1 < times.length && times[i + 1] <= t) i++;
      value = ` · p(activate) = ${probs[i].toFixed(3)}`;
    } else if (row && row.name === "labels") {
      value = model.get("label_spans").some(([a, b]) => t >= a && t < b) ? " · label 1" : " · label 0";
    } else if (row && row.name === "waveform" && wave.length) {
      const c = Math.min(wave.length / 2 - 1, Math.floor((t / dur()) * (wave.length / 2)));
      value = ` · amplitude ${wave[2 * c].toFixed(3)} to ${wave[2 * c + 1].toFixed(3)}`;
    }
    hover.textContent = `t = ${t.toFixed(3)} s${value}` + (sel ? ` · selected ${sel[0].toFixed(2)}–${sel[1].toFixed(2)} s` : "");
  });
  canvas.addEventListener("pointerleave", () => { hover.textContent = ""; });
  // zoom: Ctrl or Alt + wheel (and a trackpad's pinch) about the pointer; a sideways wheel pans
  canvas.addEventListener("wheel", (ev) => {
    if (!layout) return;
    const [v0, v1] = view, span = v1 - v0;
    if (ev.ctrlKey || ev.altKey) {
      ev.preventDefault();
      const { t } = where(ev), f = Math.exp(ev.deltaY * 0.002);
      const next = Math.min(dur(), Math.max(MIN_SPAN_S, span * f));
      setView(t - ((t - v0) * next) / span, t - ((t - v0) * next) / span + next);
    } else if (Math.abs(ev.deltaX) > Math.abs(ev.deltaY) && span < dur() - 1e-6) {
      ev.preventDefault();
      const dt = (ev.deltaX / (canvas.clientWidth || 600)) * span;
      setView(v0 + dt, v1 + dt);
    }
  }, { passive: false });
  canvas.addEventListener("dblclick", () => setView(0, dur()));
  zoomIn.onclick = () => { if (sel) setView(sel[0], sel[1]); };
  zoomAll.onclick = () => setView(0, dur());

  play.onclick = () => {
    if (!audio.paused) return audio.pause();
    if (sel && (audio.currentTime < sel[0] || audio.currentTime >= sel[1] - 1e-3)) audio.currentTime = sel[0];
    audio.play();
  };
  play.title = "Click the picture to seek; shift-drag to select a region, then Play plays only it";
  audio.addEventListener("play", () => { play.textContent = "❚❚ Pause"; model.set("playing", true); model.save_changes(); redraw(); });
  audio.addEventListener("pause", () => {
    play.textContent = "▶ Play";
    model.set("playing", false); model.set("position_s", audio.currentTime); model.save_changes(); redraw();
  });
  audio.addEventListener("ended", () => redraw());
  audio.addEventListener("seeked", () => redraw());

  model.on("change:value", () => { loadClip(); redraw(); });
  for (const name of ["probs", "prob_times", "threshold", "triggers", "label_spans", "has_labels", "regions",
    "wave", "fire_in_browser", "patience", "refractory"])
    model.on(`change:${name}`, () => { if (name === "wave") wave = f32(model.get("wave")); loadOverlays(); redraw(); });
  model.on("change:position_s", () => {
    const t = model.get("position_s");
    if (Math.abs(audio.currentTime - t) > 0.05) { audio.currentTime = t; redraw(); }
  });
  const resize = new ResizeObserver(() => { base = null; redraw(); });
  resize.observe(canvas);
  window.addEventListener("resize", redraw);

  loadClip();
  redraw();
  return () => { cancelAnimationFrame(raf); resize.disconnect(); audio.pause(); if (url) URL.revokeObjectURL(url); };
}

export default { render };
