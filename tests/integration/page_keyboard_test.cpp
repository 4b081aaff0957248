// The operator page as a workstation driven from the keyboard, in both languages and at the
// smallest screen it supports (1366x768), in headless Chromium against the real agent.
#include "page_fixture.hpp"

using namespace page_test;

namespace {

// JavaScript: no part of the document is wider than the window (no scrolling sideways).
const std::string kFitsWidth = "document.scrollingElement.scrollWidth <= innerWidth";

std::string focused_id(Chromium& page) {
  auto v = page.evaluate("document.activeElement ? document.activeElement.id : ''");
  return v.is_string() ? std::string(v.as_string()) : std::string();
}

}  // namespace

TEST_CASE("operator page: Enter in the plate field captures the stable weight with the plate") {
  Station station;
  auto& page = station.browser();
  station.indicator().show("18240", /*motion=*/true);
  REQUIRE(station.shows("18240", "motion"));

  // F2 takes the operator to the plate field from anywhere on the page.
  page.evaluate("document.querySelector('#do-tare').focus()");
  page.press("F2");
  REQUIRE(station.wait("document.activeElement.id === 'plate'"));
  page.type("#operator", "Amina");
  page.press("Tab");  // the name is kept for the next weighings
  page.press("F2");
  CHECK(focused_id(page) == "plate");
  page.type("#plate", "kbz 123-a");

  // In motion, Enter records nothing and says what to wait for.
  page.press("Enter");
  REQUIRE(station.wait(contains("#work-result", "wait for STABLE")));
  CHECK(station.outbox("weighing.captured").empty());

  station.indicator().show("18240");
  REQUIRE(station.shows("18240", "stable"));
  page.press("F2");
  page.press("Enter");
  REQUIRE(station.wait(
      contains(kScale + " .capture-result", "Captured 18240 kg \u00b7 " + station.seq(1))));
  REQUIRE(station.wait(contains("#work-result", station.seq(1))));
  const auto captured = station.outbox("weighing.captured");
  REQUIRE(captured.size() == 1);
  const auto& payload = captured[0].at("payload");
  INFO(json::serialize(payload));
  CHECK(payload.at("reference").at("plate") == "KBZ123A");  // normalized
  CHECK(payload.at("operator") == "Amina");
  CHECK(page.evaluate("document.querySelector('#work-ticket').hidden") == false);

  // A plate that cannot be one is refused on the page, and nothing is recorded.
  page.type("#plate", "KBZ*123");
  page.press("Enter");
  REQUIRE(station.wait(contains(kScale + " .capture-result", "1 to 16 letters and digits")));
  CHECK(station.outbox("weighing.captured").size() == 1);
  CHECK_MESSAGE(page.exceptions().empty(), station.console());
}

TEST_CASE("operator page: the shortcuts switch screens and Esc closes a dialog") {
  Station station;
  auto& page = station.browser();
  station.indicator().show("18240");
  REQUIRE(station.shows("18240", "stable"));
  CHECK(station.text("#shortcuts").find("F8") != std::string::npos);

  page.press("F9");  // search
  REQUIRE(station.wait("!document.querySelector('[data-screen=\"weighings\"].screen').hidden"));
  CHECK(focused_id(page) == "search-plate");
  CHECK(page.evaluate("document.querySelector('[data-screen=\"weigh\"].screen').hidden") == true);
  page.click("#screens [data-screen='records']");
  REQUIRE(station.wait("!document.querySelector('[data-screen=\"records\"].screen').hidden"));
  page.press("F2");  // back to weighing, in the plate field
  REQUIRE(station.wait("document.activeElement.id === 'plate'"));
  CHECK(page.evaluate("document.querySelector('[data-screen=\"weigh\"].screen').hidden") == false);

  // A dialog opens with the focus in it; Esc closes it and gives the focus back.
  page.evaluate("openCancel({id: 'wb-page-T9', plate: 'KBZ123A'})");
  REQUIRE(station.wait("!document.querySelector('#cancel-dialog').hidden"));
  CHECK(focused_id(page) == "cancel-reason");
  page.press("Escape");
  REQUIRE(station.wait("document.querySelector('#cancel-dialog').hidden"));
  CHECK(focused_id(page) == "plate");
  CHECK_MESSAGE(page.exceptions().empty(), station.console());
}

