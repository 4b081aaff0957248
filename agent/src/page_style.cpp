#include "page_assets.hpp"

namespace weighlink::agent::page {

// Dark, high-contrast, readable from across the weighbridge office: each scale state has its own
// colour, word and shape (circle stable, triangle motion, square on red stripes stale), so it
// reads without colour vision too. System fonts only.
std::string_view style_css() {
  static constexpr std::string_view kStyle = R"css(
:root {
  --bg: #0a0f1a; --panel: #111827; --panel-2: #1a2333; --line: #2b3a52; --text: #f1f5f9;
  --muted: #a3b1c6; --ok: #22c55e; --ok-ink: #04220f; --warn: #fbbf24; --warn-ink: #231a02;
  --bad: #dc2626; --bad-2: #7f1d1d; --focus: #facc15;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--text); font-size: 16px; line-height: 1.4; }
:focus-visible { outline: 4px solid var(--focus); outline-offset: 3px; }
[hidden] { display: none !important; }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden;
  clip: rect(0 0 0 0); white-space: nowrap; }
button { font: inherit; font-weight: 650; color: var(--text); background: #243247;
  border: 2px solid #50627e; border-radius: 8px; padding: .55rem 1.1rem; cursor: pointer;
  min-height: 2.75rem; }
button:hover:not(:disabled) { background: #2f415c; border-color: #7c8fad; }
button:disabled, button.primary:disabled { background: #1a2333; border-color: #334155;
  color: #8291a8; cursor: not-allowed; }
button.primary { background: #2563eb; border-color: #60a5fa; color: #fff; }
button.primary:hover:not(:disabled) { background: #1d4ed8; }
button.small { min-height: 2.25rem; padding: .3rem .8rem; font-size: .95rem; }
button.busy { cursor: progress; }

.bar { display: flex; flex-wrap: wrap; align-items: center; justify-content: space-between;
  gap: .75rem 2rem; padding: .7rem 1.5rem; background: #0d1424;
  border-bottom: 1px solid var(--line); }
.brand { font-size: 1.35rem; font-weight: 750; letter-spacing: .02em; display: flex;
  align-items: center; gap: .6rem; }
.logo { width: 1.3rem; height: 1.3rem; border-radius: 4px; border: 3px solid #60a5fa;
  border-top-width: 7px; }
.station { font-weight: 500; color: var(--muted); font-size: 1.05rem; }
.facts { display: flex; flex-wrap: wrap; gap: .5rem 1.75rem; margin: 0; }
.facts div { display: flex; flex-direction: column; }
.facts dt { font-size: .75rem; text-transform: uppercase; letter-spacing: .08em;
  color: var(--muted); }
.facts dd { margin: 0; font-size: 1.15rem; font-weight: 650; font-variant-numeric: tabular-nums; }
.chip { display: inline-block; padding: .05rem .6rem; border-radius: 999px; font-size: .95rem;
  font-weight: 750; text-transform: uppercase; letter-spacing: .05em; }
.chip.ok { background: var(--ok); color: var(--ok-ink); }
.chip.warn { background: var(--warn); color: var(--warn-ink); }
.chip.bad { background: var(--bad); color: #fff; }
.chip.neutral { background: #334155; color: #f1f5f9; }
.count.alert { color: #fca5a5; }

.banner { display: flex; align-items: center; gap: 1rem; padding: .9rem 1.5rem;
  font-size: 1.35rem; color: #fff; background: repeating-linear-gradient(-45deg,
  var(--bad) 0 18px, var(--bad-2) 18px 36px); border-bottom: 3px solid #fecaca; }
.banner-icon { display: inline-grid; place-items: center; width: 2rem; height: 2rem;
  border-radius: 50%; background: #fff; color: var(--bad); font-weight: 900; }

main { padding: 1.25rem 1.5rem 2rem; display: grid; gap: 1.25rem; }
.scales { display: grid; gap: 1.25rem; grid-template-columns: repeat(auto-fit, minmax(34rem, 1fr)); }
.scale { background: var(--panel); border: 1px solid var(--line); border-left: 10px solid #475569;
  border-radius: 14px; padding: 1rem 1.25rem 1.25rem; }
.scale[data-state="stable"] { border-left-color: var(--ok); }
.scale[data-state="motion"] { border-left-color: var(--warn); }
.scale[data-state="stale"], .scale[data-state="range"] { border-left-color: var(--bad); }
.scale-head { display: flex; align-items: baseline; gap: 1rem; flex-wrap: wrap; }
.scale-head h2 { margin: 0; font-size: 1.4rem; }
.meta { color: var(--muted); }
.skipped { margin-left: auto; color: var(--muted); font-size: .85rem;
  font-variant-numeric: tabular-nums; }
.scale-body { display: flex; flex-wrap: wrap; gap: 1.25rem 2rem; margin-top: .8rem; }
.display { flex: 3 1 30rem; min-width: 0; }
.controls { flex: 1 1 20rem; display: flex; flex-direction: column; gap: .6rem; }

.state { display: flex; align-items: center; gap: .9rem; padding: .55rem 1.1rem;
  border-radius: 10px; font-size: 2.1rem; font-weight: 850; letter-spacing: .1em;
  background: #334155; color: #f1f5f9; border: 3px solid transparent; }
.shape { flex: none; width: 1.9rem; height: 1.9rem; background: currentColor; }
.scale[data-state="stable"] .state { background: var(--ok); color: var(--ok-ink); }
.scale[data-state="stable"] .shape { border-radius: 50%; }
.scale[data-state="motion"] .state { background: var(--warn); color: var(--warn-ink); }
.scale[data-state="motion"] .shape { clip-path: polygon(50% 0, 100% 100%, 0 100%); }
.scale[data-state="stale"] .state, .scale[data-state="range"] .state { color: #fff;
  background: repeating-linear-gradient(-45deg, var(--bad) 0 16px, var(--bad-2) 16px 32px);
  border-color: #fecaca; }
.scale[data-state="range"] .state { background: var(--bad); }
.scale[data-state="range"] .shape { clip-path: polygon(30% 0, 70% 0, 100% 30%, 100% 70%,
  70% 100%, 30% 100%, 0 70%, 0 30%); }
.scale[data-state="nodata"] .state, .scale[data-state="offline"] .state { color: #e2e8f0;
  background: repeating-linear-gradient(-45deg, #334155 0 16px, #1e293b 16px 32px); }
.scale[data-state="nodata"] .shape, .scale[data-state="offline"] .shape {
  background: transparent; border: 4px solid currentColor; }

.readout { position: relative; container-type: inline-size; display: flex;
  align-items: baseline; justify-content: flex-end; gap: .75rem; margin: .6rem 0 .2rem;
  padding: 1.6rem .9rem .2rem; background: #05080f; border-radius: 10px;
  border: 1px solid var(--line); }
.label { position: absolute; top: .55rem; left: .9rem; color: var(--muted); font-size: 1rem;
  text-transform: uppercase; letter-spacing: .1em; font-weight: 700; }
/* The digits grow with the card: seven characters and the unit always fit. */
.weight { font-size: clamp(3rem, 18cqi, 8.5rem); font-weight: 750; line-height: 1.05;
  font-variant-numeric: tabular-nums; letter-spacing: -.01em; color: #fff; white-space: nowrap; }
.unit { font-size: clamp(1.4rem, 5cqi, 2.4rem); font-weight: 700; color: var(--muted); min-width: 2.5ch; }
.scale[data-state="stale"] .weight, .scale[data-state="nodata"] .weight { color: #64748b; }
.scale[data-state="offline"] .readout, .scale[data-state="offline"] .decks {
  filter: grayscale(1); opacity: .35; }
.decks { list-style: none; margin: .6rem 0 0; padding: 0; display: grid; gap: .5rem;
  grid-template-columns: repeat(auto-fit, minmax(9.5rem, 1fr)); }
.decks li { background: var(--panel-2); border: 1px solid var(--line); border-top: 4px solid;
  border-radius: 8px; padding: .35rem .8rem; font-variant-numeric: tabular-nums; }
.decks li.stable { border-top-color: var(--ok); }
.decks li.motion { border-top-color: var(--warn); }
.deck-head { display: flex; justify-content: space-between; gap: .5rem; color: var(--muted);
  font-size: .9rem; font-weight: 700; text-transform: uppercase; letter-spacing: .06em; }
.deck-state::before { content: ""; display: inline-block; width: .7em; height: .7em;
  margin-right: .3em; background: currentColor; }
.decks li.stable .deck-state { color: var(--ok); }
.decks li.stable .deck-state::before { border-radius: 50%; }
.decks li.motion .deck-state { color: var(--warn); }
.decks li.motion .deck-state::before { clip-path: polygon(50% 0, 100% 100%, 0 100%); }
.deck-weight { font-size: 1.9rem; font-weight: 750; }
.deck-weight small { font-size: 1rem; color: var(--muted); margin-left: .3rem; }
.detail { margin: .4rem 0 0; color: var(--muted); min-height: 1.4em; }

.capture { width: 100%; margin-top: .4rem; font-size: 1.6rem; padding: .9rem 1rem;
  min-height: 4.2rem; }
.axle-next { font-size: 1.2rem; min-height: 3.2rem; }
.result { margin: .3rem 0 0; min-height: 1.4em; font-size: 1.15rem; font-weight: 600; }
.result.ok { color: #86efac; }
.result.bad { color: #fca5a5; }
.result.warn { color: #fde68a; }
.axles { background: var(--panel-2); border: 1px solid var(--line); border-radius: 10px;
  padding: .75rem 1rem; display: flex; flex-direction: column; gap: .55rem; }
.axles h3 { margin: 0; font-size: 1.1rem; text-transform: uppercase; letter-spacing: .08em;
  color: var(--muted); }
.axle-state { margin: 0; font-weight: 600; }
.axle-row { display: flex; flex-wrap: wrap; gap: .5rem; align-items: center; }
.axle-row label { display: flex; align-items: center; gap: .4rem; font-weight: 600; }
.expected { width: 4.5rem; font: inherit; font-size: 1.15rem; padding: .4rem .5rem;
  color: var(--text); background: #05080f; border: 2px solid #50627e; border-radius: 8px; }
.axle-list { margin: 0; padding: 0; list-style: none; display: grid; gap: .25rem; }
.axle-list:empty { display: none; }
.axle-list li { display: flex; justify-content: space-between; gap: 1rem; padding: .3rem .6rem;
  background: #0d1424; border-radius: 6px; font-variant-numeric: tabular-nums; }
.axle-list li b { font-size: 1.2rem; }
.axle-total { display: flex; justify-content: space-between; align-items: baseline;
  border-top: 1px solid var(--line); padding-top: .45rem; font-weight: 600; }
.axle-total strong { font-size: 1.6rem; font-variant-numeric: tabular-nums; }
.pending-axle { margin: 0; color: var(--muted); min-height: 1.4em; }

.panel { background: var(--panel); border: 1px solid var(--line); border-radius: 14px;
  padding: 1rem 1.25rem; }
.panel-head { display: flex; align-items: center; justify-content: space-between; gap: 1rem; }
.panel h2 { margin: 0; font-size: 1.25rem; }
.hint { color: var(--muted); margin: .4rem 0; }
table { width: 100%; border-collapse: collapse; margin-top: .5rem;
  font-variant-numeric: tabular-nums; }
th, td { text-align: left; padding: .45rem .6rem; border-bottom: 1px solid var(--line);
  vertical-align: middle; }
th { color: var(--muted); font-size: .8rem; text-transform: uppercase; letter-spacing: .08em; }
td.error { color: #fecaca; max-width: 32rem; overflow-wrap: anywhere; }
code { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: .9rem; }
.asks { list-style: none; margin: .5rem 0; padding: 0; display: grid; gap: .6rem; }
.ask { display: flex; flex-wrap: wrap; align-items: center; gap: .6rem 1rem; padding: .8rem 1rem;
  background: var(--panel-2); border: 2px solid var(--warn); border-radius: 10px; }
.ask .question { margin: 0; font-size: 1.15rem; flex: 1 1 24rem; overflow-wrap: anywhere; }
.ask .seen { display: block; color: var(--muted); font-size: .9rem; font-weight: 400; }
.ask-actions { display: flex; gap: .6rem; }
#origins-panel.asking { border-color: var(--warn); }
td.origin { overflow-wrap: anywhere; }
td.origin-state { font-weight: 700; }
tr[data-state="allowed"] .origin-state { color: var(--ok); }
tr[data-state="denied"] .origin-state { color: #fca5a5; }
@media (max-width: 40rem) {
  .scales { grid-template-columns: 1fr; }
  .state { font-size: 1.5rem; }
}
)css";
  return kStyle;
}

}  // namespace weighlink::agent::page
