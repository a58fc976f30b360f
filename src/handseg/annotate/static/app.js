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
  const counts = { accept: 0, reject: 0 };
  state.ids.forEach((fid, k) => {
    const cell = $("strip").children[k];
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
  state.index = Math.min(Math.max(state.index + step, 0), state.ids.length - 1);
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
  state.ids.forEach((id, k) => {
    const cell = document.createElement("span");
    cell.title = id;
    cell.addEventListener("click", () => { state.index = k; render(); });
    strip.appendChild(cell);
  });
  const firstOpen = state.ids.findIndex((id) => !state.decisions[id]);
  state.index = firstOpen >= 0 ? firstOpen : 0;
  render();
  document.body.dataset.ready = "1";
}

start();
