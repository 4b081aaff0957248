// The legal side of the operator page in headless Chromium against the real agent: the
// zero-return refusal and its release, the software identification and the ticket PDF, the
// verifier flagging a record altered in the outbox file, and the audit trail after a change of
// a metrological setting.
#include <sqlite3.h>

#include "page_fixture.hpp"

using namespace page_test;

namespace {

// Runs `sql` on the agent's outbox file (the agent stopped), as someone editing it would.
void tamper(const weighlink::testing::TempDir& dir, const std::string& sql) {
  sqlite3* raw = nullptr;
  const int opened = sqlite3_open((dir / "data" / "outbox.db").c_str(), &raw);
  const std::unique_ptr<sqlite3, decltype(&sqlite3_close)> db(raw, sqlite3_close);
  REQUIRE(opened == SQLITE_OK);
  char* message = nullptr;
  const int rc = sqlite3_exec(db.get(), sql.c_str(), nullptr, nullptr, &message);
  const std::unique_ptr<char, decltype(&sqlite3_free)> owned(message, sqlite3_free);
  REQUIRE_MESSAGE(rc == SQLITE_OK, (message ? message : "sqlite3_exec failed"));
}

// Captures what the indicator shows from the keyboard and returns the weighing's seq.
std::int64_t capture(Station& station, const std::string& weight) {
  station.indicator().show(weight);
  REQUIRE(station.shows(weight, "stable"));
  const auto before = station.outbox("weighing.captured").size();
  station.browser().press("F2");
  station.browser().press("Enter");
  REQUIRE(weighlink::testing::eventually(
      [&] { return station.outbox("weighing.captured").size() == before + 1; },
      std::chrono::seconds(10)));
  return station.outbox("weighing.captured").back().at("seq").as_int64();
}

void open_records(Station& station) {
  station.browser().click("#screens [data-screen='records']");
  REQUIRE(station.wait("!document.querySelector('[data-screen=\"records\"].screen').hidden"));
}

}  // namespace

TEST_CASE("operator page: zero return refuses the next vehicle until the deck was cleared") {
  Station station;
  auto& page = station.browser();
  const std::string zero = kScale + " .zero";
  REQUIRE(station.wait("!document.querySelector(" + js_quote(zero) + ").hidden"));
  CHECK(station.text(zero).find("ready") != std::string::npos);
  capture(station, "18240");
  REQUIRE(
      station.wait("document.querySelector(" + js_quote(zero) + ").dataset.required === 'true'"));
  CHECK(station.text(zero).find("clear the deck") != std::string::npos);

  // The same truck is still on the deck: the next capture is refused, and the page says why.
  page.press("F2");
  page.press("Enter");
  REQUIRE(station.wait(contains(kScale + " .capture-result", "Not captured")));
  CHECK(
      station.text(kScale + " .capture-result").find("clear the deck and let it return to zero") !=
      std::string::npos);
  CHECK(station.outbox("weighing.captured").size() == 1);
  station.screenshot("operator-zero-return.png");

  // The truck drives off, the indicator shows zero: released, and the next vehicle is weighed.
  station.indicator().show("0");
  REQUIRE(
      station.wait("document.querySelector(" + js_quote(zero) + ").dataset.required === 'false'"));
  capture(station, "20520");
  CHECK(station.outbox("weighing.captured").size() == 2);
  CHECK_MESSAGE(page.exceptions().empty(), station.console());
}

TEST_CASE("operator page: the software identification is shown and on the ticket's PDF") {
  Station station;
  auto& page = station.browser();
  const auto software = station.get("/v1/status").at("software");
  const std::string name(software.at("name").as_string());
  const std::string version(software.at("version").as_string());
  const std::string sha(software.at("sha256").as_string());
  REQUIRE(sha.size() == 64);
  REQUIRE(station.wait(contains("#software", name + " " + version)));
  const auto seq = capture(station, "18240");

  open_records(station);
  CHECK(station.text("#sw-sha") == sha);
  CHECK(station.text("#sw-version") == version);

  // The ticket of the weighing, and its PDF as the page links it.
  page.click("#screens [data-screen='weighings']");
  const std::string row = "#weighing-rows tr[data-seq='" + std::to_string(seq) + "']";
  REQUIRE(station.wait("document.querySelector(" + js_quote(row) + ") !== null"));
  page.click(row + " .w-ticket");
  const std::string record_id = "wb-page/" + std::to_string(seq);
  REQUIRE(station.wait(contains("#ticket", record_id)));
  CHECK(station.text("#ticket").find(sha.substr(0, 16)) != std::string::npos);
  const std::string href(
      page.evaluate("new URL(document.querySelector('#ticket-pdf').href).pathname + "
                    "new URL(document.querySelector('#ticket-pdf').href).search")
          .as_string());
  auto pdf = http_request(station.http(), "GET", href);
  REQUIRE(pdf.status == 200);
  REQUIRE(pdf.body.starts_with("%PDF-"));
  const auto file = station.dir() / "ticket.pdf";
  std::ofstream(file, std::ios::binary) << pdf.body;
  const auto text = weighlink::testing::run({"pdftotext", "-layout", file.string(), "-"});
  REQUIRE(text.exit_code == 0);
  INFO(text.output);
  CHECK(text.output.find(record_id) != std::string::npos);
  CHECK(text.output.find(name + " " + version) != std::string::npos);
  CHECK(text.output.find(sha.substr(0, 16)) != std::string::npos);
  CHECK(text.output.find("18240") != std::string::npos);
  CHECK_MESSAGE(page.exceptions().empty(), station.console());
}

