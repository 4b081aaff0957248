// The operator page's weighing flows in headless Chromium against the real agent and a pty
// indicator: two passes with the net and the ticket (original, then duplicate), one pass with a
// stored tare, an open transaction across a restart, cancelling one, and the search.
#include "page_fixture.hpp"

using namespace page_test;

namespace {

// The station's reference fields as a station manager configures them (docs/configuration.md).
const std::string kStationConfig =
    "station:\n"
    "  language: en\n"
    "  reference_fields:\n"
    "    - {id: customer, label: {en: Customer, sw: Mteja}, type: text, required: true}\n"
    "    - {id: product, label: {en: Product, sw: Bidhaa}, type: choice, choices: [maize, sand]}\n"
    "    - {id: order, label: {en: Order, sw: Agizo}, type: number}\n";

StationOptions workstation() {
  StationOptions o;
  o.config = kStationConfig;
  return o;
}

// The outbox row of the n-th weighing (1: the first).
json::object weighing(Station& station, std::size_t n) {
  const auto rows = station.outbox("weighing.captured");
  REQUIRE_MESSAGE(rows.size() >= n, "only " << rows.size() << " weighings");
  return rows[n - 1];
}
std::string seq_of(const json::object& row) { return std::to_string(row.at("seq").as_int64()); }

// The vehicle leaves the deck and the indicator comes back to zero (zero return).
void drive_off(Station& station) {
  station.indicator().show("0");
  REQUIRE(station.shows("0", "stable"));
}

// Waits for the workstation's reference fields (from GET /v1/station) on the page.
void fields_ready(Station& station) {
  REQUIRE(station.wait("document.querySelectorAll('#ref-fields [data-field]').length === 3"));
}

}  // namespace

TEST_CASE("operator page: a two-pass weighing, its net, its ticket and a reprint as duplicate") {
  Station station(workstation());
  auto& page = station.browser();
  station.indicator().show("18240");
  REQUIRE(station.shows("18240", "stable"));
  fields_ready(station);
  CHECK(station.text("#ref-fields").find("Customer*") != std::string::npos);  // required marked
  CHECK(page.evaluate("document.querySelector('[data-field=\"product\"]').tagName") == "SELECT");

  // The loaded truck: plate, then F3. The required customer is missing: refused on the page.
  page.press("F2");
  page.type("#plate", "kbz 123a");
  page.press("F3");
  REQUIRE(station.wait(contains("#work-result", "Fill in Customer")));
  CHECK(page.evaluate("document.activeElement.dataset.field") == "customer");
  page.type("[data-field='customer']", "Acme Millers");
  page.press("Tab");  // to the product: a select, chosen from the keyboard
  page.press("s");
  page.type("[data-field='order']", "4711");
  page.press("F3");
  REQUIRE(station.wait(contains("#work-result", "First weighing 18240 kg recorded")));
  const std::string row = "#tx-rows tr[data-plate='KBZ123A']";
  REQUIRE(station.wait("document.querySelector(" + js_quote(row) + ") !== null"));
  CHECK(station.text(row + " .tx-first") == "18240 kg");
  CHECK(station.text(row + " .tx-ref").find("Acme Millers") != std::string::npos);
  const auto first_row = weighing(station, 1);
  const auto& first = first_row.at("payload");
  INFO(json::serialize(first));
  CHECK(first.at("reference").at("plate") == "KBZ123A");
  CHECK(first.at("reference").at("product") == "sand");
  CHECK(first.at("reference").at("order") == "4711");
  CHECK(first.at("transaction").at("pass") == 1);
  station.screenshot("operator-weigh.png");

  // It unloads: off the deck, back to zero, and on again empty.
  drive_off(station);
  station.indicator().show("6200");
  REQUIRE(station.shows("6200", "stable"));
  page.press("F2");
  page.type("#plate", "KBZ-123A");
  page.press("F4");
  REQUIRE(station.wait("!document.querySelector('#work-net').hidden"));
  CHECK(station.text("#work-net .net-value") == "12040 kg");
  CHECK(station.text("#work-net .net-detail").find("18240") != std::string::npos);
  REQUIRE(station.wait("document.querySelector(" + js_quote(row) + ") === null"));
  const auto second_row = weighing(station, 2);
  const auto& second = second_row.at("payload");
  INFO(json::serialize(second));
  const auto& tx = second.at("transaction");
  CHECK(tx.at("pass") == 2);
  CHECK(tx.at("net") == "12040");
  CHECK(tx.at("gross") == "18240");
  CHECK(tx.at("tare") == "6200");
  CHECK(tx.at("first").at("seq") == first_row.at("seq"));
  station.screenshot("operator-net.png");

  // F8 prints the ticket of the weighing just made: the original.
  page.press("F8");
  REQUIRE(station.wait(contains("#ticket .ticket-copy", "ORIGINAL")));
  CHECK(station.text("#ticket").find("wb-page/" + seq_of(second_row)) != std::string::npos);
  CHECK(station.text("#ticket .ticket-weights").find("12040") != std::string::npos);
  CHECK(station.text("#ticket").find("KBZ123A") != std::string::npos);
  CHECK(station.text("#ticket").find("Acme Millers") != std::string::npos);
  REQUIRE(station.wait(contains("#ticket-result", "Printed")));
  // On paper only the ticket: the rest of the page is not printed.
  page.call("Emulation.setEmulatedMedia", {{"media", "print"}});
  CHECK(style(page, "#ticket", "display") == "block");
  CHECK(style(page, ".bar", "display") == "none");
  CHECK(style(page, "main", "display") == "none");
  CHECK(style(page, "#ticket-dialog .dialog-head", "display") == "none");
  page.call("Emulation.setEmulatedMedia", {{"media", ""}});
  station.screenshot("operator-ticket.png");

  // Printed again: a duplicate, and both prints are on record.
  page.click("#ticket-print");
  REQUIRE(station.wait(contains("#ticket .ticket-copy", "DUPLICATE")));
  CHECK(station.text("#ticket-result").find("DUPLICATE") != std::string::npos);
  const auto prints = station.outbox("weighlink.ticket_printed");
  REQUIRE(prints.size() == 2);
  CHECK(prints[1].at("payload").at("copy") == "duplicate");
  page.press("Escape");
  REQUIRE(station.wait("document.querySelector('#ticket-dialog').hidden"));
  CHECK_MESSAGE(page.exceptions().empty(), station.console());
}

