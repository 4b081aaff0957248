"use strict";
// The live display: the WebSocket GET /v1/live drives everything on screen (hello, reading,
// status); the page pings it and counts it lost after a silence. Data reaches the DOM only
// through textContent. Loaded last: it starts the page (connect()).
/* global $, DASH, age, setText, scales, scale, renderReading, setSession, loadSessions, DEAD_LIMIT,
   deadShown, deadLoading, loadDead, renderOrigins, t, hasMessage, onLanguage, loadStation, loadTransactions,
   loadTares, showSoftware, showEvidenceStatus, refreshScalePick */
/* exported live */
const PING_MS = 2000; // the socket is pinged this often...
const SILENCE_MS = 6000; // ...and counted as lost when nothing arrived for this long
let live = false; // socket open and talking
let socket = null;
let lastMessage = 0;
let reconnectDelay = 500;

function onHello(m) {
  setText($("#station"), m.station_id);
  document.title = "weighlink " + m.station_id;
  for (const id of m.scales || []) scale(id).lastSeq = null;
  if (m.software) showSoftware(m.software);
  setLive(true);
  reconnectDelay = 500;
  loadSessions();
  loadDead();
  loadStation();
  loadTransactions();
  loadTares();
  refreshScalePick();
}

function onReading(r) {
  const s = scale(r.scale);
  // A jump in seq means newer readings replaced older ones on the way: normal, just counted.
  if (s.lastSeq != null && r.seq > s.lastSeq + 1) s.skipped += r.seq - s.lastSeq - 1;
  s.lastSeq = r.seq;
  s.reading = r;
  renderReading(s);
}

let lastUplink = null;
function uplinkText(state) {
  if (!state) return DASH;
  return hasMessage("uplink." + state) ? t("uplink." + state) : state;
}
const UPLINK_CLASS = { online: "ok", connecting: "warn", offline: "bad", disabled: "neutral" };
function onStatus(m) {
  setText($("#station"), m.station_id);
  const up = m.uplink || {};
  const chip = $("#uplink");
  lastUplink = up;
  setText(chip, uplinkText(up.state));
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
  if (m.origins) renderOrigins(m.origins);
  if (m.software) showSoftware(m.software);
  showEvidenceStatus(m.evidence);
  if (m.audit) setText($("#audit-counter"), m.audit.counter);
  showNotices(m.app_notices || []);
  // The device panels (devices.js and each device type's own file) read the same message.
  document.dispatchEvent(new CustomEvent("weighlink:status", { detail: m }));
}

// The web app's refusals and discrepancies, newest first (the app itself shows none).
let noticesShown = "";
function showNotices(list) {
  const text = JSON.stringify(list);
  if (text === noticesShown) return;
  noticesShown = text;
  $("#notices").hidden = list.length === 0;
  $("#notice-rows").replaceChildren(
    ...list
      .slice()
      .reverse()
      .map((n) => {
        const tr = $("#notice-template").content.firstElementChild.cloneNode(true);
        setText($(".at", tr), new Date(n.at).toLocaleTimeString());
        setText($(".event", tr), n.event);
        setText($(".code", tr), n.code);
        setText($(".message", tr), n.message);
        setText($(".key", tr), n.key);
        return tr;
      }),
  );
}

function setLive(on) {
  live = on;
  document.body.classList.toggle("offline", !on);
  $("#banner").hidden = on;
  const link = $("#link");
  setText(link, t(on ? "link.live" : "link.lost"));
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
  const ws = new WebSocket(
    (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/v1/live",
  );
  socket = ws;
  lastMessage = Date.now();
  ws.onmessage = (event) => {
    lastMessage = Date.now();
    let m;
    try {
      m = JSON.parse(event.data);
    } catch (e) {
      return;
    }
    if (m.type === "reading") onReading(m);
    else if (m.type === "status") onStatus(m);
    else if (m.type === "hello") onHello(m);
  };
  ws.onclose = () => lost(ws);
}

onLanguage(() => {
  setText($("#link"), t(live ? "link.live" : "link.lost"));
  if (lastUplink) setText($("#uplink"), uplinkText(lastUplink.state));
  noticesShown = "";
});

setInterval(() => {
  const ws = socket;
  if (!ws || ws.readyState !== WebSocket.OPEN) {
    if (ws && Date.now() - lastMessage > SILENCE_MS) lost(ws); // a connect that hangs
    return;
  }
  if (Date.now() - lastMessage > SILENCE_MS) return lost(ws); // half-open: nothing comes back
  ws.send(JSON.stringify({ type: "ping" }));
}, PING_MS);

connect();
