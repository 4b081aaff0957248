"use strict";
// The workstation's weighings of a vehicle: one pass (Capture), two passes (First weighing opens
// a transaction on the agent, Second weighing closes it with the net), one pass against the
// vehicle's stored tare, and weighing an empty vehicle to store its tare. Open transactions and
// stored tares come from the agent (GET /v1/transactions, /v1/tares), so they survive restarts
// of the agent and reloads of the page. Every POST that records carries an Idempotency-Key kept
// while its outcome is unknown (keyedPost).
/* global $, setText, setResult, request, keyedPost, busy, t, onLanguage,
   vehicleInput, operatorName, pickedScale, setPlate, normalizePlate, scale, openTicket,
   openDialog, closeDialog, loadWeighings, failed */
/* exported desk, weighed, loadTransactions, loadTares, firstWeighing, secondWeighing, onePass,
   openCancel */
const desk = { keys: {}, lastSeq: null, open: [], tares: [] };

function workResult(kind, text) {
  setResult($("#work-result"), kind, text);
}

// A weighing was recorded: it is the one F8 prints, and the lists change.
function weighed(seq, summary, net) {
  desk.lastSeq = seq;
  $("#work-ticket").hidden = seq == null;
  $("#work-net").hidden = !net;
  if (net) {
    setText($("#work-net .net-value"), net.net + " " + net.unit);
    setText(
      $("#work-net .net-detail"),
      net.gross != null
        ? t("tx.gross_tare", { gross: net.gross, tare: net.tare, unit: net.unit })
        : "",
    );
  }
  workResult("ok", summary);
  loadWeighings();
}

function input(needPlate) {
  const v = vehicleInput(needPlate);
  if (v.error) {
    workResult("bad", v.error);
    if (v.element) v.element.focus();
  }
  return v;
}

// One pass: the scale card's Capture with the plate and reference of the form.
function onePass() {
  $(".capture", scale(pickedScale()).el).click();
}

async function firstWeighing() {
  const v = input(true);
  if (v.error) return;
  workResult("warn", t("work.weighing"));
  const body = { scale: pickedScale(), plate: v.plate, reference: v.reference, mode: "two_pass" };
  if (operatorName()) body.operator = operatorName();
  const r = await keyedPost(desk, "first", "/v1/transactions", body);
  if (!r.ok) return failed($("#work-result"), r, t("work.not_recorded"));
  const tx = r.body.transaction || {};
  const w = r.body.weighing || {};
  weighed(r.body.seq, t("tx.first_done", { weight: w.weight, unit: w.unit, id: tx.id }), null);
  await loadTransactions();
}

// The second pass of an open transaction: of the one picked, or of the plate in the form.
async function secondWeighing(id) {
  if (!id) {
    const plate = normalizePlate($("#plate").value);
    const tx = desk.open.find((x) => x.plate === plate);
    if (!tx) return workResult("bad", plate ? t("tx.none_for", { plate }) : t("tx.pick"));
    id = tx.id;
  }
  workResult("warn", t("work.weighing"));
  const body = { scale: pickedScale() };
  if (operatorName()) body.operator = operatorName();
  const r = await keyedPost(
    desk,
    "second:" + id,
    "/v1/transactions/" + encodeURIComponent(id) + "/complete",
    body,
  );
  if (!r.ok) return failed($("#work-result"), r, t("work.not_recorded"));
  const tx = r.body.transaction || {};
  const rec = (r.body.weighing || {}).transaction || {};
  const unit = tx.unit || rec.unit || "";
  weighed(r.body.seq, t("tx.closed", { id: tx.id || id, seq: r.body.seq }), {
    net: tx.net || rec.net,
    gross: rec.gross,
    tare: rec.tare,
    unit,
  });
  await loadTransactions();
}

// One pass against the plate's stored tare.
async function storedTare() {
  const v = input(true);
  if (v.error) return;
  workResult("warn", t("work.weighing"));
  const body = {
    scale: pickedScale(),
    plate: v.plate,
    reference: v.reference,
    mode: "stored_tare",
  };
  if (operatorName()) body.operator = operatorName();
  const r = await keyedPost(desk, "stored", "/v1/transactions", body);
  if (!r.ok) return failed($("#work-result"), r, t("work.not_recorded"));
  const rec = (r.body.weighing || {}).transaction || {};
  const tx = r.body.transaction || {};
  weighed(r.body.seq, t("tx.stored_done", { seq: r.body.seq }), {
    net: rec.net || tx.net,
    gross: rec.gross,
    tare: rec.tare,
    unit: rec.unit || tx.unit || "",
  });
}

