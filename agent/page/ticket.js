"use strict";
// The ticket of a weighing: the agent's ticket model (GET /v1/tickets/{seq}) drawn on screen,
// printed by the browser (ticket.css prints the ticket alone) and offered as the agent's PDF
// (/v1/tickets/{seq}.pdf). Print first records the print (POST /v1/tickets/{seq}/print): the
// agent answers the model with copy "original" the first time and "duplicate" after, so the
// paper always says which it is.
/* global $, make, setResult, request, keyedPost, busy, t, lang, operatorName, openDialog,
   failed */
/* exported openTicket, printTicket, ticketSeq */
let ticketSeq = null;
const printer = { keys: {} };

async function openTicket(seq) {
  ticketSeq = seq;
  $("#ticket-pdf").href = "/v1/tickets/" + encodeURIComponent(seq) + ".pdf?lang=" + lang;
  setResult($("#ticket-result"), "warn", t("ticket.loading"));
  $("#ticket").replaceChildren();
  openDialog($("#ticket-dialog"), $("#ticket-print"));
  const r = await request("GET", "/v1/tickets/" + encodeURIComponent(seq) + "?lang=" + lang);
  if (seq !== ticketSeq) return;
  if (!r.ok) return failed($("#ticket-result"), r);
  setResult($("#ticket-result"), "", "");
  renderTicket(r.body);
}

function text(v) {
  if (v == null) return "";
  if (typeof v === "object") return v.text ?? v.value ?? JSON.stringify(v);
  return String(v);
}
function rowsOf(list) {
  if (Array.isArray(list)) return list;
  return Object.entries(list || {}).map(([label, value]) => ({ label, value }));
}
function table(rows, className) {
  const dl = make("dl", className);
  for (const row of rows) {
    const div = make("div");
    if (row.id) div.dataset.id = row.id;
    div.append(make("dt", "", text(row.label ?? row.id)), make("dd", "", text(row.value)));
    dl.append(div);
  }
  return dl;
}

// Draws the model (agent/src/tickets/ticket.cpp): header lines, title, the copy mark, the
// label/value rows of the fields, the weights, the decks or axles, the legal rows (record hash,
// software, audit counter) and the footer, all worded by the agent in the ticket's language.
function renderTicket(m) {
  const el = $("#ticket");
  el.dataset.copy = m.copy || "";
  el.dataset.seq = m.seq ?? ticketSeq;
  el.classList.toggle("paper-80mm", m.paper === "80mm");
  const parts = [];
  const header = make("header", "ticket-head");
  for (const line of m.header || []) header.append(make("p", "", text(line)));
  header.append(make("h3", "", m.title || t("ticket.title")));
  parts.push(header);
  if (m.copy) {
    const label =
      m.copy_label ||
      (m.copy === "duplicate" ? t("ticket.copy_duplicate") : t("ticket.copy_original"));
    const copy = make("p", "ticket-copy " + m.copy, label);
    if (m.print_number) copy.append(make("span", "", " #" + m.print_number));
    parts.push(copy);
  }
  parts.push(table(rowsOf(m.fields), "ticket-rows"));
  if (m.weights) parts.push(table(rowsOf(m.weights), "ticket-weights"));
  const p = m.parts;
  if (p && Array.isArray(p.rows) && p.rows.length) {
    const grid = make("table", "ticket-parts " + (p.kind || ""));
    const head = make("tr");
    for (const c of p.columns || []) head.append(make("th", "", text(c)));
    grid.createTHead().append(head);
    const body = grid.createTBody();
    for (const row of p.rows) {
      const tr = make("tr");
      for (const cell of row) tr.append(make("td", "", text(cell)));
      body.append(tr);
    }
    parts.push(grid);
  }
  if (m.legal) parts.push(table(rowsOf(m.legal), "ticket-ids"));
  if (m.footer && m.footer.length) {
    const footer = make("footer", "ticket-foot");
    for (const line of m.footer) footer.append(make("p", "", text(line)));
    parts.push(footer);
  }
  el.replaceChildren(...parts);
}

// Records the print, draws what the agent answered (original or duplicate), then prints.
async function printTicket(seq) {
  if (seq == null) return;
  if (ticketSeq !== seq || $("#ticket-dialog").hidden) await openTicket(seq);
  const body = { format: "html" };
  if (operatorName()) body.operator = operatorName();
  const r = await keyedPost(
    printer,
    "print:" + seq,
    "/v1/tickets/" + encodeURIComponent(seq) + "/print?lang=" + lang,
    body,
  );
  if (!r.ok) return failed($("#ticket-result"), r);
  renderTicket(r.body);
  const duplicate = r.body.copy === "duplicate";
  setResult(
    $("#ticket-result"),
    "ok",
    t(duplicate ? "ticket.printed_duplicate" : "ticket.printed"),
  );
  window.print();
}

const printButton = $("#ticket-print");
printButton.addEventListener("click", () => busy(printButton, () => printTicket(ticketSeq)));