TEST_CASE("operator page: the verifier flags a record altered in the outbox file") {
  Station station;
  auto& page = station.browser();
  const auto first = capture(station, "14200");
  station.zero();
  const auto second = capture(station, "18240");

  open_records(station);
  REQUIRE(station.wait(contains("#chain-verdict", "VERIFIES")));
  page.type("#verify-seq", std::to_string(first));
  page.press("Enter");
  REQUIRE(station.wait(contains("#verify-result", "verifies")));
  CHECK(page.evaluate("document.querySelectorAll('#verify-checks li.ok').length") == 3);
  CHECK(station.text("#verify-reading").find("mt-continuous") != std::string::npos);

  // Someone edits the weight of the first record in the SQLite file while the agent is stopped.
  station.stop_agent();
  tamper(station.dir(),
         "UPDATE mutations SET payload=replace(payload, '14200', '12400') WHERE seq=" +
             std::to_string(first));
  station.start_agent(std::string(station.http()));
  page.navigate("http://" + station.http() + "/");
  open_records(station);
  REQUIRE(station.wait(contains("#chain-verdict", "DOES NOT VERIFY")));
  CHECK(station.text("#chain-problems").find(std::to_string(first)) != std::string::npos);
  page.type("#verify-seq", std::to_string(first));
  page.press("Enter");
  REQUIRE(station.wait(contains("#verify-result", "does NOT verify")));
  CHECK(station.text("#verify-checks li[data-check='hash_ok']").find("\u2717") !=
        std::string::npos);
  station.screenshot("operator-verify.png");
  // The record after it is untouched; only its link to the altered one can say so.
  page.type("#verify-seq", std::to_string(second));
  page.press("Enter");
  REQUIRE(station.wait(contains("#verify-result", "Record " + std::to_string(second))));
  CHECK(station.text("#verify-checks li[data-check='hash_ok']").find("\u2713") !=
        std::string::npos);
  CHECK_MESSAGE(page.exceptions().empty(), station.console());
}

TEST_CASE("operator page: the audit trail shows a setting changed between two starts") {
  Station station;
  auto& page = station.browser();
  open_records(station);
  const auto counter = station.audit();
  REQUIRE(station.wait(contains("#audit-counter", std::to_string(counter))));

  // The station manager changes the zero band and restarts the agent.
  station.stop_agent();
  station.options().scale_keys += "    zero_band: 40\n";
  station.write_config();
  station.start_agent(std::string(station.http()));
  page.navigate("http://" + station.http() + "/");
  open_records(station);
  REQUIRE(station.audit() > counter);
  REQUIRE(station.wait(contains("#audit-counter", std::to_string(station.audit()))));
  REQUIRE(station.wait(contains("#audit-rows", "zero_band")));
  const std::string row = "#audit-rows tr:last-child";
  CHECK(station.text(row + " .a-setting").find("zero_band") != std::string::npos);
  CHECK(station.text(row + " .a-new").find("40") != std::string::npos);
  station.screenshot("operator-records.png");

  // The counter is on the next ticket: a change between two weighings shows.
  const auto seq = capture(station, "18240");
  page.evaluate("openTicket(" + std::to_string(seq) + ")");
  REQUIRE(station.wait(contains("#ticket", "wb-page/" + std::to_string(seq))));
  CHECK(station.text("#ticket .ticket-ids").find(std::to_string(station.audit())) !=
        std::string::npos);
  CHECK_MESSAGE(page.exceptions().empty(), station.console());
}
