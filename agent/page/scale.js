"use strict";
// One scale on screen: its live reading, the Capture button and the axle session controls.
/* global $, DASH, make, setText, setResult, request, keyedPost, busy, live, t, onLanguage,
   vehicleInput, operatorName, weighed, refreshScalePick, failed */
/* exported scales, scale, stateOf, renderReading, setSession, loadSessions */
const scales = new Map(); // scale id -> what the page knows of it

function scale(id) {
  let s = scales.get(id);
  if (s) return s;
  const el = $("#scale-template").content.firstElementChild.cloneNode(true);
  el.dataset.scale = id;
  setText($(".name", el), t("scale.name", { id }));
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
  refreshScalePick();
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

function renderReading(s) {
  const el = s.el,
    r = s.reading,
    state = stateOf(s);
  el.dataset.state = state;
  setText(
    $(".state-text", el),
    t("state." + (state === "range" ? (r.overload ? "overload" : "underload") : state)),
  );
  setText($(".weight", el), r ? r.weight : DASH.repeat(5));
  setText($(".unit", el), r ? r.unit : "");
  const decks = r && Array.isArray(r.decks) ? r.decks : [];
  setText(
    $(".label", el),
    t(decks.length ? "scale.gvw" : r && r.mode === "net" ? "scale.net" : "scale.gross"),
  );
  const list = $(".decks", el);
  list.hidden = decks.length === 0;
  list.replaceChildren(
    ...decks.map((d) => {
      const li = make("li", d.stable ? "stable" : "motion");
      const head = make("div", "deck-head");
      head.append(
        make("span", "", t("scale.deck", { n: d.index })),
        make("span", "deck-state", t(d.stable ? "state.stable" : "state.motion")),
      );
      const weight = make("div", "deck-weight", d.weight);
      weight.append(make("small", "", r.unit));
      li.append(head, weight);
      return li;
    }),
  );
  const st = s.status;
  setText($(".meta", el), (r && r.protocol) || (st && st.protocol) || "");
  setText($(".skipped", el), s.skipped ? t("scale.skipped", { n: s.skipped }) : "");
  let detail = "";
  if (!live) detail = t("scale.detail_offline");
  else if (st && !st.connected)
    detail = t("scale.detail_unconnected") + (st.detail ? ": " + st.detail : "");
  else if (state === "nodata") detail = t("scale.detail_waiting");
  else if (state === "stale") detail = t("scale.detail_stale");
  else if (r && r.mode === "net" && r.tare)
    detail = t("scale.detail_tare", { tare: r.tare, unit: r.unit });
  setText($(".detail", el), detail);
  renderZero(s);
}

// Zero return (status "zero_return"): after a weighing the scale must come back to zero first.
function renderZero(s) {
  const z = s.status && s.status.zero_return;
  const el = $(".zero", s.el);
  el.hidden = !z || !z.enabled;
  if (!z || !z.enabled) return;
  el.dataset.required = z.required ? "true" : "false";
  setText(
    $(".zero-text", el),
    z.required ? t("zero.required", { band: z.band }) : t("zero.ready", { band: z.band }),
  );
}

// The plate, reference and operator of the workstation's form go with every capture; a capture
// with none of them is the plain {"scale"} request it always was.
function withVehicle(s, body) {
  const v = vehicleInput(false);
  if (v.error) return v;
  const reference = Object.assign({}, v.reference);
  if (v.plate) reference.plate = v.plate;
  if (Object.keys(reference).length) body.reference = reference;
  if (operatorName()) body.operator = operatorName();
  return body;
}

async function capture(s) {
  const out = $(".capture-result", s.el);
  const body = withVehicle(s, { scale: s.id });
  if (body.error) return setResult(out, "bad", t("capture.not") + " " + body.error);
  setResult(out, "warn", t("capture.waiting"));
  const r = await keyedPost(s, "capture", "/v1/captures", body);
  if (!r.ok) return failed(out, r, t("capture.not"));
  const w = r.body.weighing || {};
  const decks =
    Array.isArray(w.decks) && w.decks.length ? t("capture.decks", { n: w.decks.length }) : "";
  const text =
    t("capture.done", { weight: w.weight, unit: w.unit, decks, seq: r.body.seq }) +
    (r.status === 200 ? " " + t("capture.before") : "");
  setResult(out, "ok", text);
  weighed(r.body.seq, text, null);
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
  let text = t("axle.idle");
  if (d.state === "weighing") {
    text = t("axle.weighing", { n: axles.length, of: expected || "?" });
  } else if (d.state === "complete") {
    text = t("axle.complete", { n: axles.length });
  }
  setText($(".axle-state", el), text);
  $(".axle-list", el).replaceChildren(
    ...axles.map((a) => {
      const li = make("li");
      const reading =
        d.mode === "cumulative" ? " " + t("axle.indicator", { reading: a.reading }) : "";
      li.append(
        make("span", "", t("axle.name", { n: a.number }) + reading),
        make("b", "", a.weight + " " + unit),
      );
      return li;
    }),
  );
  setText($(".gvw", el), axles.length ? d.running_gvw + " " + unit : DASH);
  setText(
    $(".pending-axle", el),
    d.state === "weighing" && d.pending_axle_weight != null
      ? t("axle.next_would", { weight: d.pending_axle_weight, unit })
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
    return setResult(out, "ok", t("axle.started"));
  }
  if (r.status === 409 && r.body.error === "session_in_progress") {
    s.restart = true;
    return setResult(out, "warn", t("axle.in_progress"));
  }
  failed(out, r);
}

async function axleNext(s) {
  const out = $(".axle-result", s.el);
  setResult(out, "warn", t("axle.capturing"));
  const r = await keyedPost(s, "axle", sessionPath(s, "axles"), {});
  if (!r.ok) return failed(out, r, t("axle.not_captured"));
  setSession(s, r.body.session);
  const a = r.body.axle || {};
  setResult(
    out,
    "ok",
    t("axle.captured", { n: a.number, weight: a.weight, unit: r.body.session.unit || "" }),
  );
}

async function axleComplete(s) {
  const out = $(".axle-result", s.el);
  const body = withVehicle(s, {});
  if (body.error) return setResult(out, "bad", t("axle.not_completed") + " " + body.error);
  const r = await keyedPost(s, "complete", sessionPath(s, "complete"), body);
  if (!r.ok) return failed(out, r, t("axle.not_completed"));
  const w = r.body.weighing || {};
  const text = t("axle.recorded", {
    n: (w.axles || []).length,
    gvw: w.gvw,
    unit: w.unit || "",
    seq: r.body.seq,
  });
  setResult(out, "ok", text);
  weighed(r.body.seq, text, null);
  s.restart = false;
  const now = await request("GET", sessionPath(s));
  if (now.ok) setSession(s, now.body);
}

async function axleReset(s) {
  const out = $(".axle-result", s.el);
  const r = await request("DELETE", sessionPath(s));
  if (!r.ok) return failed(out, r);
  s.restart = false;
  newVehicle(s);
  setSession(s, r.body);
  setResult(out, "", t("axle.reset_done"));
}

onLanguage(() => {
  for (const s of scales.values()) {
    setText($(".name", s.el), t("scale.name", { id: s.id }));
    renderReading(s);
    renderSession(s);
  }
});

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