TEST_CASE("operator page: a stored tare, then one pass against it") {
  Station station(workstation());
  auto& page = station.browser();
  station.indicator().show("6200");
  REQUIRE(station.shows("6200", "stable"));
  fields_ready(station);
  page.type("#plate", "kca 1b");
  page.type("[data-field='customer']", "Sand Co");
  page.click("#do-tare");
  REQUIRE(station.wait(contains("#work-result", "Tare of KCA1B stored: 6200 kg")));
  REQUIRE(station.wait(contains("#tare-rows", "KCA1B")));
  CHECK(station.text("#tare-rows tr[data-plate='KCA1B'] .tare-weight") == "6200 kg");

  drive_off(station);
  station.indicator().show("24500");
  REQUIRE(station.shows("24500", "stable"));
  page.click("#do-stored");
  REQUIRE(station.wait("!document.querySelector('#work-net').hidden"));
  CHECK(station.text("#work-net .net-value") == "18300 kg");
  const auto captured = station.outbox("weighing.captured");
  REQUIRE(captured.size() == 2);
  const auto& tx = captured[1].at("payload").at("transaction");
  INFO(json::serialize(tx));
  CHECK(tx.at("mode") == "stored_tare");
  CHECK(tx.at("net") == "18300");
  CHECK(tx.at("stored_tare").at("seq") == captured[0].at("seq"));
  station.screenshot("operator-stored-tare.png");

  // A plate with no stored tare: the agent refuses, and the page says what to do.
  drive_off(station);
  station.indicator().show("24500");
  REQUIRE(station.shows("24500", "stable"));
  page.type("#plate", "KDD 9");
  page.click("#do-stored");
  REQUIRE(station.wait(contains("#work-result", "weigh it empty first")));
  CHECK(station.outbox("weighing.captured").size() == 2);
  CHECK_MESSAGE(page.exceptions().empty(), station.console());
}

TEST_CASE("operator page: an open transaction outlives a restart; another is cancelled") {
  Station station(workstation());
  auto& page = station.browser();
  station.indicator().show("30100");
  REQUIRE(station.shows("30100", "stable"));
  fields_ready(station);
  for (const std::string plate : {"KAA 100A", "KBB 200B"}) {
    page.type("#plate", plate);
    page.type("[data-field='customer']", "Acme");
    page.click("#do-first");
    REQUIRE(station.wait(contains("#work-result", "First weighing 30100 kg recorded")));
    drive_off(station);
    station.indicator().show("30100");
    REQUIRE(station.shows("30100", "stable"));
  }
  REQUIRE(station.wait("document.querySelectorAll('#tx-rows tr').length === 2"));

  // The agent stops and starts; the page is reloaded: both are still open.
  station.restart_agent();
  page.navigate("http://" + station.http() + "/");
  REQUIRE(station.wait("document.querySelectorAll('#tx-rows tr').length === 2"));
  station.screenshot("operator-open-transactions.png");

  // One is cancelled with a reason (kept on record).
  page.click("#tx-rows tr[data-plate='KBB200B'] .tx-cancel");
  REQUIRE(station.wait("!document.querySelector('#cancel-dialog').hidden"));
  page.press("Enter");  // no reason yet: refused
  REQUIRE(station.wait(contains("#cancel-result", "Give the reason")));
  page.type("#cancel-reason", "driver left without unloading");
  page.press("Enter");
  REQUIRE(station.wait("document.querySelector('#cancel-dialog').hidden"));
  REQUIRE(station.wait(contains("#work-result", "cancelled")));
  REQUIRE(station.wait("document.querySelectorAll('#tx-rows tr').length === 1"));
  const auto cancelled = station.outbox("weighlink.transaction_cancelled");
  REQUIRE(cancelled.size() == 1);
  CHECK(cancelled[0].at("payload").at("reason") == "driver left without unloading");

  // The other completes from its row.
  drive_off(station);
  station.indicator().show("11100");
  REQUIRE(station.shows("11100", "stable"));
  page.click("#tx-rows tr[data-plate='KAA100A'] .tx-second");
  REQUIRE(station.wait("!document.querySelector('#work-net').hidden"));
  CHECK(station.text("#work-net .net-value") == "19000 kg");
  REQUIRE(station.wait("document.querySelectorAll('#tx-rows tr').length === 0"));
  CHECK_MESSAGE(page.exceptions().empty(), station.console());
}

