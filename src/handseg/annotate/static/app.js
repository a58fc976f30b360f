// handseg review page: shows one frame at a time; a/r accept/reject (saved at once), n/p or arrows move.
"use strict";

const state = { ids: [], decisions: {}, index: 0, pending: 0 };
// The server's per-run token, embedded in the page; POSTs without it are refused (no cross-site writes).
const TOKEN = (document.querySelector('meta[name="handseg-token"]') || {}).content || "";

function $(id) { return document.getElementById(id); }

function render() {
  const id = state.ids[state.index];
  const decision = state.decisions[id] || "";
  $("position").textContent = `${state.index + 1} / ${state.ids.length}`;
  $("frame-id").textContent = id;
  const badge = $("decision");
  badge.textContent = decision ? decision + "ed" : "not reviewed";
  badge.className = "badge " + decision;
  badge.dataset.decision = decision;
  document.body.dataset.frame = id;
  $("overlay").src = `/img/overlay/${encodeURIComponent(id)}.png`;
  showFrame(id);
  const counts = { accept: 0, reject: 0 };
  state.ids.forEach((fid, k) => {
    const cell = $("strip").children[state.order ? state.order.indexOf(k) : k];
    const d = state.decisions[fid] || "";
    if (d) counts[d] += 1;
    cell.className = d + (k === state.index ? " current" : "");
  });
  const open = state.ids.length - counts.accept - counts.reject;
  $("counts").textContent = `${counts.accept} accepted, ${counts.reject} rejected, ${open} to review`;
  if (state.index + 1 < state.ids.length) {  // preload the next frame
    new Image().src = `/img/overlay/${encodeURIComponent(state.ids[state.index + 1])}.png`;
  }
}

function move(step) {
  // Steps follow the chosen order (file order, or highest risk first).
  const order = state.order || state.ids.map((_, k) => k);
  const at = Math.min(Math.max(order.indexOf(state.index) + step, 0), order.length - 1);
  state.index = order[at];
  render();
}

async function decide(decision) {
  const id = state.ids[state.index];
  const status = $("save-status");
  state.pending += 1;
  status.textContent = "saving...";
  status.className = "";
  try {
    const response = await fetch("/api/decision", {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-Handseg-Token": TOKEN },
      body: JSON.stringify({ id: id, decision: decision }),
    });
    if (!response.ok) throw new Error(`server answered ${response.status}`);
    const reply = await response.json();
    if (reply.decision) state.decisions[id] = reply.decision; else delete state.decisions[id];
    state.pending -= 1;
    status.textContent = state.pending ? "saving..." : "saved";
    document.body.dataset.saved = String(Number(document.body.dataset.saved || 0) + 1);
  } catch (err) {
    state.pending -= 1;
    status.textContent = `NOT SAVED (${err.message}) - is the server running?`;
    status.className = "error";
  }
  render();
}

document.addEventListener("keydown", (event) => {
  if (event.ctrlKey || event.altKey || event.metaKey) return;
  const key = event.key;
  if (key === "a") { decide("accept"); move(1); }
  else if (key === "r") { decide("reject"); move(1); }
  else if (key === "u") { decide(null); }
  else if (key === "n" || key === "ArrowRight") move(1);
  else if (key === "p" || key === "ArrowLeft") move(-1);
  else return;
  event.preventDefault();
});

async function start() {
  const response = await fetch("/api/frames");
  const data = await response.json();
  state.ids = data.ids;
  state.decisions = data.decisions;
  $("dataset").textContent = data.dataset;
  const strip = $("strip");
  buildStrip();
  await loadDiagnostics();
  setupControls();
  const firstOpen = state.ids.findIndex((id) => !state.decisions[id]);
  state.index = firstOpen >= 0 ? firstOpen : 0;
  render();
  document.body.dataset.ready = "1";
}

start();

// --- on-screen controls, label opacity, zoom, diagnostics and risk order ---

function buildStrip() {
  const strip = $("strip");
  strip.textContent = "";
  const order = state.order || state.ids.map((_, k) => k);
  order.forEach((k) => {
    const cell = document.createElement("span");
    cell.title = state.ids[k];
    cell.addEventListener("click", () => { state.index = k; render(); });
    strip.appendChild(cell);
  });
}

