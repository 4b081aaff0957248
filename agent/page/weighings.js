"use strict";
// Recent weighings: the station's own history from the local outbox (GET /v1/weighings), newest
// first, searched by plate, reference text, dates and state (queued, sent, dead); each row opens
// its ticket. Works with the link down: nothing here comes from the backend.
/* global $, setText, setResult, request, t, onLanguage, openTicket, normalizePlate, failed */
/* exported loadWeighings */
const WEIGHINGS_PAGE = 50;
let weighingsNext = null; // next_before of the list on screen
let weighingsGeneration = 0;

function weighingsQuery(before) {
  const q = new URLSearchParams();
  const plate = normalizePlate($("#search-plate").value);
  if (plate) q.set("plate", plate);
  const text = $("#search-text").value.trim();
  if (text) q.set("q", text);
  if ($("#search-from").value) q.set("from", $("#search-from").value);
  if ($("#search-to").value) q.set("to", $("#search-to").value);
  if ($("#search-state").value) q.set("state", $("#search-state").value);
  q.set("limit", String(WEIGHINGS_PAGE));
  if (before != null) q.set("before", String(before));
  return "/v1/weighings?" + q.toString();
}

// The first page of the search (more: the next page after what is listed).
async function loadWeighings(more) {
  const generation = ++weighingsGeneration;
  const r = await request("GET", weighingsQuery(more ? weighingsNext : null));
  if (generation !== weighingsGeneration) return; // a newer search is on its way
  const out = $("#search-result");
  if (!r.ok) return failed(out, r, t("search.failed"));
  const items = r.body.items || [];
  weighingsNext = r.body.next_before ?? null;
  const rows = items.map(weighingRow);
  if (more) $("#weighing-rows").append(...rows);
  else $("#weighing-rows").replaceChildren(...rows);
  const shown = $("#weighing-rows").children.length;
  $("#weighing-table").hidden = shown === 0;
  $("#search-more").hidden = weighingsNext == null;
  setResult(out, "", shown ? t("search.count", { n: shown }) : t("search.none"));
}

const STATE_KEYS = { queued: "state.queued", sent: "state.sent", dead: "state.dead" };

function weighingRow(w) {
  const tr = $("#weighing-template").content.firstElementChild.cloneNode(true);
  tr.dataset.seq = w.seq;
  setText($(".w-seq", tr), w.seq);
  setText($(".w-at", tr), w.captured_at ? new Date(w.captured_at).toLocaleString() : "");
  setText($(".w-plate", tr), w.plate || (w.reference && w.reference.plate) || "");
  setText(
    $(".w-ref", tr),
    Object.entries(w.reference || {})
      .filter(([k]) => k !== "plate")
      .map(([, v]) => v)
      .join(" \u00b7 "),
  );
  const tx = w.transaction || {};
  let weight = w.weight != null ? w.weight + " " + (w.unit || "") : "";
  if (tx.net != null) weight += " \u00b7 " + t("ticket.net") + " " + tx.net;
  setText($(".w-weight", tr), weight);
  const state = $(".w-state", tr);
  state.dataset.state = w.state;
  setText(state, STATE_KEYS[w.state] ? t(STATE_KEYS[w.state]) : w.state);
  const button = $(".w-ticket", tr);
  button.setAttribute("aria-label", t("search.ticket_for", { seq: w.seq }));
  button.addEventListener("click", () => openTicket(w.seq));
  return tr;
}

$("#search-form").addEventListener("submit", (e) => {
  e.preventDefault();
  loadWeighings(false);
});
$("#search-more").addEventListener("click", () => loadWeighings(true));
onLanguage(() => loadWeighings(false));