TEST_CASE("operator page: every screen fits 1366x768 without scrolling sideways") {
  Station station({.protocol = "mt-continuous",
                   .scale_keys = "",
                   .agent_args = {},
                   .config = {},
                   .width = 1366,
                   .height = 768});
  auto& page = station.browser();
  station.indicator().show("18240");
  REQUIRE(station.shows("18240", "stable"));
  CHECK(page.evaluate("innerWidth") == 1366);
  CHECK(page.evaluate(kFitsWidth) == true);
  // The vehicle form stands beside the scale, in the first screenful.
  CHECK(page.evaluate("document.querySelector('#do-first').getBoundingClientRect().bottom <= "
                      "innerHeight") == true);
  station.screenshot("operator-1366x768.png");
  for (const std::string screen : {"weighings", "records", "weigh"}) {
    page.click("#screens [data-screen='" + screen + "']");
    REQUIRE(
        station.wait("!document.querySelector('[data-screen=\"" + screen + "\"].screen').hidden"));
    INFO(screen);
    CHECK(page.evaluate(kFitsWidth) == true);
  }
  // In Swahili too: its words are longer.
  page.evaluate("setLanguage('sw', true)");
  REQUIRE(station.wait("document.documentElement.lang === 'sw'"));
  CHECK(page.evaluate(kFitsWidth) == true);
  CHECK_MESSAGE(page.exceptions().empty(), station.console());
}

TEST_CASE("operator page: every string comes from the catalogue, in English and Swahili") {
  Station station;
  auto& page = station.browser();
  station.indicator().show("18240");
  REQUIRE(station.shows("18240", "stable"));
  // Both catalogues have the same keys.
  CHECK(page.evaluate("JSON.stringify(Object.keys(MESSAGES_EN).sort()) === "
                      "JSON.stringify(Object.keys(MESSAGES_SW).sort())") == true);
  INFO(json::serialize(
      page.evaluate("Object.keys(MESSAGES_EN).filter((k) => !(k in MESSAGES_SW))"
                    ".concat(Object.keys(MESSAGES_SW).filter((k) => !(k in MESSAGES_EN)))")));
  // The document as served: every piece of text sits in an element that names its key.
  const auto untagged = page.evaluate(R"((async () => {
    const html = await (await fetch('/', {cache: 'no-store'})).text();
    const doc = new DOMParser().parseFromString(html, 'text/html');
    const out = [];
    const roots = [doc.body, ...[...doc.querySelectorAll('template')].map((t) => t.content)];
    for (const root of roots) {
      const walk = doc.createTreeWalker(root, NodeFilter.SHOW_TEXT);
      for (let n = walk.nextNode(); n; n = walk.nextNode()) {
        const text = n.textContent.trim();
        const el = n.parentElement;
        if (!/[A-Za-z]/.test(text) || el.closest('script, style, kbd, option, .brand')) continue;
        if (!el.closest('[data-i18n]')) out.push(text);
      }
    }
    return out;
  })())");
  CHECK_MESSAGE(untagged.as_array().empty(), json::serialize(untagged));

  // The operator picks Swahili: the page speaks it, and the choice outlives a reload.
  page.evaluate("document.querySelector('#language').focus()");
  page.evaluate(
      "const s = document.querySelector('#language'); s.value = 'sw';"
      "s.dispatchEvent(new Event('change'))");
  REQUIRE(station.wait(contains(kScale + " .state-text", "IMETULIA")));
  CHECK(station.text("#screens [data-screen='weigh']") == "Pima");
  CHECK(station.text("#vehicle .plate-field .field-name") == "Nambari ya gari");
  CHECK(station.text(kScale + " .label") == "Uzito jumla");
  CHECK(station.text("#link") == "hai");
  station.screenshot("operator-sw.png");
  page.navigate("http://" + station.http() + "/");
  REQUIRE(station.wait(contains(kScale + " .capture", "Rekodi uzito")));
  REQUIRE(station.shows("18240", "stable"));
  CHECK(station.text(kScale + " .state-text") == "IMETULIA");

  // No English string is left on screen: no text equals an English message that Swahili words
  // differently.
  const auto english = page.evaluate(R"((() => {
    const en = new Set(Object.entries(MESSAGES_EN)
      .filter(([k, v]) => MESSAGES_SW[k] !== v && /[a-z]{3}/.test(v)).map(([, v]) => v));
    const out = [];
    const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let n = walk.nextNode(); n; n = walk.nextNode()) {
      if (en.has(n.textContent.trim())) out.push(n.textContent.trim());
    }
    for (const el of document.querySelectorAll('[aria-label], [title], [placeholder]')) {
      for (const a of ['aria-label', 'title', 'placeholder'])
        if (en.has(el.getAttribute(a))) out.push(a + ': ' + el.getAttribute(a));
    }
    return out;
  })())");
  CHECK_MESSAGE(english.as_array().empty(), json::serialize(english));

  // Back to English; no key was missing in either language.
  page.evaluate("setLanguage('en', true)");
  REQUIRE(station.wait(contains(kScale + " .state-text", "STABLE")));
  CHECK(station.text("#screens [data-screen='weigh']") == "Weigh");
  CHECK(page.evaluate("[...i18nMissing]").as_array().empty());
  CHECK_MESSAGE(page.exceptions().empty(), station.console());
}

