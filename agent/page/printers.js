"use strict";
// Ticket printers (docs/devices.md, "Tickets on the printer at the scale"): each printer's state
// (ready, offline, paper out) and its print jobs (waiting, printing, printed, cancelled) from
// GET /v1/printers, asked every few seconds, with Cancel for a job still waiting. The panel stays
// hidden on a station without printers (the route answers 404 there).
/* global $, make, setText, setResult, request, refusal, busy, t, onLanguage */
/* exported loadPrinters */
const PRINTERS_POLL_MS = 2000;
const PRINTER_DETAILS = {
  "paper out": "printers.detail.paper_out",
  "cover open": "printers.detail.cover_open",
  "paper near end": "printers.detail.paper_near_end",
};
let printersShown = null; // the last list, re-rendered on a language change
let printersTimer = null;

function printerDetail(detail) {
  return PRINTER_DETAILS[detail] ? t(PRINTER_DETAILS[detail]) : detail || "";
}

function printerJob(printer, job) {
  const li = make("li", "printer-job " + job.state);
  li.dataset.job = job.id;
  const copy = t(job.copy === "duplicate" ? "printers.copy.duplicate" : "printers.copy.original");
  li.append(
    make("span", "job-name", t("printers.job", { seq: job.seq, copy, n: job.print_number })),
    make("span", "job-state", t("printers.job_state." + job.state)),
  );
  if (job.state === "queued" && job.detail) {
    li.append(make("span", "job-detail", printerDetail(job.detail)));
  }
  if (job.state === "queued") {
    const button = make("button", "small cancel", t("printers.cancel"));
    button.type = "button";
    button.setAttribute("aria-label", t("printers.cancel_for", { seq: job.seq }));
    button.addEventListener("click", () => busy(button, () => cancelPrint(printer, job)));
    li.append(button);
  }
  return li;
}

function renderPrinters(list) {
  const panel = $("#printers-panel");
  panel.hidden = false;
  const body = $("#printers-list", panel);
  body.replaceChildren(
    ...list.map((p) => {
      const div = make("div", "printer");
      div.dataset.printer = p.id;
      const head = make("p", "printer-head");
      const state = make("span", "chip " + (p.state === "ok" ? "ok" : "bad"));
      setText(state, t("printers.state." + p.state));
      head.append(make("strong", null, p.id), state);
      const detail = printerDetail(p.detail);
      if (detail) head.append(make("span", "printer-detail", detail));
      if (p.pending_jobs > 0) {
        head.append(make("span", "pending", t("printers.pending", { n: p.pending_jobs })));
      }
      const jobs = (p.jobs || []).slice().reverse(); // newest first
      const ul = make("ul", "printer-jobs");
      ul.append(...jobs.map((j) => printerJob(p, j)));
      div.append(head, jobs.length ? ul : make("p", "hint", t("printers.no_jobs")));
      return div;
    }),
  );
}

function renderPrintersFrame() {
  const panel = $("#printers-panel");
  if (!$("#printers-list", panel)) {
    const head = make("div", "panel-head");
    const title = make("h2", null, t("printers.title"));
    title.id = "printers-title";
    head.append(title);
    const list = make("div");
    list.id = "printers-list";
    const msg = make("p", "result");
    msg.id = "printers-msg";
    msg.setAttribute("role", "status");
    panel.replaceChildren(head, list, msg);
  } else {
    setText($("#printers-title"), t("printers.title"));
  }
}

async function loadPrinters() {
  clearTimeout(printersTimer);
  const r = await request("GET", "/v1/printers");
  if (!r.lost && r.status === 404) return; // no printer configured: nothing to show or ask
  if (r.ok) {
    printersShown = r.body.printers || [];
    renderPrintersFrame();
    renderPrinters(printersShown);
  }
  printersTimer = setTimeout(loadPrinters, PRINTERS_POLL_MS);
}

async function cancelPrint(printer, job) {
  const r = await request(
    "POST",
    "/v1/printers/" +
      encodeURIComponent(printer.id) +
      "/jobs/" +
      encodeURIComponent(job.id) +
      "/cancel",
    {},
  );
  setResult(
    $("#printers-msg"),
    r.ok ? "ok" : r.lost ? "warn" : "bad",
    r.ok
      ? t("printers.cancelled", { seq: job.seq })
      : t("printers.not_cancelled") + " " + refusal(r),
  );
  await loadPrinters();
}

onLanguage(() => {
  if (printersShown === null) return;
  renderPrintersFrame();
  renderPrinters(printersShown);
});
loadPrinters();
