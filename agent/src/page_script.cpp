#include "page_assets.hpp"

namespace weighlink::agent::page {

// The live display: the WebSocket GET /v1/live drives everything on screen (hello, reading,
// status); the page pings it and counts it lost after a silence. Data reaches the DOM only
// through textContent.
std::string_view script_js_core() {
  static constexpr std::string_view kCore = R"js("use strict";
const $ = (selector, root = document) => root.querySelector(selector);
const PING_MS = 2000;      // the socket is pinged this often...
const SILENCE_MS = 6000;   // ...and counted as lost when nothing arrived for this long
const REQUEST_MS = 20000;  // an HTTP request unanswered by then is a network error
const DASH = "\u2013";

const scales = new Map();  // scale id -> what the page knows of it
let live = false;          // socket open and talking
let socket = null;
let lastMessage = 0;
let reconnectDelay = 500;
let deadShown = null;      // dead letters in the list on screen
let deadLoading = false;
const DEAD_LIMIT = 100;

function make(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text != null) e.textContent = String(text);
  return e;
}
function setText(el, text) { el.textContent = text == null ? "" : String(text); }
function setResult(el, kind, text) {
  el.classList.remove("ok", "bad", "warn");
  if (kind) el.classList.add(kind);
  setText(el, text);
}
function age(seconds) {
  if (seconds < 60) return seconds + " s";
  if (seconds < 3600) return Math.floor(seconds / 60) + " min";
  return Math.floor(seconds / 3600) + " h " + Math.floor((seconds % 3600) / 60) + " min";
}

function scale(id) {
  let s = scales.get(id);
  if (s) return s;
  const el = $("#scale-template").content.firstElementChild.cloneNode(true);
  el.dataset.scale = id;
  setText($(".name", el), "Scale " + id);
  s = {id, el, reading: null, status: null, lastSeq: null, skipped: 0, session: null,
       axlesSupported: true, keys: {}, restart: false};
  wireScale(s);
  $("#scales").appendChild(el);
  scales.set(id, s);
  renderReading(s);
  renderSession(s);
  return s;
}

function stateOf(s) {
  const r = s.reading;
  if (!live) return "offline";
  if (!r) return "nodata";
  if (r.stale) return "stale";
  if (r.overload || r.underload) return "range";
  return r.stable ? "stable" : "motion";
}
const STATE_TEXT = {stable: "STABLE", motion: "MOTION", stale: "STALE \u2014 NO SIGNAL",
                    nodata: "NO DATA", offline: "NOT LIVE"};

function renderReading(s) {
  const el = s.el, r = s.reading, state = stateOf(s);
  el.dataset.state = state;
  setText($(".state-text", el), state === "range"
    ? (r.overload ? "OVERLOAD" : "UNDERLOAD") : STATE_TEXT[state]);
  setText($(".weight", el), r ? r.weight : DASH.repeat(5));
  setText($(".unit", el), r ? r.unit : "");
  const decks = r && Array.isArray(r.decks) ? r.decks : [];
  setText($(".label", el), decks.length ? "GVW" : (r && r.mode === "net" ? "Net" : "Gross"));
  const list = $(".decks", el);
  list.hidden = decks.length === 0;
  list.replaceChildren(...decks.map((d) => {
    const li = make("li", d.stable ? "stable" : "motion");
    const head = make("div", "deck-head");
    head.append(make("span", "", "Deck " + d.index),
                make("span", "deck-state", d.stable ? "STABLE" : "MOTION"));
    const weight = make("div", "deck-weight", d.weight);
    weight.append(make("small", "", r.unit));
    li.append(head, weight);
    return li;
  }));
  const st = s.status;
  setText($(".meta", el), (r && r.protocol) || (st && st.protocol) || "");
  setText($(".skipped", el), s.skipped ? "skipped " + s.skipped : "");
  let detail = "";
  if (!live) detail = "No connection to the agent: the weight shown is not current.";
  else if (st && !st.connected) detail = "Indicator not connected" + (st.detail ? ": " + st.detail : "");
  else if (state === "nodata") detail = "Waiting for the indicator\u2026";
  else if (state === "stale") detail = "No valid frame from the indicator: check its cable and power.";
  else if (r && r.mode === "net" && r.tare) detail = "Tare " + r.tare + " " + r.unit;
  setText($(".detail", el), detail);
}

function onHello(m) {
  setText($("#station"), m.station_id);
  document.title = "weighlink " + m.station_id;
  for (const id of m.scales || []) scale(id).lastSeq = null;
  setLive(true);
  reconnectDelay = 500;
  loadSessions();
  loadDead();
}

function onReading(r) {
  const s = scale(r.scale);
  // A jump in seq means newer readings replaced older ones on the way: normal, just counted.
  if (s.lastSeq != null && r.seq > s.lastSeq + 1) s.skipped += r.seq - s.lastSeq - 1;
  s.lastSeq = r.seq;
  s.reading = r;
  renderReading(s);
}

const UPLINK_CLASS = {online: "ok", connecting: "warn", offline: "bad", disabled: "neutral"};
function onStatus(m) {
  setText($("#station"), m.station_id);
  const up = m.uplink || {};
  const chip = $("#uplink");
  setText(chip, up.state === "disabled" ? "no backend" : up.state || DASH);
  chip.className = "chip " + (UPLINK_CLASS[up.state] || "neutral");
  chip.title = up.last_error || up.backend || "";
  const box = m.outbox || {};
  setText($("#pending"), box.pending ?? DASH);
  setText($("#oldest"), box.oldest_pending_age_s == null ? DASH : age(box.oldest_pending_age_s));
  setText($("#dead"), box.dead ?? DASH);
  $("#dead").classList.toggle("alert", box.dead > 0);
  // The list follows the count; a retried letter refused again keeps the count but not the list.
  if (box.dead != null && Math.min(box.dead, DEAD_LIMIT) !== deadShown && !deadLoading) loadDead();
  for (const sc of m.scales || []) {
    const s = scale(sc.id);
    s.status = sc;
    renderReading(s);
  }
  for (const [id, doc] of Object.entries(m.axle_sessions || {})) setSession(scale(id), doc);
  showNotices(m.app_notices || []);
}

// The web app's refusals and discrepancies, newest first (the app itself shows none).
let noticesShown = "";
function showNotices(list) {
  const text = JSON.stringify(list);
  if (text === noticesShown) return;
  noticesShown = text;
  $("#notices").hidden = list.length === 0;
  $("#notice-rows").replaceChildren(...list.slice().reverse().map((n) => {
    const tr = $("#notice-template").content.firstElementChild.cloneNode(true);
    setText($(".at", tr), new Date(n.at).toLocaleTimeString());
    setText($(".event", tr), n.event);
    setText($(".code", tr), n.code);
    setText($(".message", tr), n.message);
    setText($(".key", tr), n.key);
    return tr;
  }));
}

function setLive(on) {
  live = on;
  document.body.classList.toggle("offline", !on);
  $("#banner").hidden = on;
  const link = $("#link");
  setText(link, on ? "live" : "not reachable");
  link.className = "chip " + (on ? "ok" : "bad");
  for (const s of scales.values()) renderReading(s);
}

function lost(ws) {
  if (socket !== ws) return;
  socket = null;
  ws.onclose = ws.onmessage = null;
  ws.close();
  setLive(false);
  setTimeout(connect, reconnectDelay);
  reconnectDelay = Math.min(reconnectDelay * 2, 5000);
}

function connect() {
  const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") +
                           location.host + "/v1/live");
  socket = ws;
  lastMessage = Date.now();
  ws.onmessage = (event) => {
    lastMessage = Date.now();
    let m;
    try { m = JSON.parse(event.data); } catch (e) { return; }
    if (m.type === "reading") onReading(m);
    else if (m.type === "status") onStatus(m);
    else if (m.type === "hello") onHello(m);
  };
  ws.onclose = () => lost(ws);
}

