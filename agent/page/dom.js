"use strict";
// Helpers for the DOM. Data reaches the DOM only through textContent, never as markup.
/* exported $, DASH, make, setText, setResult, age */
const $ = (selector, root = document) => root.querySelector(selector);
const DASH = "\u2013";

function make(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text != null) e.textContent = String(text);
  return e;
}
function setText(el, text) {
  el.textContent = text == null ? "" : String(text);
}
function setResult(el, kind, text) {
  el.classList.remove("ok", "bad", "warn");
  if (kind) el.classList.add(kind);
  setText(el, text);
}
function age(seconds) {
  if (seconds < 60) return seconds + " s";
  if (seconds < 3600) return Math.floor(seconds / 60) + " min";
  return Math.floor(seconds / 3600) + " h " + Math.floor((seconds % 3600) / 60) + " min";
}
