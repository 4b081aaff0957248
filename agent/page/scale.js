"use strict";
// One scale on screen: its live reading, the Capture button and the axle session controls.
/* global $, DASH, make, setText, setResult, request, keyedPost, refusal, busy, live */
/* exported scales, scale, renderReading, setSession, loadSessions */
const scales = new Map(); // scale id -> what the page knows of it

function scale(id) {
  let s = scales.get(id);
  if (s) return s;
  const el = $("#scale-template").content.firstElementChild.cloneNode(true);
  el.dataset.scale = id;
  setText($(".name", el), "Scale " + id);
  s = {
    id,
    el,
    reading: null,
    status: null,
    lastSeq: null,
    skipped: 0,
    session: null,
    axlesSupported: true,
    keys: {},
    restart: false,
  };
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
const STATE_TEXT = {
  stable: "STABLE",
  motion: "MOTION",
  stale: "STALE \u2014 NO SIGNAL",
  nodata: "NO DATA",
  offline: "NOT LIVE",
};

function renderReading(s) {
  const el = s.el,
    r = s.reading,
    state = stateOf(s);
  el.dataset.state = state;
  setText(
    $(".state-text", el),
    state === "range" ? (r.overload ? "OVERLOAD" : "UNDERLOAD") : STATE_TEXT[state],
  );
  setText($(".weight", el), r ? r.weight : DASH.repeat(5));
  setText($(".unit", el), r ? r.unit : "");
  const decks = r && Array.isArray(r.decks) ? r.decks : [];
  setText($(".label", el), decks.length ? "GVW" : r && r.mode === "net" ? "Net" : "Gross");
  const list = $(".decks", el);
  list.hidden = decks.length === 0;
  list.replaceChildren(
    ...decks.map((d) => {
      const li = make("li", d.stable ? "stable" : "motion");
      const head = make("div", "deck-head");
      head.append(
        make("span", "", "Deck " + d.index),
        make("span", "deck-state", d.stable ? "STABLE" : "MOTION"),
      );
      const weight = make("div", "deck-weight", d.weight);
      weight.append(make("small", "", r.unit));
      li.append(head, weight);
      return li;
    }),
  );
  const st = s.status;
  setText($(".meta", el), (r && r.protocol) || (st && st.protocol) || "");
  setText($(".skipped", el), s.skipped ? "skipped " + s.skipped : "");
  let detail = "";
  if (!live) detail = "No connection to the agent: the weight shown is not current.";
  else if (st && !st.connected)
    detail = "Indicator not connected" + (st.detail ? ": " + st.detail : "");
  else if (state === "nodata") detail = "Waiting for the indicator\u2026";
  else if (state === "stale")
    detail = "No valid frame from the indicator: check its cable and power.";
  else if (r && r.mode === "net" && r.tare) detail = "Tare " + r.tare + " " + r.unit;
  setText($(".detail", el), detail);
}

async function capture(s) {
  const out = $(".capture-result", s.el);
  setResult(out, "warn", "Capturing\u2026 waiting for a stable weight");
  const r = await keyedPost(s, "capture", "/v1/captures", { scale: s.id });
  if (!r.ok)
    return setResult(out, r.lost ? "warn" : "bad", (r.lost ? "" : "Not captured: ") + refusal(r));
  const w = r.body.weighing || {};
  const decks =
    Array.isArray(w.decks) && w.decks.length ? " GVW, " + w.decks.length + " decks" : "";
  setResult(
    out,
    "ok",
    "Captured " +
      w.weight +
      " " +
      w.unit +
      decks +
      " \u00b7 seq " +
      r.body.seq +
      (r.status === 200 ? " (recorded before)" : ""),
  );
}

function sessionPath(s, action) {
  return "/v1/axle-sessions/" + encodeURIComponent(s.id) + (action ? "/" + action : "");
}
function setSession(s, doc) {
  s.session = doc;
  renderSession(s);
}
function newVehicle(s) {
  // a pending axle or completion belongs to the vehicle before
  delete s.keys.axle;
  delete s.keys.complete;
}

function renderSession(s) {
  const el = s.el,
    box = $(".axles", el);
  box.hidden = !s.axlesSupported;
  const d = s.session || { state: "idle", axles: [], expected_axles: 0 };
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
  $(".axle-list", el).replaceChildren(
    ...axles.map((a) => {
      const li = make("li");
      const reading = d.mode === "cumulative" ? " (indicator " + a.reading + ")" : "";
      li.append(
        make("span", "", "Axle " + a.number + reading),
        make("b", "", a.weight + " " + unit),
      );
      return li;
    }),
  );
  setText($(".gvw", el), axles.length ? d.running_gvw + " " + unit : DASH);
  setText(
    $(".pending-axle", el),
    d.state === "weighing" && d.pending_axle_weight != null
      ? "Next axle would be " + d.pending_axle_weight + " " + unit
      : "",
  );
  $(".axle-next", el).disabled =
    d.state !== "weighing" || (expected > 0 && axles.length >= expected);
  $(".axle-complete", el).disabled = d.state !== "weighing" || axles.length === 0;
  $(".axle-reset", el).disabled = d.state === "idle";
}

async function loadSessions() {
  for (const s of scales.values()) {
    const r = await request("GET", sessionPath(s));
    if (r.ok) {
      setSession(s, r.body);
    } else if (!r.lost && ["not_found", "method_not_allowed"].includes(r.body.error)) {
      s.axlesSupported = false; // an agent without axle sessions
      renderSession(s);
    }
  }
}

async function axleStart(s) {
  const out = $(".axle-result", s.el);
  const n = parseInt($(".expected", s.el).value, 10);
  const body = { expected_axles: n > 0 ? n : 0 };
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
    return setResult(
      out,
      "warn",
      "Axles of the vehicle before are still here. " +
        "Press Start again to discard them, or Complete it.",
    );
  }
  setResult(out, r.lost ? "warn" : "bad", refusal(r));
}

async function axleNext(s) {
  const out = $(".axle-result", s.el);
  setResult(out, "warn", "Capturing axle\u2026");
  const r = await keyedPost(s, "axle", sessionPath(s, "axles"), {});
  if (!r.ok)
    return setResult(
      out,
      r.lost ? "warn" : "bad",
      (r.lost ? "" : "Axle not captured: ") + refusal(r),
    );
  setSession(s, r.body.session);
  const a = r.body.axle || {};
  setResult(out, "ok", "Axle " + a.number + ": " + a.weight + " " + (r.body.session.unit || ""));
}

async function axleComplete(s) {
  const out = $(".axle-result", s.el);
  const r = await keyedPost(s, "complete", sessionPath(s, "complete"), {});
  if (!r.ok)
    return setResult(out, r.lost ? "warn" : "bad", (r.lost ? "" : "Not completed: ") + refusal(r));
  const w = r.body.weighing || {};
  setResult(
    out,
    "ok",
    "Recorded " +
      (w.axles || []).length +
      " axles, GVW " +
      w.gvw +
      " " +
      (w.unit || "") +
      " \u00b7 seq " +
      r.body.seq,
  );
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