setInterval(() => {
  const ws = socket;
  if (!ws || ws.readyState !== WebSocket.OPEN) {
    if (ws && Date.now() - lastMessage > SILENCE_MS) lost(ws);  // a connect that hangs
    return;
  }
  if (Date.now() - lastMessage > SILENCE_MS) return lost(ws);  // half-open: nothing comes back
  ws.send(JSON.stringify({type: "ping"}));
}, PING_MS);
)js";
  return kCore;
}

// What the buttons do: captures, axle sessions and dead letters through the local API. A keyed
// POST keeps its Idempotency-Key while its outcome is unknown, so pressing the button again
// repeats the same request and the agent can never record it twice.
std::string_view script_js_actions() {
  static constexpr std::string_view kActions = R"js(
function newKey() {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);  // also outside secure contexts, unlike randomUUID()
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

// {ok, status, body} for a JSON answer; {lost, message} when none came.
async function request(method, path, body, key) {
  const init = {method, headers: {}, cache: "no-store"};
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  if (key) init.headers["Idempotency-Key"] = key;
  if (AbortSignal.timeout) init.signal = AbortSignal.timeout(REQUEST_MS);
  let res;
  try {
    res = await fetch(path, init);
  } catch (e) {
    return {lost: true, message: "the agent did not answer"};
  }
  let data = null;
  try { data = await res.json(); } catch (e) { data = null; }
  if (!data || typeof data !== "object") {
    return {lost: true, message: "unexpected answer (HTTP " + res.status + ")"};
  }
  return {ok: res.ok, status: res.status, body: data};
}

async function keyedPost(s, slot, path, body) {
  const key = s.keys[slot] || (s.keys[slot] = newKey());
  const r = await request("POST", path, body, key);
  const unknown = r.lost || (r.status === 409 && r.body.error === "idempotency_key_in_progress");
  if (!unknown) delete s.keys[slot];
  return r;
}

function refusal(r) {
  if (r.lost) return "No answer: " + r.message + ". Press again to retry: it is never recorded twice.";
  return r.body.message || r.body.error || "HTTP " + r.status;
}

// Runs `work` for a button once at a time; the button keeps its focus meanwhile.
async function busy(button, work) {
  if (button.getAttribute("aria-busy") === "true") return;
  button.setAttribute("aria-busy", "true");
  button.classList.add("busy");
  try { await work(); } finally {
    button.removeAttribute("aria-busy");
    button.classList.remove("busy");
  }
}

async function capture(s) {
  const out = $(".capture-result", s.el);
  setResult(out, "warn", "Capturing\u2026 waiting for a stable weight");
  const r = await keyedPost(s, "capture", "/v1/captures", {scale: s.id});
  if (!r.ok) return setResult(out, r.lost ? "warn" : "bad", (r.lost ? "" : "Not captured: ") + refusal(r));
  const w = r.body.weighing || {};
  const decks = Array.isArray(w.decks) && w.decks.length ? " GVW, " + w.decks.length + " decks" : "";
  setResult(out, "ok", "Captured " + w.weight + " " + w.unit + decks + " \u00b7 seq " + r.body.seq +
            (r.status === 200 ? " (recorded before)" : ""));
}

function sessionPath(s, action) {
  return "/v1/axle-sessions/" + encodeURIComponent(s.id) + (action ? "/" + action : "");
}
function setSession(s, doc) {
  s.session = doc;
  renderSession(s);
}
function newVehicle(s) {  // a pending axle or completion belongs to the vehicle before
  delete s.keys.axle;
  delete s.keys.complete;
}

function renderSession(s) {
  const el = s.el, box = $(".axles", el);
  box.hidden = !s.axlesSupported;
  const d = s.session || {state: "idle", axles: [], expected_axles: 0};
  const axles = d.axles || [];
  const unit = d.unit || (s.reading && s.reading.unit) || "";
  const expected = d.expected_axles > 0 ? d.expected_axles : 0;
  let text = "No vehicle in progress. Enter its axle count (0 if unknown), then Start.";
  if (d.state === "weighing") {
    text = "Weighing: " + axles.length + " of " + (expected || "?") + " axles captured";
  } else if (d.state === "complete") {
    text = "Complete: " + axles.length + " axles recorded";
  }
  setText($(".axle-state", el), text);
  $(".axle-list", el).replaceChildren(...axles.map((a) => {
    const li = make("li");
    const reading = d.mode === "cumulative" ? " (indicator " + a.reading + ")" : "";
    li.append(make("span", "", "Axle " + a.number + reading), make("b", "", a.weight + " " + unit));
    return li;
  }));
  setText($(".gvw", el), axles.length ? d.running_gvw + " " + unit : DASH);
  setText($(".pending-axle", el), d.state === "weighing" && d.pending_axle_weight != null
    ? "Next axle would be " + d.pending_axle_weight + " " + unit : "");
  $(".axle-next", el).disabled = d.state !== "weighing" || (expected > 0 && axles.length >= expected);
  $(".axle-complete", el).disabled = d.state !== "weighing" || axles.length === 0;
  $(".axle-reset", el).disabled = d.state === "idle";
}

async function loadSessions() {
  for (const s of scales.values()) {
    const r = await request("GET", sessionPath(s));
    if (r.ok) {
      setSession(s, r.body);
    } else if (!r.lost && ["not_found", "method_not_allowed"].includes(r.body.error)) {
      s.axlesSupported = false;  // an agent without axle sessions
      renderSession(s);
    }
  }
}

async function axleStart(s) {
  const out = $(".axle-result", s.el);
  const n = parseInt($(".expected", s.el).value, 10);
  const body = {expected_axles: n > 0 ? n : 0};
  if (s.restart) body.restart = true;
  const r = await request("POST", sessionPath(s, "start"), body);
  if (r.ok) {
    s.restart = false;
    newVehicle(s);
    setSession(s, r.body);
    return setResult(out, "ok", "Started. Capture each axle when the scale shows STABLE.");
  }
  if (r.status === 409 && r.body.error === "session_in_progress") {
    s.restart = true;
    return setResult(out, "warn", "Axles of the vehicle before are still here. " +
                     "Press Start again to discard them, or Complete it.");
  }
  setResult(out, r.lost ? "warn" : "bad", refusal(r));
}

async function axleNext(s) {
  const out = $(".axle-result", s.el);
  setResult(out, "warn", "Capturing axle\u2026");
  const r = await keyedPost(s, "axle", sessionPath(s, "axles"), {});
  if (!r.ok) return setResult(out, r.lost ? "warn" : "bad", (r.lost ? "" : "Axle not captured: ") + refusal(r));
  setSession(s, r.body.session);
  const a = r.body.axle || {};
  setResult(out, "ok", "Axle " + a.number + ": " + a.weight + " " + (r.body.session.unit || ""));
}

async function axleComplete(s) {
  const out = $(".axle-result", s.el);
  const r = await keyedPost(s, "complete", sessionPath(s, "complete"), {});
  if (!r.ok) return setResult(out, r.lost ? "warn" : "bad", (r.lost ? "" : "Not completed: ") + refusal(r));
  const w = r.body.weighing || {};
  setResult(out, "ok", "Recorded " + (w.axles || []).length + " axles, GVW " + w.gvw + " " +
            (w.unit || "") + " \u00b7 seq " + r.body.seq);
  s.restart = false;
  const now = await request("GET", sessionPath(s));
  if (now.ok) setSession(s, now.body);
}

async function axleReset(s) {
  const out = $(".axle-result", s.el);
  const r = await request("DELETE", sessionPath(s));
  if (!r.ok) return setResult(out, r.lost ? "warn" : "bad", refusal(r));
  s.restart = false;
  newVehicle(s);
  setSession(s, r.body);
  setResult(out, "", "Session reset: no axles.");
}

function wireScale(s) {
  const on = (selector, action) => {
    const button = $(selector, s.el);
    button.addEventListener("click", () => busy(button, () => action(s)));
  };
  on(".capture", capture);
  on(".axle-start", axleStart);
  on(".axle-next", axleNext);
  on(".axle-complete", axleComplete);
  on(".axle-reset", axleReset);
  $(".expected", s.el).addEventListener("keydown", (e) => {
    if (e.key === "Enter") $(".axle-start", s.el).click();
  });
}

let deadGeneration = 0;
async function loadDead() {
  const generation = ++deadGeneration;
  deadLoading = true;
  const r = await request("GET", "/v1/outbox?state=dead&limit=" + DEAD_LIMIT);
  if (generation !== deadGeneration) return;  // a newer list is on its way
  deadLoading = false;
  if (!r.ok) return setResult($("#dead-msg"), r.lost ? "warn" : "bad", "Cannot list: " + refusal(r));
  const items = r.body.items || [];
  deadShown = items.length;
  $("#dead-rows").replaceChildren(...items.map(deadRow));
  $("#dead-table").hidden = items.length === 0;
  $("#dead-empty").hidden = items.length > 0;
}

function deadRow(item) {
  const tr = $("#dead-template").content.firstElementChild.cloneNode(true);
  tr.dataset.key = item.idempotency_key;
  setText($(".seq", tr), item.seq);
  setText($(".kind", tr), item.kind);
  setText($(".key", tr), item.idempotency_key);
  setText($(".attempts", tr), item.attempts);
  setText($(".error", tr), item.last_error || item.outcome || "");
  const button = $(".retry", tr);
  button.setAttribute("aria-label", "Retry " + item.kind + " seq " + item.seq);
  button.addEventListener("click", () => busy(button, () => retryDead(item)));
  return tr;
}

async function retryDead(item) {
  const r = await request("POST", "/v1/outbox/" + encodeURIComponent(item.idempotency_key) + "/retry");
  setResult($("#dead-msg"), r.ok ? "ok" : r.lost ? "warn" : "bad", r.ok
    ? "Seq " + item.seq + " (" + item.kind + ") is queued for the backend again."
    : "Not released: " + refusal(r));
  await loadDead();
}

$("#dead-refresh").addEventListener("click", loadDead);
connect();
)js";
  return kActions;
}

}  // namespace weighlink::agent::page
