"use strict";
// The record for an inspector: the software identification (status "software"), whether the
// whole record chain verifies (GET /v1/evidence), the verification of one record by its seq
// (GET /v1/records/{seq}/verify: hash, signature, chain link and the reading it came from), the
// evidence store's state (status "evidence") and the audit trail of setting changes
// (GET /v1/audit, with its non-resettable counter).
/* global $, make, setText, setResult, request, busy, t, hasMessage, onLanguage, failed */
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

// Members of status "evidence" and of a verified record's "reading", by their catalogue keys;
// a member the page does not know is shown by its own name.
const EVIDENCE_KEYS = [
  "retention_days",
  "archived_records",
  "archive_bytes",
  "max_archive_bytes",
  "used_percent",
  "alarm",
  "oldest_archived_seq",
  "trimmed_through_seq",
  "readback_failures",
  "disk_free_bytes",
];
function valueText(key, v) {
  if (v == null) return "\u2013";
  if (typeof v === "boolean") return t(v ? "common.yes" : "common.no");
  if (key.endsWith("_bytes") && typeof v === "number") return (v / 1048576).toFixed(1) + " MB";
  if (key === "used_percent") return v + " %";
  if (key === "frames" && Array.isArray(v))
    return v.length + ": " + v.map((f) => (f && f.weight != null ? f.weight : "?")).join(", ");
  return typeof v === "object" ? JSON.stringify(v) : String(v);
}
function pairs(el, obj, prefix, order) {
  const keys = order
    .filter((k) => k in obj)
    .concat(Object.keys(obj).filter((k) => !order.includes(k)));
  el.replaceChildren(
    ...keys.map((k) => {
      const div = make("div");
      div.dataset.key = k;
      const label = hasMessage(prefix + k) ? t(prefix + k) : k;
      div.append(make("dt", "", label), make("dd", "", valueText(k, obj[k])));
      return div;
    }),
  );
}

function showEvidenceStatus(ev) {
  evidenceStatus = ev || null;
  const box = $("#evidence-store");
  box.hidden = !ev;
  if (!ev) return;
  pairs($("#evidence-store-rows"), ev, "evidence.", EVIDENCE_KEYS);
  box.classList.toggle("alert", ev.alarm === true);
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
  pairs($("#verify-reading"), v.reading || {}, "reading.", READING_KEYS);
}

const READING_KEYS = ["scale", "reading_seq", "reading_ts", "protocol", "raw", "frames"];

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
