// The "Lights and barriers" panel of the operator page (agent/page/io.js) in headless Chromium,
// against the real agent driving a Modbus TCP module simulated on loopback: the lane's lights
// shown, an override clicked, recorded in the audit trail, and given back to the policy.
#include "page_fixture.hpp"
#include "weighlink/testing/modbus_sim.hpp"

using namespace page_test;
using weighlink::testing::ModbusSim;

TEST_CASE("operator page: the io panel shows the lights and overrides one, audited") {
  ModbusSim sim;
  StationOptions options;
  options.config = "io:\n  modules: [{id: io-1, address: '" + sim.address() +
                   "', poll_ms: 30}]\n"
                   "  lanes:\n    - outputs: {entry_red: {coil: 0}, entry_green: {coil: 1}, "
                   "exit_red: {coil: 2}, exit_green: {coil: 3}}\n";
  Station station(options);
  auto& page = station.browser();
  station.indicator().show("0");
  const std::string entry = "#io-lanes [data-target='entry_light']";
  REQUIRE(station.wait("!document.querySelector('#io-panel').hidden"));
  REQUIRE(station.wait(contains(entry + " .io-state", "green")));
  CHECK(station.text("#io-lanes h3").find("ready for the next vehicle") != std::string::npos);
  CHECK(station.text(entry + " .io-source") == "automatic");
  REQUIRE(weighlink::testing::eventually([&] { return sim.coil(1) && !sim.coil(0); },
                                         std::chrono::seconds(10)));

  // No reason typed: refused on the page, nothing recorded.
  const auto before = station.audit();
  page.evaluate("document.querySelector('#operator').value = 'op-9'");
  page.click(entry + " button[data-state='red']");
  REQUIRE(station.wait(contains("#io-msg", "reason")));
  CHECK(station.audit() == before);

  page.evaluate("document.querySelector('#io-reason').value = 'lane closed for cleaning'");
  page.click(entry + " button[data-state='red']");
  REQUIRE(station.wait(contains("#io-msg", "recorded as audit event")));
  REQUIRE(station.wait(contains(entry + " .io-state", "red")));
  CHECK(station.text(entry + " .io-source") == "manual");
  REQUIRE(weighlink::testing::eventually([&] { return sim.coil(0) && !sim.coil(1); },
                                         std::chrono::seconds(10)));
  CHECK(station.audit() == before + 1);
  const auto audit = station.get("/v1/audit?after=" + std::to_string(before));
  const auto& event = audit.at("items").at(0);
  CHECK(event.at("by") == "op-9");
  CHECK(event.at("reason") == "lane closed for cleaning");
  CHECK(event.at("new") == "red");
  station.screenshot("io-override.png");

  // Given back to the policy: green again.
  page.click(entry + " .io-release");
  REQUIRE(station.wait(contains(entry + " .io-state", "green")));
  CHECK(station.audit() == before + 2);

  // In Swahili too.
  page.evaluate("setLanguage('sw', true)");
  REQUIRE(station.wait(contains("#io-panel h2", "Taa na vizuizi")));
  CHECK(station.text(entry + " .io-state") == "kijani");
  CHECK_FALSE(csp_violated(page));
  CHECK_MESSAGE(page.exceptions().empty(), station.console());
}
