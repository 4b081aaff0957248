#include "weighlink/agent/page.hpp"

namespace weighlink::agent {

// Kept small on purpose: the live socket and the local API do the work, the page only shows it.
std::string_view operator_page_html() {
  static constexpr std::string_view kPage = R"html(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>weighlink</title>
<style>
  body { font-family: system-ui, sans-serif; margin: 0; background: #111; color: #eee; }
  header { display: flex; gap: 1.5rem; padding: .6rem 1rem; background: #222; font-size: 1.1rem; }
  .badge { padding: .1rem .6rem; border-radius: .3rem; font-weight: 600; }
  .online { background: #1b5e20; } .offline { background: #b71c1c; } .disabled { background: #555; }
  .connecting { background: #8d6e00; }
  main { display: flex; flex-wrap: wrap; gap: 1rem; padding: 1rem; }
  .scale { background: #1c1c1c; border: 4px solid #444; border-radius: .6rem; padding: 1rem 1.5rem;
           min-width: 28rem; }
  .scale.stable { border-color: #2e7d32; } .scale.motion { border-color: #f9a825; }
  .scale.stale { border-color: #c62828; opacity: .75; }
  .weight { font-size: 6rem; font-variant-numeric: tabular-nums; text-align: right; }
  .unit { font-size: 2rem; margin-left: .5rem; }
  .state { font-size: 1.6rem; font-weight: 700; letter-spacing: .1em; }
  button { font-size: 1.3rem; padding: .5rem 1.5rem; margin-top: .8rem; }
  #msg { padding: 0 1rem; }
</style>
</head>
<body>
<header>
  <span>weighlink <span id="station"></span></span>
  <span>uplink <span id="uplink" class="badge disabled">-</span></span>
  <span>queued <span id="pending">-</span></span>
  <span>dead letters <span id="dead">-</span></span>
</header>
<main id="scales"></main>
<p id="msg"></p>
<script>
"use strict";
const scales = new Map();
function card(id) {
  if (scales.has(id)) return scales.get(id);
  const el = document.createElement("section");
  el.className = "scale stale";
  el.innerHTML = `<div class="name"></div><div><span class="weight">----</span><span class="unit"></span></div>
    <div class="state">NO DATA</div><button>Capture</button>`;
  el.querySelector(".name").textContent = "Scale " + id;
  el.querySelector("button").onclick = () => capture(id);
  document.getElementById("scales").appendChild(el);
  scales.set(id, el);
  return el;
}
function showReading(r) {
  const el = card(r.scale);
  el.querySelector(".weight").textContent = r.weight;
  el.querySelector(".unit").textContent = r.unit;
  const state = r.stale ? "stale" : (r.stable ? "stable" : "motion");
  el.className = "scale " + state;
  el.querySelector(".state").textContent = r.stale ? "STALE - NO SIGNAL" : (r.stable ? "STABLE" : "MOTION");
}
function showStatus(s) {
  document.getElementById("station").textContent = s.station_id;
  const u = document.getElementById("uplink");
  u.textContent = s.uplink.state; u.className = "badge " + s.uplink.state;
  document.getElementById("pending").textContent = s.outbox.pending;
  document.getElementById("dead").textContent = s.outbox.dead;
  for (const sc of s.scales) card(sc.id);
}
async function capture(id) {
  const key = crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random();
  const res = await fetch("/v1/captures", {method: "POST",
    headers: {"Content-Type": "application/json", "Idempotency-Key": key},
    body: JSON.stringify({scale: id})});
  const body = await res.json();
  document.getElementById("msg").textContent = res.ok
    ? `Captured ${body.weighing.weight} ${body.weighing.unit} (seq ${body.seq})`
    : `Not captured: ${body.message}`;
}
function connect() {
  const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/v1/live");
  ws.onmessage = (ev) => {
    const m = JSON.parse(ev.data);
    if (m.type === "reading") showReading(m);
    else if (m.type === "status") showStatus(m);
  };
  ws.onclose = () => { for (const el of scales.values()) { el.className = "scale stale";
    el.querySelector(".state").textContent = "AGENT NOT REACHABLE"; } setTimeout(connect, 1000); };
}
connect();
</script>
</body>
</html>
)html";
  return kPage;
}

}  // namespace weighlink::agent
