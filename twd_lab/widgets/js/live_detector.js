// LiveDetector's browser side (anywidget ES module): microphone capture through an AudioWorklet, 16-bit
// PCM chunks to the kernel, a scrolling spectrogram and probability trace, a flash and the chime on firing.
// (hidpiCanvas and h come from _common.js, which twd_lab.widgets._anywidget.esm puts before this module)

const WINDOW_S = 8; // seconds shown in the scrolling views
const CHUNK_S = 0.1; // seconds of audio per message to the kernel

function micErrorKind(err) {
  const name = (err && err.name) || "";
  if (name === "NotAllowedError" || name === "SecurityError" || name === "PermissionDeniedError") return "denied";
  if (name === "NotFoundError" || name === "OverconstrainedError" || name === "DevicesNotFoundError") return "missing";
  return "other";
}

const MIC_MESSAGES = {
  denied: "The microphone was denied. Allow it for this page (the camera/microphone icon in the address bar) and press Start again.",
  missing: "No microphone was found. Plug one in (or enable it in the system settings) and press Start again.",
  insecure: "This page is not a secure context (http:// off localhost), so the browser offers no microphone. Open the notebook over https:// or on localhost.",
};

function render({ model, el }) {
  const root = h("div", { class: "twd-live" });
  const start = h("button", { class: "twd-start" }, "Start");
  const keep = h("button", { class: "twd-keep", title: "Save the audio of this take as a WAV and an array" }, "Keep this take");
  const choose = h("select", { class: "twd-detector" });
  const thr = h("input", { type: "range", min: "0.01", max: "0.99", step: "0.01", class: "twd-threshold" });
  const thrOut = h("span", { class: "twd-threshold-value" });
  const pat = h("input", { type: "number", min: "1", max: "200", class: "twd-patience" });
  const ref = h("input", { type: "number", min: "0", max: "2000", class: "twd-refractory" });
  const msg = h("div", { class: "twd-message", role: "status" });
  const stats = h("div", { class: "twd-stats" });
  const canvas = h("canvas", { class: "twd-live-canvas" });
  const label = (text, input) => h("label", {}, text, input);
  root.append(
    h("div", { class: "twd-row" }, start, label("detector ", choose), label("threshold ", thr), thrOut,
      label("patience ", pat), label("refractory ", ref), keep),
    msg, canvas, stats);
  el.append(root);

  // ---- controls <-> traits
  const syncControls = () => {
    choose.replaceChildren(...model.get("detector_options").map((o) => h("option", { value: o }, o)));
    choose.value = model.get("detector_name");
    thr.value = model.get("threshold");
    thrOut.textContent = Number(model.get("threshold")).toFixed(2);
    pat.value = model.get("patience");
    ref.value = model.get("refractory");
    const step = model.get("step_ms");
    pat.title = ref.title = `in the detector's steps of ${step} ms`;
  };
  syncControls();
  for (const name of ["detector_options", "detector_name", "threshold", "patience", "refractory", "step_ms"])
    model.on(`change:${name}`, syncControls);
  const set = (name, value) => { model.set(name, value); model.save_changes(); };
  choose.onchange = () => set("detector_name", choose.value);
  thr.oninput = () => { thrOut.textContent = Number(thr.value).toFixed(2); };
  thr.onchange = () => set("threshold", Number(thr.value));
  pat.onchange = () => set("patience", Math.max(1, Math.round(Number(pat.value))));
  ref.onchange = () => set("refractory", Math.max(0, Math.round(Number(ref.value))));
  const showMessage = () => {
    msg.textContent = model.get("message");
    msg.classList.toggle("twd-error", !!model.get("mic_error") || /^error/.test(model.get("message")));
  };
  showMessage();
  // what a test (or a curious student's dev tools) can read from the page
  const showTriggers = () => { root.dataset.triggers = JSON.stringify(model.get("triggers")); };
  showTriggers();
  model.on("change:triggers", showTriggers);
  model.on("change:message", showMessage);
  model.on("change:mic_error", showMessage);

  // ---- audio state
  let ctx = null, media = null, node = null, analyser = null, chime = null;
  let seq = 0, firstChunkAt = 0, sampleRate = 0, flashUntil = 0, chimes = 0;
  const probs = []; // [time_s, p]
  const fired = []; // [time_s, score]
  const timeNow = () => (firstChunkAt ? (performance.now() - firstChunkAt) / 1000 + CHUNK_S : 0);

  const micError = (kind, detail) => {
    model.set("mic_error", kind);
    model.set("message", MIC_MESSAGES[kind] || `The microphone could not start: ${detail}`);
    model.save_changes();
    root.dataset.micError = kind;
  };

  async function startMic() {
    if (media) return;
    if (!window.isSecureContext) return micError("insecure");
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) return micError("missing");
    try {
      media = await navigator.mediaDevices.getUserMedia({
        audio: { channelCount: 1, echoCancellation: false, noiseSuppression: false, autoGainControl: false },
      });
    } catch (err) {
      media = null;
      return micError(micErrorKind(err), String(err));
    }
    ctx = new AudioContext();
    await ctx.resume();
    if (ctx.state !== "running") {
      model.set("message", "Click Start to let the page use sound."); model.save_changes();
    }
    sampleRate = ctx.sampleRate;
    const url = URL.createObjectURL(new Blob([model.get("_worklet")], { type: "text/javascript" }));
    await ctx.audioWorklet.addModule(url);
    URL.revokeObjectURL(url);
    const source = ctx.createMediaStreamSource(media);
    node = new AudioWorkletNode(ctx, "twd-pcm-capture", {
      numberOfOutputs: 1, processorOptions: { chunk: Math.round(sampleRate * CHUNK_S) },
    });
    analyser = ctx.createAnalyser();
    analyser.fftSize = 1024;
    analyser.smoothingTimeConstant = 0;
    const mute = ctx.createGain();
    mute.gain.value = 0; // the worklet is pulled by the destination, but nothing is heard back
    source.connect(node).connect(mute).connect(ctx.destination);
    source.connect(analyser);
    seq = 0; firstChunkAt = 0; probs.length = 0; fired.length = 0;
    model.set("mic_error", ""); model.save_changes();
    root.dataset.micError = "";
    model.send({ kind: "start", sample_rate: sampleRate });
    node.port.onmessage = (e) => {
      if (!firstChunkAt) firstChunkAt = performance.now();
      model.send({ kind: "pcm", seq: seq++ }, undefined, [e.data]);
    };
    const wav = model.get("_chime");
    if (wav && wav.byteLength) {
      const copy = wav.buffer.slice(wav.byteOffset, wav.byteOffset + wav.byteLength);
      ctx.decodeAudioData(copy).then((b) => { chime = b; }, () => { chime = null; });
    }
    start.textContent = "Stop";
    root.classList.add("twd-running");
  }

  function stopMic() {
    if (!media) return;
    media.getTracks().forEach((tr) => tr.stop());
    if (node) node.port.onmessage = null;
    ctx.close();
    media = ctx = node = analyser = null;
    model.send({ kind: "stop" });
    start.textContent = "Start";
    root.classList.remove("twd-running");
  }

  start.onclick = () => (media ? stopMic() : startMic());
  keep.onclick = () => model.send({ kind: "keep" });

  model.on("msg:custom", (m, buffers) => {
    if (m.kind !== "probs") return;
    const p = new Float32Array(buffers[0].buffer, buffers[0].byteOffset, buffers[0].byteLength / 4);
    const t = new Float32Array(buffers[1].buffer, buffers[1].byteOffset, buffers[1].byteLength / 4);
    for (let i = 0; i < p.length; i++) probs.push([t[i], p[i]]);
    const keepFrom = timeNow() - WINDOW_S - 1;
    while (probs.length && probs[0][0] < keepFrom) probs.shift();
    for (const f of m.fired) {
      fired.push([f.time_s, f.score]);
      flashUntil = performance.now() + 400;
      if (ctx && chime) {
        const src = ctx.createBufferSource();
        src.buffer = chime;
        src.connect(ctx.destination);
        src.start();
      }
      chimes += 1;
      root.dataset.chimes = String(chimes);
      requestAnimationFrame(() => {
        // latency: when the trigger's audio was heard (its decided time on the capture clock) to flash drawn
        const heardAt = firstChunkAt - CHUNK_S * 1000 + f.time_s * 1000;
        const ms = Math.max(0, performance.now() - heardAt);
        model.set("latency_ms", Math.round(ms)); model.save_changes();
        root.dataset.latencyMs = String(Math.round(ms));
      });
    }
  });

  // ---- drawing: spectrogram (from the analyser) and probability trace, scrolling
  const spec = document.createElement("canvas"); // a ring of columns, one per animation frame
  let specX = 0, lastT = 0, raf = 0;
  const bins = new Uint8Array(512);
  const fit = hidpiCanvas(canvas, 260);

  function drawColumn(g, W, H) {
    const t = timeNow();
    const x = Math.floor(((t % WINDOW_S) / WINDOW_S) * W);
    if (!analyser) { lastT = t; specX = x; return; }
    analyser.getByteFrequencyData(bins);
    const maxBin = Math.min(bins.length, Math.round((8000 / (sampleRate / 2)) * bins.length)); // up to 8 kHz
    const cols = (x - specX + W) % W || 1;
    for (let c = 0; c < Math.min(cols, W); c++) {
      const xx = (specX + c) % W;
      for (let y = 0; y < H; y++) {
        const v = bins[Math.floor(((H - 1 - y) / H) * maxBin)];
        g.fillStyle = `rgb(${v},${Math.round(v * 0.55)},${Math.round(80 + v * 0.4)})`;
        g.fillRect(xx, y, 1, 1);
      }
    }
    specX = x; lastT = t;
  }

  function frame() {
    raf = requestAnimationFrame(frame);
    const { W, H, dpr } = fit();
    const specH = Math.round(H * 0.55), traceTop = specH + 4 * dpr, traceH = H - traceTop - 16 * dpr;
    if (spec.width !== W || spec.height !== specH) {
      spec.width = W; spec.height = specH; specX = 0;
      const sg = spec.getContext("2d");
      sg.fillStyle = "rgb(0,0,80)"; // silence, in the colours of drawColumn
      sg.fillRect(0, 0, W, specH);
    }
    drawColumn(spec.getContext("2d"), W, specH);
    const g = canvas.getContext("2d");
    g.fillStyle = "#fff"; g.fillRect(0, 0, W, H);
    // the ring shown oldest to newest: the newest column sits at the right edge
    const split = specX;
    g.drawImage(spec, split, 0, W - split, specH, 0, 0, W - split, specH);
    g.drawImage(spec, 0, 0, split, specH, W - split, 0, split, specH);
    const now = media ? timeNow() : lastT;
    const xOf = (ts) => W - ((now - ts) / WINDOW_S) * W;
    const yOf = (p) => traceTop + (1 - p) * traceH;
    g.strokeStyle = "#ddd"; g.lineWidth = dpr; g.strokeRect(0, traceTop, W, traceH);
    const th = Number(model.get("threshold"));
    g.setLineDash([6 * dpr, 4 * dpr]); g.strokeStyle = "#888";
    g.beginPath(); g.moveTo(0, yOf(th)); g.lineTo(W, yOf(th)); g.stroke(); g.setLineDash([]);
    g.strokeStyle = "#1f77b4"; g.lineWidth = 2 * dpr; g.beginPath();
    probs.forEach(([ts, p], i) => (i ? g.lineTo(xOf(ts), yOf(p)) : g.moveTo(xOf(ts), yOf(p))));
    g.stroke();
    g.strokeStyle = "#d62728"; g.lineWidth = 2 * dpr;
    for (const [ts] of fired) {
      const x = xOf(ts);
      if (x < 0) continue;
      g.beginPath(); g.moveTo(x, 0); g.lineTo(x, traceTop + traceH); g.stroke();
    }
    g.fillStyle = "#333"; g.font = `${11 * dpr}px sans-serif`;
    g.textAlign = "right";
    const below = th > 0.8; // near the top, the label goes under the line
    g.fillText(`threshold ${th.toFixed(2)}`, W - 4 * dpr, yOf(th) + (below ? 13 : -3) * dpr);
    for (let s = 0; s <= WINDOW_S; s += 2) { // seconds ago, under the trace
      const x = W - (s / WINDOW_S) * W;
      g.fillRect(x - dpr, traceTop + traceH, dpr, 4 * dpr);
      g.fillText(s ? `−${s} s` : "now", Math.max(30 * dpr, x - 3 * dpr), H - 3 * dpr);
    }
    g.textAlign = "left";
    g.fillText("p(activate)", 4 * dpr, traceTop + 12 * dpr);
    g.fillStyle = "#fff";
    g.fillText("spectrogram 0–8 kHz", 4 * dpr, 12 * dpr);
    if (performance.now() < flashUntil) {
      g.fillStyle = "rgba(255, 200, 0, 0.45)"; g.fillRect(0, 0, W, H);
      g.fillStyle = "#b00"; g.font = `bold ${28 * dpr}px sans-serif`;
      g.fillText("activate!", W / 2 - 60 * dpr, specH / 2);
    }
    root.classList.toggle("twd-flash", performance.now() < flashUntil);
    const lat = model.get("latency_ms");
    stats.textContent = `heard ${Number(model.get("heard_s")).toFixed(1)} s · ${model.get("triggers").length} trigger(s)` +
      (lat >= 0 ? ` · latency ${lat} ms (audio heard → flash drawn)` : "") +
      ` · ${model.get("n_takes")} take(s) kept`;
  }
  frame();

  if (model.get("autostart")) startMic();
  return () => { cancelAnimationFrame(raf); stopMic(); };
}

export default { render };
