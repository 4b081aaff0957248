"use strict";
// The record for an inspector: the software identification (status "software"), whether the
// whole record chain verifies (GET /v1/evidence), the verification of one record by its seq
// (GET /v1/records/{seq}/verify: hash, signature, chain link and the reading it came from), the
// evidence store's state (status "evidence") and the audit trail of setting changes
// (GET /v1/audit, with its non-resettable counter).
/* global $, make, setText, setResult, request, busy, t, onLanguage, failed */
/* exported showSoftware, showEvidenceStatus, checkChain, loadAudit */
let software = null;
let evidenceStatus = null;

function showSoftware(sw) {
  if (!sw || JSON.stringify(sw) === JSON.stringify(software)) return;
  software = sw;
  const short = (sw.name || "") + " " + (sw.version || "");
  setText($("#software"), short);
  $("#software").title = "sha256 " + (sw.sha256 || t("records.unknown"));
  setText($("#sw-name"), sw.name || "");
  setText($("#sw-version"), sw.version || "");
  setText($("#sw-sha"), sw.sha256 || t("records.unknown"));
}

function showEvidenceStatus(ev) {
  evidenceStatus = ev || null;
  const box = $("#evidence-store");
  box.hidden = !ev;
  if (!ev) return;
  const rows = Object.entries(ev).map(([k, v]) => ({
    label: k,
    value: typeof v === "object" && v != null ? JSON.stringify(v) : String(v),
  }));
  $("#evidence-store-rows").replaceChildren(
    ...rows.map((r) => {
      const div = make("div");
      div.append(make("dt", "", r.label), make("dd", "", r.value));
      return div;
    }),
  );
  const alarm =
    ev.alarm === true || (typeof ev.alarm === "string" && ev.alarm !== "" && ev.alarm !== "ok");
  $("#evidence-store").classList.toggle("alert", alarm);
}

function verdict(el, ok) {
  el.className = "chip " + (ok ? "ok" : "bad");
  setText(el, ok ? t("records.verifies") : t("records.fails"));
}

async function checkChain() {
  const out = $("#chain-result");
  setResult(out, "warn", t("records.checking"));
  const r = await request("GET", "/v1/evidence");
  if (!r.ok) return failed(out, r);
  const e = r.body;
  verdict($("#chain-verdict"), e.ok);
  setResult(
    out,
    e.ok ? "ok" : "bad",
    t("records.chain_detail", {
      checked: e.checked,
      head: e.head_seq ?? "\u2013",
      anchor: e.anchor_seq ?? "\u2013",
    }),
  );
  $("#chain-problems").replaceChildren(
    ...(e.problems || []).map((p) => make("li", "", problemText(p))),
  );
}

function problemText(p) {
  if (typeof p !== "object" || p == null) return String(p);
  const where = p.seq != null ? t("records.seq", { seq: p.seq }) + ": " : "";
  return where + (p.message || p.problem || p.code || JSON.stringify(p));
}

const CHECKS = [
  ["hash_ok", "records.hash_ok"],
  ["signature_ok", "records.signature_ok"],
  ["chain_ok", "records.chain_ok"],
];

async function verifyRecord() {
  const out = $("#verify-result");
  const seq = $("#verify-seq").value.trim();
  if (!/^\d+$/.test(seq)) {
    $("#verify-seq").focus();
    return setResult(out, "bad", t("records.seq_needed"));
  }
  setResult(out, "warn", t("records.checking"));
  const r = await request("GET", "/v1/records/" + seq + "/verify");
  $("#verify-box").hidden = !r.ok;
  if (!r.ok) return failed(out, r);
  const v = r.body;
  verdict($("#verify-verdict"), v.ok);
  setResult(
    out,
    v.ok ? "ok" : "bad",
    v.ok ? t("records.record_ok", { seq }) : t("records.record_bad", { seq }),
  );
  $("#verify-checks").replaceChildren(
    ...CHECKS.map(([k, key]) => {
      const li = make("li", v[k] ? "ok" : "bad");
      li.dataset.check = k;
      li.append(make("span", "mark", v[k] ? "\u2713" : "\u2717"), make("span", "", t(key)));
      return li;
    }),
  );
  $("#verify-problems").replaceChildren(
    ...(v.problems || []).map((p) => make("li", "", problemText(p))),
  );
  const reading = v.reading || {};
  $("#verify-reading").replaceChildren(
    ...Object.entries(reading).map(([k, val]) => {
      const div = make("div");
      div.append(
        make("dt", "", k),
        make("dd", "", typeof val === "object" ? JSON.stringify(val) : String(val)),
      );
      return div;
    }),
  );
}

let auditNext = 0;
async function loadAudit(more) {
  const out = $("#audit-result");
  const after = more ? auditNext : 0;
  const r = await request("GET", "/v1/audit?after=" + after + "&limit=100");
  if (!r.ok) return failed(out, r);
  const items = r.body.items || [];
  setText($("#audit-counter"), r.body.counter ?? "\u2013");
  auditNext = r.body.next_after ?? after;
  const rows = items.map((a) => {
    const tr = $("#audit-template").content.firstElementChild.cloneNode(true);
    tr.dataset.n = a.n;
    setText($(".a-n", tr), a.n);
    setText($(".a-at", tr), a.at ? new Date(a.at).toLocaleString() : "");
    setText($(".a-setting", tr), a.setting);
    setText($(".a-scope", tr), a.scope);
    setText(
      $(".a-old", tr),
      a.old == null ? "" : typeof a.old === "object" ? JSON.stringify(a.old) : a.old,
    );
    setText(
      $(".a-new", tr),
      a.new == null ? "" : typeof a.new === "object" ? JSON.stringify(a.new) : a.new,
    );
    setText($(".a-by", tr), a.by);
    setText($(".a-reason", tr), a.reason);
    return tr;
  });
  if (more) $("#audit-rows").append(...rows);
  else $("#audit-rows").replaceChildren(...rows);
  const shown = $("#audit-rows").children.length;
  $("#audit-table").hidden = shown === 0;
  $("#audit-more").hidden = items.length === 0 || r.body.next_after == null;
  setResult(out, "", shown ? "" : t("records.audit_none"));
}

function wire(selector, action) {
  const button = $(selector);
  button.addEventListener("click", () => busy(button, action));
}
wire("#chain-check", checkChain);
wire("#verify-go", verifyRecord);
wire("#audit-refresh", () => loadAudit(false));
wire("#audit-more", () => loadAudit(true));
$("#verify-seq").addEventListener("keydown", (e) => {
  if (e.key === "Enter") $("#verify-go").click();
});
onLanguage(() => {
  if (software) {
    const sw = software;
    software = null;
    showSoftware(sw);
  }
  if (evidenceStatus) showEvidenceStatus(evidenceStatus);
});