TEST_CASE("operator page: a Swahili station opens in Swahili, labels of its fields too") {
  StationOptions options;
  options.config =
      "station:\n"
      "  language: sw\n"
      "  reference_fields:\n"
      "    - {id: customer, label: {en: Customer, sw: Mteja}, type: text, required: true}\n";
  Station station(options);
  auto& page = station.browser();
  station.indicator().show("18240");
  REQUIRE(station.shows("18240", "stable"));
  REQUIRE(station.wait("document.documentElement.lang === 'sw'"));
  CHECK(station.text(kScale + " .state-text") == "IMETULIA");
  REQUIRE(station.wait(contains("#ref-fields", "Mteja")));
  CHECK(station.text("#do-first") == "Upimaji wa kwanza (F3)");
  CHECK(page.evaluate("document.querySelector('#language').value") == "sw");
  // A required field left empty is refused in Swahili.
  page.type("#plate", "KBZ 123A");
  page.press("F3");
  REQUIRE(station.wait(contains("#work-result", "Jaza Mteja")));
  CHECK(page.evaluate("[...i18nMissing]").as_array().empty());
  CHECK_MESSAGE(page.exceptions().empty(), station.console());
}

TEST_CASE("operator page: Daylight turns the page light, and this PC keeps the choice") {
  Station station;
  auto& page = station.browser();
  station.indicator().show("18240");
  REQUIRE(station.shows("18240", "stable"));
  const auto dark = style(page, "body", "backgroundColor");
  page.click("#daylight");
  REQUIRE(station.wait("document.body.classList.contains('daylight')"));
  CHECK(page.evaluate("document.querySelector('#daylight').getAttribute('aria-pressed')") ==
        "true");
  CHECK(style(page, "body", "backgroundColor") != dark);
  CHECK(style(page, kScale + " .weight", "color") == "rgb(10, 18, 32)");  // dark ink
  page.navigate("http://" + station.http() + "/");
  REQUIRE(station.shows("18240", "stable"));
  CHECK(page.evaluate("document.body.classList.contains('daylight')") == true);
  station.screenshot("operator-daylight.png");
  page.click("#daylight");
  REQUIRE(station.wait("!document.body.classList.contains('daylight')"));
  CHECK(style(page, "body", "backgroundColor") == dark);
  CHECK_MESSAGE(page.exceptions().empty(), station.console());
}
