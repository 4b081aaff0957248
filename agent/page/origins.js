"use strict";
// Origin pairing on the operator page: the status document's "origins" (every status message)
// drives the lists; Allow, Deny and Revoke post to /v1/origins/{allow,deny,revoke}, which only
// this page (same origin as the agent) may call.
/* global $, make, setText, setResult, request, busy, t, onLanguage, failed */
/* exported renderOrigins */
let originsKey = null; // what the lists on screen show, to rebuild them only when it changes
const SOURCE_KEYS = {
  paired: "origins.paired",
  config: "origins.config",
  preset: "origins.preset",
};
let originsDoc = null;

function renderOrigins(doc) {
  const pending = doc.pending || [],
    allowed = doc.allowed || [],
    denied = doc.denied || [];
  originsDoc = doc;
  const key = JSON.stringify([
    pending.map((p) => p.origin),
    allowed.map((a) => [a.origin, a.source]),
    denied.map((d) => [d.origin, d.source]),
  ]);
  $("#origins-panel").classList.toggle("asking", pending.length > 0);
  if (key !== originsKey) {
    originsKey = key;
    $("#origins-asks").replaceChildren(...pending.map(askItem));
    const rows = allowed
      .map((a) => originRow(a, "allowed"))
      .concat(denied.map((d) => originRow(d, "denied")));
    $("#origins-rows").replaceChildren(...rows);
    $("#origins-table").hidden = rows.length === 0;
    $("#origins-empty").hidden = rows.length > 0 || pending.length > 0;
  }
  for (const p of pending) {
    const li = [...document.querySelectorAll("#origins-asks .ask")].find(
      (e) => e.dataset.origin === p.origin,
    );
    if (li)
      setText(
        $(".seen", li),
        t(p.count === 1 ? "origins.seen_one" : "origins.seen_many", {
          n: p.count,
          at: new Date(p.last_seen).toLocaleTimeString(),
        }),
      );
  }
}

function askItem(p) {
  const li = $("#ask-template").content.firstElementChild.cloneNode(true);
  li.dataset.origin = p.origin;
  // "Allow ORIGIN to use this station's scale?" in the words of the language, the origin bold.
  $(".question", li).replaceChildren(
    t("origins.ask_before") + " ",
    make("strong", "origin", p.origin),
    " " + t("origins.ask_after"),
    make("span", "seen"),
  );
  for (const action of ["allow", "deny"]) {
    const button = $("." + action, li);
    button.setAttribute("aria-label", t("origins." + action + "_for", { origin: p.origin }));
    button.addEventListener("click", () => busy(button, () => decideOrigin(action, p.origin)));
  }
  return li;
}

function originRow(o, state) {
  const tr = $("#origin-template").content.firstElementChild.cloneNode(true);
  tr.dataset.origin = o.origin;
  setText($(".origin", tr), o.origin);
  tr.dataset.state = state;
  setText($(".origin-state", tr), t("origins." + state));
  setText($(".origin-source", tr), SOURCE_KEYS[o.source] ? t(SOURCE_KEYS[o.source]) : o.source);
  const button = $(".revoke", tr);
  if (!o.revocable) {
    button.remove(); // set in a file: changed there, not here
  } else {
    button.setAttribute("aria-label", t("origins.revoke_for", { origin: o.origin }));
    button.addEventListener("click", () => busy(button, () => decideOrigin("revoke", o.origin)));
  }
  return tr;
}

async function decideOrigin(action, origin) {
  const r = await request("POST", "/v1/origins/" + action, { origin });
  if (!r.ok) return failed($("#origins-msg"), r, t("origins.not_changed"));
  renderOrigins(r.body);
  setResult($("#origins-msg"), "ok", t("origins." + action + "_done", { origin }));
}

onLanguage(() => {
  originsKey = null;
  if (originsDoc) renderOrigins(originsDoc);
});
