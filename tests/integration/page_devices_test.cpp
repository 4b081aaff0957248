// The operator page's Devices panel (agent/page/devices.js) in headless Chromium: every
// configured device with its state from the status message, an absent one badged offline with
// the agent's reason, in English and Swahili.
#include "page_fixture.hpp"

using namespace page_test;

namespace {

std::string device_row(const std::string& id) {
  return "#devices-rows tr[data-device=\"" + id + "\"]";
}

std::string state_is(const std::string& id, const std::string& state) {
  return "document.querySelector(" + js_quote(device_row(id)) +
         ")?.dataset.state === " + js_quote(state);
}

}  // namespace

TEST_CASE("operator page: the Devices panel lists each device, an absent one badged offline") {
  weighlink::testing::TempDir dir;
  weighlink::testing::PtyScale yard;  // a remote display on a pty
  const auto absent = dir / "gate-display";
  StationOptions options;
  options.config = "displays:\n  - {id: yard, transport: serial, port: '" + yard.path() +
                   "', protocol: mt-continuous}\n  - {id: gate, transport: serial, port: '" +
                   absent.string() + "', protocol: sma}\n";
  Station station(options);
  auto& page = station.browser();
  station.indicator().show("18240");
  REQUIRE(station.shows("18240", "stable"));

  REQUIRE(station.wait(state_is("yard", "ok")));
  REQUIRE(station.wait(state_is("gate", "offline")));
  CHECK(page.evaluate("document.querySelector('#devices-panel').hidden") == false);
  CHECK(station.text(device_row("yard") + " .device-kind") == "remote display");
  CHECK(station.text(device_row("yard") + " .device-state") == "working");
  CHECK(station.text(device_row("gate") + " .device-state") == "offline");
  CHECK(station.text(device_row("gate") + " .device-detail").find(absent.string()) !=
        std::string::npos);
  // The badges look apart: offline in the alarm colour, working in the good one.
  CHECK(page.evaluate("document.querySelector(" + js_quote(device_row("gate") + " .chip") +
                      ").classList.contains('bad')") == true);
  CHECK(style(page, device_row("gate") + " .chip", "backgroundColor") !=
        style(page, device_row("yard") + " .chip", "backgroundColor"));
  CHECK(station.text("#devices-table thead").find("Detail") != std::string::npos);

  page.evaluate("document.querySelector('#devices-panel').scrollIntoView()");
  station.screenshot("operator-devices.png");

  // The display is plugged in: the page follows without a reload.
  weighlink::testing::PtyScale gate(absent);
  REQUIRE(station.wait(state_is("gate", "ok")));
  CHECK(station.text(device_row("gate") + " .device-detail").empty());

  // Swahili: the panel's words change, the device ids stay.
  page.evaluate("setLanguage('sw', false)");
  REQUIRE(station.wait(contains(device_row("yard") + " .device-state", "kinafanya kazi")));
  CHECK(station.text("#devices-title") == "Vifaa");
  CHECK(station.text(device_row("yard") + " .device-kind") == "skrini ya mbali");
  CHECK(station.text(device_row("yard") + " .device-id") == "yard");
  page.evaluate("setLanguage('en', false)");
  CHECK(page.evaluate("[...i18nMissing]").as_array().empty());
  CHECK_MESSAGE(page.exceptions().empty(), station.console());
  CHECK_MESSAGE(!csp_violated(page), station.console());
}

TEST_CASE("operator page: with no device configured the Devices panel stays hidden") {
  Station station;
  station.indicator().show("5000");
  REQUIRE(station.shows("5000", "stable"));
  CHECK(station.browser().evaluate("document.querySelector('#devices-panel').hidden") == true);
  const auto status = station.get("/v1/status").as_object();
  CHECK((!status.contains("devices") || status.at("devices").as_array().empty()));
}
