"use strict";
// Screens, dialogs and the keyboard. The page has three screens (Weigh, Weighings, Records) and
// two dialogs (the ticket, cancelling a transaction). Shortcuts, also shown on the page:
// F2 plate, Enter in the plate field captures (when the scale is stable), F3 first weighing,
// F4 second weighing, F8 print the ticket (of the weighing just made, or the one open),
// F9 search weighings, Esc closes a dialog. Also the Daylight switch (light page).
/* global $, t, setResult, scale, pickedScale, stateOf, desk, ticketSeq, printTicket,
   loadWeighings, checkChain, loadAudit */
/* exported showScreen, openDialog, closeDialog */
let currentScreen = "weigh";
const returnFocus = new Map(); // dialog -> what had the focus before it opened

function showScreen(name) {
  currentScreen = name;
  for (const el of document.querySelectorAll(".screen")) el.hidden = el.dataset.screen !== name;
  for (const b of document.querySelectorAll("#screens [data-screen]"))
    b.setAttribute("aria-current", b.dataset.screen === name ? "page" : "false");
  if (name === "weighings") loadWeighings(false);
  if (name === "records") {
    checkChain();
    loadAudit(false);
  }
}

function openDialog(el, focus) {
  if (el.hidden) returnFocus.set(el, document.activeElement);
  el.hidden = false;
  if (focus) focus.focus();
}
function closeDialog(el) {
  el.hidden = true;
  const back = returnFocus.get(el);
  returnFocus.delete(el);
  if (back && document.contains(back)) back.focus();
}
function openDialogs() {
  return [...document.querySelectorAll(".overlay:not([hidden])")];
}

// Enter in the plate field: the one-pass capture, only on a stable weight.
function enterCapture() {
  const s = scale(pickedScale());
  if (stateOf(s) !== "stable") return setResult($("#work-result"), "warn", t("work.wait_stable"));
  $("#do-capture").click();
}

const SHORTCUTS = {
  F2: () => {
    showScreen("weigh");
    $("#plate").focus();
    $("#plate").select();
  },
  F3: () => {
    showScreen("weigh");
    $("#do-first").click();
  },
  F4: () => {
    showScreen("weigh");
    $("#do-second").click();
  },
  F8: () => {
    if (ticketSeq != null && !$("#ticket-dialog").hidden) $("#ticket-print").click();
    else if (desk.lastSeq != null) printTicket(desk.lastSeq);
  },
  F9: () => {
    showScreen("weighings");
    $("#search-plate").focus();
  },
};

document.addEventListener("keydown", (e) => {
  if (e.key === "Escape") {
    const dialogs = openDialogs();
    if (dialogs.length) {
      e.preventDefault();
      closeDialog(dialogs[dialogs.length - 1]);
    }
    return;
  }
  const action = SHORTCUTS[e.key];
  if (action && !e.altKey && !e.ctrlKey && !e.metaKey) {
    e.preventDefault();
    if (openDialogs().length && e.key !== "F8") return;
    action();
  }
});
$("#plate").addEventListener("keydown", (e) => {
  if (e.key === "Enter") {
    e.preventDefault();
    enterCapture();
  }
});
for (const b of document.querySelectorAll("#screens [data-screen]"))
  b.addEventListener("click", () => showScreen(b.dataset.screen));
for (const b of document.querySelectorAll("[data-close]"))
  b.addEventListener("click", () => closeDialog(b.closest(".overlay")));
// Daylight: the light page for a sunlit office, remembered on this PC.
const DAYLIGHT_KEY = "weighlink.daylight";
function setDaylight(on, remember) {
  document.body.classList.toggle("daylight", on);
  $("#daylight").setAttribute("aria-pressed", on ? "true" : "false");
  if (!remember) return;
  try {
    if (on) localStorage.setItem(DAYLIGHT_KEY, "1");
    else localStorage.removeItem(DAYLIGHT_KEY);
  } catch (e) {
    // no storage: the choice lasts until the page is reloaded
  }
}
$("#daylight").addEventListener("click", () =>
  setDaylight(!document.body.classList.contains("daylight"), true),
);
try {
  setDaylight(localStorage.getItem(DAYLIGHT_KEY) === "1", false);
} catch (e) {
  setDaylight(false, false);
}
showScreen(currentScreen);
