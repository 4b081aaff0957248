"use strict";
// The station's devices (cameras, printers, lights and barriers, remote displays): one row each
// from the status message's "devices" (GET /v1/status has the same), with its state as a badge
// (offline and error stand out), the device's own detail and since when. Each device type's own
// file adds its controls; this panel is what every type shares (docs/devices.md).
/* global $, make, setText, t, onLanguage, hasMessage */
/* exported devicesShown */
const DEVICE_CLASS = { ok: "ok", offline: "bad", error: "bad", disabled: "neutral" };
let devicesShown = ""; // what the rows on screen show
let devicesLast = [];

function renderDevices(list) {
  // Only what the panel shows: counters a device type adds (frames written...) change every
  // second and must not rebuild the rows under the operator's pointer.
  const text = JSON.stringify(list.map((d) => [d.id, d.kind, d.state, d.detail, d.since_ms]));
  if (text === devicesShown) return;
  devicesShown = text;
  devicesLast = list;
  $("#devices-panel").hidden = list.length === 0;
  $("#devices-rows").replaceChildren(...list.map(deviceRow));
}

// A key's message, or the text itself for a value the catalogues do not know (a newer agent).
function deviceWord(prefix, value) {
  return hasMessage(prefix + value) ? t(prefix + value) : String(value);
}

function deviceRow(d) {
  const tr = make("tr");
  tr.dataset.device = d.id;
  tr.dataset.state = d.state;
  tr.append(
    make("td", "device-id", d.id),
    make("td", "device-kind", deviceWord("devices.kind_", d.kind)),
  );
  const state = make("td", "device-state");
  const badge = make("span", "chip " + (DEVICE_CLASS[d.state] || "neutral"));
  setText(badge, deviceWord("devices.state_", d.state));
  badge.setAttribute(
    "aria-label",
    t("devices.state_for", { device: d.id, state: deviceWord("devices.state_", d.state) }),
  );
  state.append(badge);
  const since = d.since_ms ? new Date(d.since_ms).toLocaleString() : "";
  tr.append(state, make("td", "device-detail", d.detail || ""), make("td", "device-since", since));
  return tr;
}

document.addEventListener("weighlink:status", (e) => renderDevices(e.detail.devices || []));
onLanguage(() => {
  devicesShown = "";
  renderDevices(devicesLast);
});
