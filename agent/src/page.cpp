#include "weighlink/agent/page.hpp"

#include <string>

#include "page_assets.hpp"

namespace weighlink::agent {
namespace {

// The document around the assets. Everything is inline (the page's CSP allows inline style and
// script and nothing from elsewhere) so the page works with no internet. Per-scale parts are
// <template>s the script clones; data is only ever set with textContent.
constexpr std::string_view kHead = R"html(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="dark">
<title>weighlink operator</title>
<style>
)html";

constexpr std::string_view kBody = R"html(</style>
</head>
<body class="offline">
<header class="bar">
  <div class="brand"><span class="logo" aria-hidden="true"></span>weighlink
    <span id="station" class="station"></span></div>
  <dl class="facts">
    <div><dt>Agent</dt><dd><span id="link" class="chip neutral">connecting</span></dd></div>
    <div><dt>Uplink</dt><dd><span id="uplink" class="chip neutral">&ndash;</span></dd></div>
    <div><dt>Queued</dt><dd id="pending">&ndash;</dd></div>
    <div><dt>Oldest queued</dt><dd id="oldest">&ndash;</dd></div>
    <div><dt>Dead letters</dt><dd><span id="dead" class="count">&ndash;</span></dd></div>
  </dl>
</header>
<div id="banner" class="banner" role="alert" hidden>
  <span class="banner-icon" aria-hidden="true">!</span>
  <span><strong>Agent not reachable.</strong> Weights are not live. Reconnecting&hellip;</span>
</div>
<main>
  <div id="scales" class="scales" aria-label="Scales"></div>
  <section class="panel" aria-labelledby="dead-title">
    <div class="panel-head">
      <h2 id="dead-title">Dead letters</h2>
      <button type="button" id="dead-refresh" class="small">Refresh</button>
    </div>
    <p class="hint">Weighings and other records the backend refused. They stay on this PC; fix
      the cause, then retry.</p>
    <table id="dead-table" hidden>
      <thead><tr><th scope="col">Seq</th><th scope="col">Kind</th><th scope="col">Key</th>
        <th scope="col">Attempts</th><th scope="col">Backend said</th>
        <th scope="col"><span class="visually-hidden">Action</span></th></tr></thead>
      <tbody id="dead-rows"></tbody>
    </table>
    <p id="dead-empty" class="hint">No dead letters.</p>
    <p id="dead-msg" class="result" role="status"></p>
  </section>
  <section class="panel" id="notices" aria-labelledby="notices-title" hidden>
    <div class="panel-head"><h2 id="notices-title">Web app notices</h2></div>
    <p class="hint">What the station's web app was refused, or what was recorded differently
      from what it shows. The web app does not show these; check the weighing named.</p>
    <table>
      <thead><tr><th scope="col">Time</th><th scope="col">Event</th><th scope="col">Code</th>
        <th scope="col">What happened</th><th scope="col">Key</th></tr></thead>
      <tbody id="notice-rows"></tbody>
    </table>
  </section>
</main>

<template id="scale-template">
<article class="scale" data-state="nodata">
  <header class="scale-head">
    <h2 class="name"></h2>
    <span class="meta"></span>
    <span class="skipped" title="Readings this page skipped because newer ones had arrived"></span>
  </header>
  <div class="scale-body">
    <div class="display">
      <div class="state"><span class="shape" aria-hidden="true"></span><span
        class="state-text">NO DATA</span></div>
      <div class="readout">
        <span class="label">Gross</span>
        <span class="weight">&ndash;&ndash;&ndash;&ndash;&ndash;</span><span class="unit"></span>
      </div>
      <ul class="decks" hidden></ul>
      <p class="detail"></p>
      <button type="button" class="capture primary">Capture weight</button>
      <p class="result capture-result" role="status"></p>
    </div>
    <div class="controls">
      <section class="axles">
        <h3>Axle weighing</h3>
        <p class="axle-state"></p>
        <div class="axle-row">
          <label>Axles <input class="expected" type="number" min="0" max="20" value="0"
            inputmode="numeric" aria-describedby="axles-hint"></label>
          <button type="button" class="axle-start">Start</button>
        </div>
        <button type="button" class="axle-next primary">Capture axle</button>
        <ol class="axle-list"></ol>
        <div class="axle-total"><span>Running GVW</span><strong class="gvw">&ndash;</strong></div>
        <p class="pending-axle"></p>
        <div class="axle-row">
          <button type="button" class="axle-complete">Complete weighing</button>
          <button type="button" class="axle-reset">Reset</button>
        </div>
        <p class="result axle-result" role="status"></p>
      </section>
    </div>
  </div>
</article>
</template>
<p id="axles-hint" hidden>Number of axles of the vehicle; 0 when not known.</p>

<template id="notice-template">
<tr><td class="at"></td><td class="event"></td><td><code class="code"></code></td>
  <td class="message"></td><td><code class="key"></code></td></tr>
</template>
<template id="dead-template">
<tr><td class="seq"></td><td class="kind"></td><td><code class="key"></code></td>
  <td class="attempts"></td><td class="error"></td>
  <td><button type="button" class="retry small">Retry</button></td></tr>
</template>
<script>
)html";

constexpr std::string_view kTail = R"html(</script>
</body>
</html>
)html";

}  // namespace

std::string_view operator_page_html() {
  static const std::string kPage = [] {
    std::string page;
    for (auto part : {kHead, page::style_css(), kBody, page::script_js_core(),
                      page::script_js_actions(), kTail}) {
      page += part;
    }
    return page;
  }();
  return kPage;
}

}  // namespace weighlink::agent
