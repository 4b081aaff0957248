"use strict";
// The ticket of a weighing: the agent's ticket model (GET /v1/tickets/{seq}) drawn on screen,
// printed by the browser (ticket.css prints the ticket alone) and offered as the agent's PDF
// (/v1/tickets/{seq}.pdf). Print first records the print (POST /v1/tickets/{seq}/print): the
// agent answers the model with copy "original" the first time and "duplicate" after, so the
// paper always says which it is.
/* global $, make, setText, setResult, request, keyedPost, busy, t, operatorName,
   openDialog, desk, failed */
/* exported openTicket, printTicket, ticketSeq */
let ticketSeq = null;
const printer = { keys: {} };

async function openTicket(seq) {
  ticketSeq = seq;
  $("#ticket-pdf").href = "/v1/tickets/" + encodeURIComponent(seq) + ".pdf";
  setResult($("#ticket-result"), "warn", t("ticket.loading"));
  $("#ticket").replaceChildren();
  openDialog($("#ticket-dialog"), $("#ticket-print"));
  const r = await request("GET", "/v1/tickets/" + encodeURIComponent(seq));
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

function softwareText(sw) {
  if (!sw) return "";
  if (typeof sw === "string") return sw;
  const hash = sw.sha256 ? " \u00b7 sha256 " + sw.sha256.slice(0, 16) : "";
  return (sw.name || "") + " " + (sw.version || "") + hash;
}

// Draws the model: header lines, the copy mark, label/value rows, weights, decks or axles, the
// record's identity and the footer. Unknown members are left out, never guessed.
function renderTicket(m) {
  const el = $("#ticket");
  el.dataset.copy = m.copy || "";
  el.dataset.seq = m.seq ?? ticketSeq;
  el.classList.toggle("paper-80mm", m.paper === "80mm");
  const parts = [];
  const header = make("header", "ticket-head");
  for (const line of m.header || m.header_lines || []) header.append(make("p", "", text(line)));
  header.append(make("h3", "", m.title || t("ticket.title")));
  parts.push(header);
  if (m.copy) {
    const copy = make(
      "p",
      "ticket-copy " + m.copy,
      m.copy === "duplicate" ? t("ticket.copy_duplicate") : t("ticket.copy_original"),
    );
    if (m.print_number != null) copy.append(make("span", "", " #" + m.print_number));
    parts.push(copy);
  }
  parts.push(table(rowsOf(m.rows || m.fields), "ticket-rows"));
  const weights = m.weights || m.weight_rows;
  if (weights) parts.push(table(rowsOf(weights), "ticket-weights"));
  for (const key of ["decks", "axles"]) {
    const list = m[key];
    if (Array.isArray(list) && list.length) {
      parts.push(
        table(
          list.map((d) => ({
            label: text(
              d.label ??
                t(key === "decks" ? "ticket.deck" : "ticket.axle") + " " + (d.index ?? d.number),
            ),
            value: text(d.value ?? d.weight) + (d.unit ? " " + d.unit : ""),
          })),
          "ticket-" + key,
        ),
      );
    }
  }
  const ids = [];
  const recordId = m.record_id ?? (m.station_id ? m.station_id + "/" + m.seq : null);
  if (recordId) ids.push({ id: "record_id", label: t("ticket.record_id"), value: recordId });
  if (m.hash_prefix || m.record_hash)
    ids.push({
      id: "hash",
      label: t("ticket.hash"),
      value: m.hash_prefix || m.record_hash.slice(0, 16),
    });
  if (m.software)
    ids.push({ id: "software", label: t("ticket.software"), value: softwareText(m.software) });
  if (m.audit_counter != null)
    ids.push({ id: "audit", label: t("ticket.audit_counter"), value: m.audit_counter });
  if (ids.length) parts.push(table(ids, "ticket-ids"));
  if (m.footer || m.footer_lines) {
    const footer = make("footer", "ticket-foot");
    for (const line of m.footer || m.footer_lines) footer.append(make("p", "", text(line)));
    parts.push(footer);
  }
  el.replaceChildren(...parts);
}

// Records the print, draws what the agent answered (original or duplicate), then prints.
async function printTicket() {
  const seq = ticketSeq ?? desk.lastSeq;
  if (seq == null) return;
  if (ticketSeq !== seq || $("#ticket-dialog").hidden) await openTicket(seq);
  const body = { format: "html" };
  if (operatorName()) body.operator = operatorName();
  const r = await keyedPost(
    printer,
    "print:" + seq,
    "/v1/tickets/" + encodeURIComponent(seq) + "/print",
    body,
  );
  if (!r.ok) return failed($("#ticket-result"), r);
  renderTicket(r.body.ticket || r.body);
  setResult(
    $("#ticket-result"),
    "ok",
    (r.body.ticket || r.body).copy === "duplicate"
      ? t("ticket.printed_duplicate")
      : t("ticket.printed"),
  );
  window.print();
}

const printButton = $("#ticket-print");
printButton.addEventListener("click", () => busy(printButton, printTicket));
setText($("#ticket-result"), "");
