"use strict";
// The vehicle being weighed: its plate (recently seen plates offered from GET /v1/plates), the
// station's reference fields (GET /v1/station: typed inputs, required ones marked, choices as
// selects), the operator's name and the scale the workstation weighs on. What the operator
// entered goes into every capture made from this page (vehicleInput()).
/* global $, make, request, t, lang, onLanguage, stationLanguage, scales */
/* exported station, loadStation, vehicleInput, normalizePlate, operatorName, pickedScale,
   setPlate, fieldLabel, refreshScalePick */
const OPERATOR_KEY = "weighlink.operator";
let station = { station_id: "", reference_fields: [], scales: [], language: "en" };

// Upper case, inner spaces and dashes removed: "kbz 123a" and "KBZ-123A" are one vehicle.
function normalizePlate(text) {
  return String(text || "")
    .toUpperCase()
    .replace(/[\s-]+/g, "");
}

function fieldLabel(f) {
  const label = f.label || {};
  if (typeof label === "string") return label;
  return label[lang] || label.en || f.id;
}
function choiceOf(c) {
  if (typeof c !== "object" || c == null) return { value: String(c), label: String(c) };
  const label = c.label && typeof c.label === "object" ? c.label[lang] || c.label.en : c.label;
  const value = String(c.value ?? c.id ?? label);
  return { value, label: label || value };
}

async function loadStation() {
  const r = await request("GET", "/v1/station");
  if (!r.ok) return; // an agent without the workstation: plate only
  station = r.body;
  stationLanguage(station.language);
  renderFields();
  refreshScalePick();
}

function renderFields() {
  const box = $("#ref-fields");
  const before = {};
  for (const el of box.querySelectorAll("[data-field]")) before[el.dataset.field] = el.value;
  box.replaceChildren(
    ...(station.reference_fields || []).map((f) => {
      const label = make("label", "field");
      const name = make("span", "field-name", fieldLabel(f));
      if (f.required) {
        name.append(make("abbr", "required", "*"));
        $("abbr", name).title = t("vehicle.required");
      }
      let input;
      if (f.type === "choice") {
        input = make("select");
        const empty = make("option", "", f.required ? t("vehicle.choose") : DASH_OPTION);
        empty.value = "";
        input.append(empty);
        for (const c of (f.choices || []).map(choiceOf)) {
          const o = make("option", "", c.label);
          o.value = c.value;
          input.append(o);
        }
      } else {
        input = make("input");
        input.type = "text";
        input.autocomplete = "off";
        if (f.type === "number") input.inputMode = "decimal";
        if (f.max_length) input.maxLength = f.max_length;
      }
      input.dataset.field = f.id;
      input.required = !!f.required;
      if (before[f.id] != null) input.value = before[f.id];
      label.append(name, input);
      return label;
    }),
  );
}
const DASH_OPTION = "\u2013";

// {plate, reference} from the form, or {error, element} naming what is missing or wrong.
function vehicleInput(needPlate) {
  const plateEl = $("#plate");
  const plate = normalizePlate(plateEl.value);
  if (plate && !/^[A-Z0-9]{1,16}$/.test(plate))
    return { error: t("vehicle.plate_invalid"), element: plateEl };
  if (needPlate && !plate) return { error: t("vehicle.plate_needed"), element: plateEl };
  const reference = {};
  for (const f of station.reference_fields || []) {
    const el = $('[data-field="' + CSS.escape(f.id) + '"]', $("#ref-fields"));
    const value = el ? el.value.trim() : "";
    if (!value) {
      if (f.required)
        return { error: t("vehicle.field_needed", { field: fieldLabel(f) }), element: el };
      continue;
    }
    if (f.type === "number" && !/^-?\d+(\.\d+)?$/.test(value))
      return { error: t("vehicle.field_number", { field: fieldLabel(f) }), element: el };
    reference[f.id] = value;
  }
  return { plate, reference };
}

function setPlate(plate) {
  $("#plate").value = plate;
}

function operatorName() {
  return $("#operator").value.trim();
}

// The scale the workstation's buttons weigh on: picked when the station has several.
function pickedScale() {
  const pick = $("#scale-pick");
  if (pick.value) return pick.value;
  const first = scales.keys().next();
  return first.done ? (station.scales || [])[0] || "main" : first.value;
}
function refreshScalePick() {
  const ids = new Set([...(station.scales || []), ...scales.keys()]);
  const pick = $("#scale-pick");
  const current = pick.value;
  pick.replaceChildren(
    ...[...ids].map((id) => {
      const o = make("option", "", t("scale.name", { id }));
      o.value = id;
      return o;
    }),
  );
  if (ids.has(current)) pick.value = current;
  $("#scale-pick-label").hidden = ids.size < 2;
}

// Recently seen plates, offered as the operator types.
let platesAsked = null;
async function offerPlates() {
  const prefix = normalizePlate($("#plate").value);
  if (prefix === platesAsked) return;
  platesAsked = prefix;
  const r = await request("GET", "/v1/plates?prefix=" + encodeURIComponent(prefix));
  if (!r.ok || prefix !== platesAsked) return;
  const items = Array.isArray(r.body) ? r.body : r.body.items || r.body.plates || [];
  $("#plates").replaceChildren(
    ...items.slice(0, 20).map((p) => {
      const o = make("option");
      o.value = typeof p === "string" ? p : p.plate;
      return o;
    }),
  );
}

$("#plate").addEventListener("input", offerPlates);
$("#plate").addEventListener("focus", offerPlates);
try {
  $("#operator").value = localStorage.getItem(OPERATOR_KEY) || "";
} catch (e) {
  // no storage: the operator types the name again after a reload
}
$("#operator").addEventListener("change", () => {
  try {
    localStorage.setItem(OPERATOR_KEY, operatorName());
  } catch (e) {
    // as above
  }
});
onLanguage(() => {
  renderFields();
  refreshScalePick();
});