TEST_CASE("operator page: weighings are found by plate, reference text and state") {
  Station station(workstation());
  auto& page = station.browser();
  fields_ready(station);
  const std::vector<std::pair<std::string, std::string>> trucks = {
      {"KAA 1", "Acme Millers"}, {"KBB 2", "Sand Co"}, {"KAA 1", "Sand Co"}};
  int seq = 0;
  for (const auto& [plate, customer] : trucks) {
    station.indicator().show(std::to_string(10000 + 1000 * seq));
    REQUIRE(station.shows(std::to_string(10000 + 1000 * seq), "stable"));
    page.type("#plate", plate);
    page.type("[data-field='customer']", customer);
    page.press("F2");
    page.press("Enter");
    REQUIRE(station.wait(contains("#work-result", station.seq(++seq))));
    drive_off(station);
  }

  page.press("F9");
  REQUIRE(station.wait("document.querySelectorAll('#weighing-rows tr').length === 3"));
  CHECK(station.text("#weighing-rows tr:first-child .w-seq") ==
        seq_of(weighing(station, 3)));  // newest first
  page.type("#search-plate", "kaa-1");
  page.press("Enter");
  REQUIRE(station.wait("document.querySelectorAll('#weighing-rows tr').length === 2"));
  CHECK(station.text("#weighing-rows").find("KBB2") == std::string::npos);
  page.type("#search-text", "sand");
  page.press("Enter");
  REQUIRE(station.wait("document.querySelectorAll('#weighing-rows tr').length === 1"));
  CHECK(station.text("#weighing-rows .w-seq") == seq_of(weighing(station, 3)));
  CHECK(station.text("#weighing-rows .w-state") == "queued");
  station.screenshot("operator-weighings.png");
  page.evaluate(
      "const s = document.querySelector('#search-state'); s.value = 'sent';"
      "s.dispatchEvent(new Event('change'))");
  page.click("#search-go");
  REQUIRE(station.wait(contains("#search-result", "No weighing matches")));

  // A row's Ticket opens that weighing's ticket; looking is not printing.
  page.evaluate(
      "document.querySelector('#search-text').value = '';"
      "document.querySelector('#search-state').value = ''");
  page.click("#search-go");
  REQUIRE(station.wait("document.querySelectorAll('#weighing-rows tr').length === 2"));
  const auto one = seq_of(weighing(station, 1));
  page.click("#weighing-rows tr[data-seq='" + one + "'] .w-ticket");
  REQUIRE(station.wait(contains("#ticket", "wb-page/" + one)));
  CHECK(station.text("#ticket").find("Acme Millers") != std::string::npos);
  CHECK(station.outbox("weighlink.ticket_printed").empty());
  CHECK_MESSAGE(page.exceptions().empty(), station.console());
}

TEST_CASE("operator page: an axle weighing carries the plate and reference of the form") {
  Station station(workstation());
  auto& page = station.browser();
  fields_ready(station);
  page.type("#plate", "kcb 77x");
  page.type("[data-field='customer']", "Roads Authority");
  station.indicator().show("8200");
  REQUIRE(station.shows("8200", "stable"));
  page.type(kScale + " .expected", "2");
  page.click(kScale + " .axle-start");
  REQUIRE(station.wait(contains(kScale + " .axle-state", "0 of 2 axles")));
  page.click(kScale + " .axle-next");
  REQUIRE(station.wait(contains(kScale + " .axle-result", "Axle 1: 8200 kg")));
  station.indicator().show("4100", /*motion=*/true);
  REQUIRE(station.shows("4100", "motion"));
  station.indicator().show("9400");
  REQUIRE(station.shows("9400", "stable"));
  page.click(kScale + " .axle-next");
  REQUIRE(station.wait(contains(kScale + " .axle-result", "Axle 2: 9400 kg")));
  page.click(kScale + " .axle-complete");
  REQUIRE(station.wait(contains(kScale + " .axle-result", "Recorded 2 axles, GVW 17600 kg")));
  const auto row = weighing(station, 1);
  const auto& payload = row.at("payload");
  INFO(json::serialize(payload));
  CHECK(payload.at("reference").at("plate") == "KCB77X");
  CHECK(payload.at("reference").at("customer") == "Roads Authority");
  CHECK(payload.at("axles").as_array().size() == 2);
  // Its ticket lists the axles.
  page.click("#work-ticket");
  REQUIRE(station.wait(contains("#ticket", "KCB77X")));
  CHECK(station.text("#ticket .ticket-parts").find("9400") != std::string::npos);
  CHECK_MESSAGE(page.exceptions().empty(), station.console());
}