async function loadDiagnostics() {
  state.diag = { columns: [], frames: {} };
  try {
    const response = await fetch("/api/diagnostics");
    if (response.ok) state.diag = await response.json();
  } catch (err) { /* an older server: no diagnostics */ }
}

function setOrder(kind) {
  const ids = state.ids.map((_, k) => k);
  const risk = (k) => (state.diag.frames[state.ids[k]] || {}).risk || 0;
  state.order = kind === "risk" ? ids.sort((a, b) => risk(b) - risk(a) || a - b) : null;
  document.body.dataset.order = kind;
  buildStrip();
  render();
}

function showDiagnostics(id) {
  const entry = state.diag.frames[id];
  const table = $("diag-table");
  table.textContent = "";
  const risk = $("risk");
  if (!entry) { risk.textContent = "no diagnostics.csv row for this frame"; risk.className = ""; return; }
  risk.textContent = entry.reasons.length ? `risk ${entry.risk}: ${entry.reasons.join(", ")}` : "risk 0: nothing unusual";
  risk.className = entry.risk >= 2 ? "high" : "";
  for (const [key, value] of Object.entries(entry.values)) {
    const row = table.insertRow();
    row.insertCell().textContent = key;
    row.insertCell().textContent = typeof value === "number" ? String(Math.round(value * 1000) / 1000) : value;
  }
}

function loadImage(url) {
  return new Promise((resolve) => {
    const image = new Image();
    image.onload = () => resolve(image);
    image.onerror = () => resolve(null);
    image.src = url;
  });
}

async function showFrame(id) {
  showDiagnostics(id);
  const name = encodeURIComponent(id);
  const [base, labels] = await Promise.all([
    loadImage(`/img/color/${name}.png`).then((img) => img || loadImage(`/img/depth/${name}.png`)),
    loadImage(`/img/label/${name}.png`),
  ]);
  if (id !== state.ids[state.index] || !base) return;  // the user moved on meanwhile
  state.images = { base, labels };
  drawMix();
}

function drawMix() {
  // Labels (black = background) blended over the raw image at the slider's opacity; 0 shows the raw image.
  const { base, labels } = state.images || {};
  if (!base) return;
  const canvas = $("mix");
  const zoom = Number($("zoom").value);
  canvas.width = base.naturalWidth;
  canvas.height = base.naturalHeight;
  canvas.style.width = `${base.naturalWidth * zoom}px`;
  const ctx = canvas.getContext("2d");
  ctx.drawImage(base, 0, 0);
  const alpha = Number($("opacity").value) / 100;
  if (labels && alpha > 0 && labels.naturalWidth === base.naturalWidth) {
    const scratch = document.createElement("canvas");
    scratch.width = labels.naturalWidth;
    scratch.height = labels.naturalHeight;
    const sctx = scratch.getContext("2d");
    sctx.drawImage(labels, 0, 0);
    const lab = sctx.getImageData(0, 0, scratch.width, scratch.height).data;
    const out = ctx.getImageData(0, 0, canvas.width, canvas.height);
    const px = out.data;
    for (let i = 0; i < px.length; i += 4) {
      if (lab[i] || lab[i + 1] || lab[i + 2]) {
        for (let c = 0; c < 3; c++) px[i + c] = px[i + c] * (1 - alpha) + lab[i + c] * alpha;
      }
    }
    ctx.putImageData(out, 0, 0);
  }
  document.body.dataset.drawn = state.ids[state.index];
}

function setupControls() {
  $("btn-accept").addEventListener("click", () => { decide("accept"); move(1); });
  $("btn-reject").addEventListener("click", () => { decide("reject"); move(1); });
  $("btn-undo").addEventListener("click", () => decide(null));
  $("btn-prev").addEventListener("click", () => move(-1));
  $("btn-next").addEventListener("click", () => move(1));
  $("opacity").addEventListener("input", () => {
    $("opacity-value").textContent = `${$("opacity").value} %`;
    drawMix();
  });
  $("zoom").addEventListener("change", drawMix);
  $("order").addEventListener("change", () => setOrder($("order").value));
}
