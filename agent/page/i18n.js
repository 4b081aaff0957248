"use strict";
// The page's languages: every visible string comes from the message catalogue (lang_en.js,
// lang_sw.js) through t(). The document's own strings carry their key in data-i18n (text),
// data-i18n-placeholder, data-i18n-title and data-i18n-aria (aria-label); scripts call t(key,
// {name: value}). A key missing from the language in use is shown as the key itself and listed
// in i18nMissing, which the page tests insist is empty. The language is the station's
// (/v1/station "language") unless the operator picked another on this PC (kept in localStorage).
/* global $, MESSAGES_EN, MESSAGES_SW */
/* exported t, hasMessage, lang, i18nMissing, applyI18n, setLanguage, stationLanguage, onLanguage */
const CATALOGUES = { en: MESSAGES_EN, sw: MESSAGES_SW };
const LANG_KEY = "weighlink.language";
const i18nMissing = new Set();
let lang = "en";
let stationLang = "en";
const languageHooks = [];

function t(key, vars) {
  const catalogue = CATALOGUES[lang] || CATALOGUES.en;
  let text = catalogue[key];
  if (text == null) {
    i18nMissing.add(lang + ":" + key);
    text = key;
  }
  if (vars) text = text.replace(/\{(\w+)\}/g, (m, name) => (name in vars ? vars[name] : m));
  return text;
}

function hasMessage(key) {
  return (CATALOGUES[lang] || CATALOGUES.en)[key] != null;
}

const ATTRS = [
  ["data-i18n-placeholder", "placeholder"],
  ["data-i18n-title", "title"],
  ["data-i18n-aria", "aria-label"],
];
// A table's column heads are named by their keys in data-cols ("!key": read aloud, not shown).
function tableHead(table) {
  const row = document.createElement("tr");
  for (const key of table.dataset.cols.split(" ")) {
    const th = document.createElement("th");
    th.scope = "col";
    const hidden = key.startsWith("!");
    const span = document.createElement("span");
    if (hidden) span.className = "visually-hidden";
    span.textContent = t(hidden ? key.slice(1) : key);
    th.append(span);
    row.append(th);
  }
  if (table.tHead) table.tHead.replaceChildren(row);
  else table.createTHead().append(row);
}

function applyI18n(root) {
  for (const el of root.querySelectorAll("table[data-cols]")) tableHead(el);
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const [data, attr] of ATTRS) {
    for (const el of root.querySelectorAll("[" + data + "]"))
      el.setAttribute(attr, t(el.getAttribute(data)));
  }
}

// Called with the new language whenever it changes, to redraw what scripts wrote.
function onLanguage(hook) {
  languageHooks.push(hook);
}

function setLanguage(next, remember) {
  if (!CATALOGUES[next]) return;
  if (remember) {
    try {
      if (next === stationLang) localStorage.removeItem(LANG_KEY);
      else localStorage.setItem(LANG_KEY, next);
    } catch (e) {
      // no storage (private window): the choice lasts until the page is reloaded
    }
  }
  lang = next;
  document.documentElement.lang = next;
  applyI18n(document);
  for (const tpl of document.querySelectorAll("template")) applyI18n(tpl.content);
  $("#language").value = next;
  for (const hook of languageHooks) hook(next);
}

function localLanguage() {
  try {
    return localStorage.getItem(LANG_KEY);
  } catch (e) {
    return null;
  }
}

// The station's configured language, unless this PC chose another.
function stationLanguage(station) {
  stationLang = CATALOGUES[station] ? station : "en";
  const local = localLanguage();
  setLanguage(CATALOGUES[local] ? local : stationLang, false);
}

$("#language").addEventListener("change", (e) => setLanguage(e.target.value, true));
setLanguage(CATALOGUES[localLanguage()] ? localLanguage() : lang, false);
