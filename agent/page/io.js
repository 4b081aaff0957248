"use strict";
// Lights, barriers and position sensors on the operator page (docs/devices.md): GET /v1/io
// every second while the station has them; each light and barrier with what holds it (the
// policy, a TruConnect signal, the operator) and buttons that override it or give it back to
// the policy (POST /v1/io/override, /v1/io/override/clear), each recorded in the audit trail
// with the operator's name and the reason typed here.
/* global $, make, setText, setResult, request, keyedPost, busy, t, onLanguage, failed, operatorName */
const IO_POLL_MS = 1000;
const IO_STATES = {
  entry_light: ["green", "red"],
  exit_light: ["green", "red"],
  entry_barrier: ["open", "closed"],
  exit_barrier: ["open", "closed"],
};
const ioKeys = { keys: {} };
let ioDoc = null;
let ioShown = "";

function ioPanel() {
  return $("#io-panel");
}

function ioBuild() {
  const panel = ioPanel();
  const head = make("div", "panel-head");
  head.append(make("h2", null, t("io.title")));
  const reason = make("input");
  reason.id = "io-reason";
  reason.maxLength = 200;
  reason.placeholder = t("io.reason");
  reason.setAttribute("aria-label", t("io.reason"));
  const msg = make("p", "result");
  msg.id = "io-msg";
  msg.setAttribute("role", "status");
  const lanes = make("div", "io-lanes");
  lanes.id = "io-lanes";
  panel.replaceChildren(head, lanes, reason, msg);
}

function ioOutputRow(lane, target, out) {
  const tr = make("tr");
  tr.dataset.target = target;
  tr.append(make("td", null, t("io." + target)));
  const state = make("span", "chip " + (/green|open/.test(out.state) ? "ok" : "bad"));
  setText(state, t("io.state_" + out.state));
  state.className += " io-state";
  const cell = make("td");
  cell.append(state);
  tr.append(cell, make("td", "io-source", t("io.source_" + out.source)));
  const actions = make("td");
  for (const s of IO_STATES[target]) {
    const b = make("button", "small", t("io.set_" + s));
    b.type = "button";
    b.dataset.state = s;
    b.addEventListener("click", () => busy(b, () => ioOverride(lane, target, s)));
    actions.append(b);
  }
  if (out.source === "override") {
    const b = make("button", "small io-release", t("io.release"));
    b.type = "button";
    b.addEventListener("click", () => busy(b, () => ioOverride(lane, target, null)));
    actions.append(b);
  }
  tr.append(actions);
  return tr;
}

function ioRender(doc) {
  ioDoc = doc;
  const panel = ioPanel();
  if (!panel) return;
  panel.hidden = false;
  if (!$("#io-lanes", panel)) ioBuild();
  const key = JSON.stringify(doc.lanes);
  if (key === ioShown) return;
  ioShown = key;
  const blocks = doc.lanes.map((lane) => {
    const block = make("div", "io-lane");
    block.dataset.scale = lane.scale;
    block.append(
      make("h3", null, t("io.lane", { scale: lane.scale, phase: t("io.phase_" + lane.phase) })),
    );
    const table = make("table");
    const body = make("tbody");
    for (const target of Object.keys(IO_STATES)) {
      if (lane.outputs[target]) body.append(ioOutputRow(lane.scale, target, lane.outputs[target]));
    }
    table.append(body);
    block.append(table);
    if (lane.sensors.length) {
      const list = make("ul", "io-sensors");
      for (const s of lane.sensors) {
        const li = make("li", "io-sensor " + s.state, s.id + ": " + t("io.sensor_" + s.state));
        li.dataset.sensor = s.id;
        list.append(li);
      }
      block.append(list);
    }
    return block;
  });
  $("#io-lanes").replaceChildren(...blocks);
}

async function ioOverride(scale, target, state) {
  const msg = $("#io-msg");
  const body = {
    scale,
    target,
    operator: operatorName(),
    reason: $("#io-reason").value.trim(),
  };
  if (!body.operator || !body.reason) return setResult(msg, "bad", t("io.need_reason"));
  if (state) body.state = state;
  const path = state ? "/v1/io/override" : "/v1/io/override/clear";
  const r = await keyedPost(ioKeys, scale + "/" + target + "/" + state, path, body);
  if (!r.ok) return failed(msg, r, t("io.not_done"));
  setResult(msg, "ok", t("io.done", { n: r.body.audit.n }));
  ioRender(r.body.io);
}

async function ioPoll() {
  const r = await request("GET", "/v1/io");
  if (r.ok) ioRender(r.body);
  // 404: no io configured on this station; the panel stays hidden and polling stops.
  if (r.ok || r.lost) setTimeout(ioPoll, IO_POLL_MS);
}

onLanguage(() => {
  ioShown = "";
  if (ioDoc && $("#io-lanes")) {
    ioBuild();
    ioRender(ioDoc);
  }
});

ioPoll();