// The empty vehicle: its weight becomes the plate's stored tare.
async function weighTare() {
  const v = input(true);
  if (v.error) return;
  workResult("warn", t("work.weighing"));
  const body = { scale: pickedScale(), plate: v.plate, reference: v.reference };
  if (operatorName()) body.operator = operatorName();
  const r = await keyedPost(desk, "tare", "/v1/tares", body);
  if (!r.ok) return failed($("#work-result"), r, t("work.not_recorded"));
  const w = r.body.weighing || {};
  weighed(r.body.seq, t("tare.stored", { plate: v.plate, weight: w.weight, unit: w.unit }), null);
  await loadTares();
}

function items(body) {
  return Array.isArray(body) ? body : body.items || [];
}

async function loadTransactions() {
  const r = await request("GET", "/v1/transactions?state=open");
  if (!r.ok) return;
  desk.open = items(r.body);
  renderTransactions();
}

function renderTransactions() {
  $("#tx-rows").replaceChildren(...desk.open.map(txRow));
  $("#tx-table").hidden = desk.open.length === 0;
  $("#tx-empty").hidden = desk.open.length > 0;
}

function referenceText(ref) {
  return Object.entries(ref || {})
    .filter(([k]) => k !== "plate")
    .map(([, v]) => v)
    .join(" \u00b7 ");
}

function txRow(tx) {
  const tr = $("#tx-template").content.firstElementChild.cloneNode(true);
  tr.dataset.id = tx.id;
  tr.dataset.plate = tx.plate;
  const first = tx.first || {};
  setText($(".tx-plate", tr), tx.plate);
  setText(
    $(".tx-first", tr),
    first.weight != null ? first.weight + " " + (first.unit || tx.unit || "") : "",
  );
  setText($(".tx-at", tr), tx.opened_at ? new Date(tx.opened_at).toLocaleString() : "");
  setText($(".tx-ref", tr), referenceText(tx.reference));
  setText($(".tx-id", tr), tx.id);
  const second = $(".tx-second", tr);
  second.setAttribute("aria-label", t("tx.second_for", { plate: tx.plate }));
  second.addEventListener("click", () => busy(second, () => secondWeighing(tx.id)));
  const cancel = $(".tx-cancel", tr);
  cancel.setAttribute("aria-label", t("tx.cancel_for", { plate: tx.plate }));
  cancel.addEventListener("click", () => openCancel(tx));
  $(".tx-plate", tr).addEventListener("click", () => setPlate(tx.plate));
  return tr;
}

let cancelling = null;
function openCancel(tx) {
  cancelling = tx;
  setText($("#cancel-what"), t("tx.cancel_what", { plate: tx.plate, id: tx.id }));
  $("#cancel-reason").value = "";
  setResult($("#cancel-result"), "", "");
  openDialog($("#cancel-dialog"), $("#cancel-reason"));
}

async function confirmCancel() {
  const tx = cancelling;
  const reason = $("#cancel-reason").value.trim();
  if (!reason) {
    $("#cancel-reason").focus();
    return setResult($("#cancel-result"), "bad", t("tx.reason_needed"));
  }
  const body = { reason };
  if (operatorName()) body.operator = operatorName();
  const r = await keyedPost(
    desk,
    "cancel:" + tx.id,
    "/v1/transactions/" + encodeURIComponent(tx.id) + "/cancel",
    body,
  );
  if (!r.ok) return failed($("#cancel-result"), r);
  closeDialog($("#cancel-dialog"));
  workResult("ok", t("tx.cancelled", { plate: tx.plate, id: tx.id }));
  await loadTransactions();
}

async function loadTares() {
  const r = await request("GET", "/v1/tares");
  if (!r.ok) return;
  desk.tares = items(r.body);
  $("#tare-rows").replaceChildren(
    ...desk.tares.map((x) => {
      const tr = $("#tare-template").content.firstElementChild.cloneNode(true);
      tr.dataset.plate = x.plate;
      setText($(".tare-plate", tr), x.plate);
      setText($(".tare-weight", tr), x.weight + " " + (x.unit || ""));
      const at = x.captured_at || x.stored_at || x.at;
      setText($(".tare-at", tr), at ? new Date(at).toLocaleDateString() : "");
      $(".tare-plate", tr).addEventListener("click", () => setPlate(x.plate));
      return tr;
    }),
  );
  $("#tare-table").hidden = desk.tares.length === 0;
  $("#tare-empty").hidden = desk.tares.length > 0;
}

function wire(selector, action) {
  const button = $(selector);
  button.addEventListener("click", () => busy(button, action));
}
wire("#do-first", () => firstWeighing());
wire("#do-second", () => secondWeighing(null));
wire("#do-stored", storedTare);
wire("#do-tare", weighTare);
wire("#cancel-confirm", confirmCancel);
$("#do-capture").addEventListener("click", onePass);
$("#work-ticket").addEventListener("click", () => desk.lastSeq != null && openTicket(desk.lastSeq));
$("#cancel-reason").addEventListener("keydown", (e) => {
  if (e.key === "Enter") $("#cancel-confirm").click();
});
onLanguage(() => {
  renderTransactions();
  loadTares();
});
