"use strict";
// Dead letters: what the backend refused, listed from GET /v1/outbox?state=dead, each with Retry.
/* global $, setText, setResult, request, refusal, busy, t, onLanguage, failed */
/* exported DEAD_LIMIT, deadShown, deadLoading, loadDead */
const DEAD_LIMIT = 100;
let deadShown = null; // dead letters in the list on screen
let deadLoading = false;

let deadGeneration = 0;
async function loadDead() {
  const generation = ++deadGeneration;
  deadLoading = true;
  const r = await request("GET", "/v1/outbox?state=dead&limit=" + DEAD_LIMIT);
  if (generation !== deadGeneration) return; // a newer list is on its way
  deadLoading = false;
  if (!r.ok) return failed($("#dead-msg"), r, t("dead.cannot_list"));
  const items = r.body.items || [];
  deadShown = items.length;
  $("#dead-rows").replaceChildren(...items.map(deadRow));
  $("#dead-table").hidden = items.length === 0;
  $("#dead-empty").hidden = items.length > 0;
}

function deadRow(item) {
  const tr = $("#dead-template").content.firstElementChild.cloneNode(true);
  tr.dataset.key = item.idempotency_key;
  setText($(".seq", tr), item.seq);
  setText($(".kind", tr), item.kind);
  setText($(".key", tr), item.idempotency_key);
  setText($(".attempts", tr), item.attempts);
  setText($(".error", tr), item.last_error || item.outcome || "");
  const button = $(".retry", tr);
  button.setAttribute("aria-label", t("dead.retry_for", { kind: item.kind, seq: item.seq }));
  button.addEventListener("click", () => busy(button, () => retryDead(item)));
  return tr;
}

async function retryDead(item) {
  const r = await request(
    "POST",
    "/v1/outbox/" + encodeURIComponent(item.idempotency_key) + "/retry",
  );
  setResult(
    $("#dead-msg"),
    r.ok ? "ok" : r.lost ? "warn" : "bad",
    r.ok
      ? t("dead.requeued", { seq: item.seq, kind: item.kind })
      : t("dead.not_released") + " " + refusal(r),
  );
  await loadDead();
}

$("#dead-refresh").addEventListener("click", loadDead);
onLanguage(() => loadDead());
