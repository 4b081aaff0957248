"use strict";
// The local API: requests with a bound wait, and the rules every button follows. A keyed POST
// keeps its Idempotency-Key while its outcome is unknown, so pressing the button again repeats
// the same request and the agent can never record it twice.
/* global t, hasMessage, setResult */
/* exported request, keyedPost, refusal, failed, busy */
const REQUEST_MS = 20000; // an HTTP request unanswered by then is a network error

function newKey() {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes); // also outside secure contexts, unlike randomUUID()
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

// {ok, status, body} for a JSON answer; {lost, message} when none came.
async function request(method, path, body, key) {
  const init = { method, headers: {}, cache: "no-store" };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  if (key) init.headers["Idempotency-Key"] = key;
  if (AbortSignal.timeout) init.signal = AbortSignal.timeout(REQUEST_MS);
  let res;
  try {
    res = await fetch(path, init);
  } catch (e) {
    return { lost: true, message: t("api.no_answer") };
  }
  let data = null;
  try {
    data = await res.json();
  } catch (e) {
    data = null;
  }
  if (!data || typeof data !== "object") {
    return { lost: true, message: t("api.unexpected", { status: res.status }) };
  }
  return { ok: res.ok, status: res.status, body: data };
}

async function keyedPost(s, slot, path, body) {
  const key = s.keys[slot] || (s.keys[slot] = newKey());
  const r = await request("POST", path, body, key);
  const unknown = r.lost || (r.status === 409 && r.body.error === "idempotency_key_in_progress");
  if (!unknown) delete s.keys[slot];
  return r;
}

// What went wrong, for the operator: the catalogue's words for the refusals an operator meets
// ("error.<code>"), the agent's own message for the rest.
function refusal(r) {
  if (r.lost) return t("api.lost", { message: r.message });
  if (r.body.error && hasMessage("error." + r.body.error)) return t("error." + r.body.error);
  return r.body.message || r.body.error || "HTTP " + r.status;
}

// Shows a request that failed in `el`: a warning when the answer was lost (press again), an
// error when the agent refused, after `prefix` ("Not captured:").
function failed(el, r, prefix) {
  setResult(el, r.lost ? "warn" : "bad", (prefix && !r.lost ? prefix + " " : "") + refusal(r));
}

// Runs `work` for a button once at a time; the button keeps its focus meanwhile.
async function busy(button, work) {
  if (button.getAttribute("aria-busy") === "true") return;
  button.setAttribute("aria-busy", "true");
  button.classList.add("busy");
  try {
    await work();
  } finally {
    button.removeAttribute("aria-busy");
    button.classList.remove("busy");
  }
}
