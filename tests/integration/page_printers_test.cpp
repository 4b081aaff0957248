// The operator page's printers panel (agent/page/printers.js): each printer's state and its jobs,
// a waiting job cancelled with its button, in English and Swahili. The printer is the ESC/POS
// simulator on a TCP listener.
#include <doctest/doctest.h>

#include "page_fixture.hpp"
#include "weighlink/testing/escpos_printer.hpp"

using namespace page_test;
using weighlink::testing::EscposPrinter;

TEST_CASE("operator page: a printer out of paper shows its waiting job, cancelled with a click") {
  auto printer = EscposPrinter::on_tcp();
  printer->set_mode(EscposPrinter::Mode::paper_out);
  StationOptions options;
  options.config = "printers:\n  - {id: gate, type: escpos, transport: tcp, address: '" +
                   printer->address() + "', auto_print: true, poll_interval_ms: 200}\n";
  Station station(options);
  auto& page = station.browser();
  station.indicator().show("18240");
  REQUIRE(station.shows("18240", "stable"));
  auto r = station.post("/v1/captures", "cap-1", R"({"operator":"amina"})");
  REQUIRE_MESSAGE(r.status == 202, r.body);
  const auto seq = std::to_string(json::parse(r.body).at("seq").as_int64());
  const std::string job = "[data-printer=\"gate\"] [data-job=\"" + seq + "-1\"]";

  REQUIRE(station.wait("!document.querySelector('#printers-panel').hidden"));
  REQUIRE(station.wait(contains("[data-printer=\"gate\"] .printer-head", "paper out")));
  REQUIRE(station.wait(contains(job + " .job-state", "waiting")));
  CHECK(station.text(job + " .job-name") == "Ticket " + seq + ", original #1");
  CHECK(station.text("[data-printer=\"gate\"] .chip") == "not printing");
  station.screenshot("operator-printer-paper-out.png");

  page.click(job + " button.cancel");
  REQUIRE(station.wait(contains(job + " .job-state", "cancelled")));
  CHECK(station.text("#printers-msg").find("cancelled") != std::string::npos);
  CHECK(station.get("/v1/printers").at("printers").at(0).at("jobs").at(0).at("state") ==
        "cancelled");

  page.evaluate("setLanguage('sw')");
  REQUIRE(station.wait(contains(job + " .job-state", "imeghairiwa")));
  CHECK(station.text("#printers-title") == "Printa za tiketi");
  CHECK(station.text("[data-printer=\"gate\"] .printer-head").find("karatasi imeisha") !=
        std::string::npos);
  CHECK(page.evaluate("[...i18nMissing]").as_array().empty());
  CHECK(printer->jobs().empty());
  CHECK_MESSAGE(page.exceptions().empty(), station.console());
}
