// The workstation's pure core (station.hpp) and its configuration section: plates, reference
// fields, the transaction book, exact nets, stored tares and their age, with times as arguments.
#include "weighlink/agent/station.hpp"

#include <doctest/doctest.h>

#include <boost/json.hpp>

#include "weighlink/record/exact_json.hpp"

namespace json = boost::json;
using namespace weighlink::agent;

namespace {

constexpr std::int64_t kDay = 24LL * 3600 * 1000;
constexpr std::int64_t kT0 = 1'796'630'400'000;  // 2026-12-07T08:00:00Z

Pass recorded(const std::string& key, std::uint64_t seq, const std::string& weight,
              std::int64_t at_ms, const std::string& unit = "kg") {
  return Pass{key, seq, "main", weight, unit, "2026-12-07T08:00:00.000Z", "ab12", at_ms};
}

Transaction open_one(StationBook& book, const std::string& plate, std::int64_t at_ms) {
  Transaction t;
  t.number = book.take_number();
  t.id = "st-1-T" + std::to_string(t.number);
  t.mode = "two_pass";
  t.plate = plate;
  t.opened_at_ms = at_ms;
  t.first = recorded("k-" + t.id, t.number * 10, "32540", at_ms);
  book.put(t);
  return t;
}

}  // namespace

TEST_CASE("station: plates are upper-cased with spaces and dashes removed, else refused") {
  std::string out;
  CHECK_FALSE(normalize_plate("kcb 123-a", out));
  CHECK(out == "KCB123A");
  CHECK_FALSE(normalize_plate("T 456 ABC", out));
  CHECK(out == "T456ABC");
  const auto bad = normalize_plate("KCB/123", out);
  REQUIRE(bad);
  CHECK(bad->code == "invalid_plate");
  CHECK(bad->field == "plate");
  CHECK(normalize_plate(" - ", out));
  CHECK(normalize_plate("ABCDEFGHIJKLMNOPQ", out));  // 17
  CHECK_FALSE(normalize_plate("ABCDEFGHIJKLMNOP", out));
}

TEST_CASE("station: reference fields are checked against the configuration, naming the field") {
  auto fields = StationConfig::default_fields();
  fields[0].required = true;  // customer
  fields.push_back(ReferenceField{"axles", {{"en", "Axles"}}, "number", false, {}, 64});
  json::object out;
  const auto ok = json::parse(R"({"customer":"Acme","direction":"in","axles":"4.50"})");
  CHECK_FALSE(check_reference(ok.as_object(), fields, out));
  CHECK(out.at("customer") == "Acme");
  CHECK(out.at("axles") == "4.50");
  // A JSON number keeps its exact text.
  const auto exact = weighlink::record::parse_exact(R"({"customer":"A","axles":12.250})");
  CHECK_FALSE(check_reference(exact.value.as_object(), fields, out));
  CHECK(out.at("axles") == "12.250");

  const auto missing = check_reference(json::object{}, fields, out);
  REQUIRE(missing);
  CHECK(missing->code == "invalid_reference");
  CHECK(missing->field == "customer");
  const auto choice =
      check_reference(json::parse(R"({"customer":"A","direction":"up"})").as_object(), fields, out);
  REQUIRE(choice);
  CHECK(choice->field == "direction");
  CHECK(choice->message.find("in, out") != std::string::npos);
  const auto unknown =
      check_reference(json::parse(R"({"customer":"A","colour":"red"})").as_object(), fields, out);
  REQUIRE(unknown);
  CHECK(unknown->field == "colour");
  const auto number =
      check_reference(json::parse(R"({"customer":"A","axles":"four"})").as_object(), fields, out);
  REQUIRE(number);
  CHECK(number->field == "axles");
  const auto long_text =
      check_reference(json::object{{"customer", std::string(65, 'x')}}, fields, out);
  REQUIRE(long_text);
  CHECK(long_text->field == "customer");
}

TEST_CASE("station: the net is exact, gross the heavier, in one unit only") {
  NetWeights w;
  REQUIRE_FALSE(compute_net("32540.5", "kg", "12480.25", "kg", w));
  CHECK(w.gross.to_string() == "32540.5");
  CHECK(w.tare.to_string() == "12480.25");
  CHECK(w.net.to_string() == "20060.25");
  // Weighed empty first (an outbound load): the second is the gross.
  REQUIRE_FALSE(compute_net("9800", "kg", "41220", "kg", w));
  CHECK(w.gross.to_string() == "41220");
  CHECK(w.net.to_string() == "31420");
  const auto units = compute_net("9800", "kg", "41.22", "t", w);
  REQUIRE(units);
  CHECK(units->code == "unit_mismatch");
}

TEST_CASE("station: one open transaction per plate; a second pass must match and come later") {
  StationBook book;
  auto t = open_one(book, "KCB123A", kT0);
  REQUIRE(book.open_for_plate("KCB123A"));
  CHECK(book.open_for_plate("KCB123A")->id == t.id);
  CHECK_FALSE(book.open_for_plate("KBZ999"));
  CHECK_FALSE(book.check_complete(t, "kg", kT0 + 60'000));
  CHECK(book.check_complete(t, "lb", kT0 + 60'000)->code == "unit_mismatch");
  CHECK(book.check_complete(t, "kg", kT0)->code == "not_later");
  auto unrecorded = t;
  unrecorded.first.seq = 0;
  CHECK(book.check_complete(unrecorded, "kg", kT0 + 60'000)->code == "transaction_not_ready");
  t.state = "closed";
  t.second = recorded("k2", 99, "12000", kT0 + 60'000);
  book.put(t);
  CHECK_FALSE(book.open_for_plate("KCB123A"));
  CHECK(book.check_complete(t, "kg", kT0 + 90'000)->code == "transaction_not_open");
  REQUIRE(book.find_by_key("k2"));
  CHECK(book.find_by_key("k2")->id == t.id);
}

TEST_CASE("station: lists are newest first and ended ones are bounded") {
  StationBook book;
  for (int i = 0; i < static_cast<int>(StationBook::kMaxEnded) + 5; ++i) {
    auto t = open_one(book, "P" + std::to_string(i), kT0 + i);
    t.state = "closed";
    book.put(t);
  }
  (void)open_one(book, "OPEN1", kT0 + 1000);
  const auto closed = book.list("closed", 1000);
  CHECK(closed.size() == StationBook::kMaxEnded);
  CHECK(closed.front()->plate == "P" + std::to_string(StationBook::kMaxEnded + 4));
  CHECK(closed.back()->plate == "P5");
  CHECK(book.list("open", 10).size() == 1);
  CHECK(book.list("closed", 3).size() == 3);
}

TEST_CASE("station: a stored tare is usable until it is older than the configured age") {
  StationBook book;
  const StoredTare* tare = nullptr;
  CHECK(book.usable_tare("KCB123A", kT0, 90, tare)->code == "no_stored_tare");
  book.put_tare({"KCB123A", recorded("tare-1", 0, "12480", kT0), {}, "op"});
  CHECK(book.usable_tare("KCB123A", kT0, 90, tare)->code == "no_stored_tare");  // not recorded yet
  book.put_tare({"KCB123A", recorded("tare-1", 7, "12480", kT0), {}, "op"});
  REQUIRE_FALSE(book.usable_tare("KCB123A", kT0 + 90 * kDay, 90, tare));
  REQUIRE(tare);
  CHECK(tare->pass.weight == "12480");
  const auto expired = book.usable_tare("KCB123A", kT0 + 90 * kDay + 1, 90, tare);
  REQUIRE(expired);
  CHECK(expired->code == "stored_tare_expired");
  CHECK(expired->message.find("90 days") != std::string::npos);
  CHECK_FALSE(book.usable_tare("KCB123A", kT0 + 4000 * kDay, 0, tare));  // 0: no limit
}

TEST_CASE("station: recently seen plates are bounded, newest first, by prefix") {
  StationBook book;
  for (std::size_t i = 0; i < StationBook::kMaxPlates + 10; ++i) {
    book.note_plate("KC" + std::to_string(i));
  }
  book.note_plate("KC3");  // seen again: to the front
  const auto all = book.plates("", 1000);
  CHECK(all.size() == StationBook::kMaxPlates);
  CHECK(all.front() == "KC3");
  CHECK(book.plates("KC20", 5).front() == "KC209");
  CHECK(book.plates("ZZ", 5).empty());
}

TEST_CASE("station: the book survives its durable documents") {
  StationBook book;
  auto t = open_one(book, "KCB123A", kT0);
  t.reference = json::object{{"customer", "Acme"}};
  book.put(t);
  auto c = open_one(book, "KBZ1", kT0 + 5);
  c.state = "cancelled";
  c.cancel_reason = "driver left";
  book.put(c);
  book.put_tare({"KBZ1", recorded("tare-1", 0, "", kT0), {}, "op"});
  book.note_plate("KBZ1");
  book.note_plate("KCB123A");

  StationBook again;
  again.load(book.transactions_json(), book.tares_json(), book.plates_json());
  REQUIRE(again.open_for_plate("KCB123A"));
  CHECK(again.open_for_plate("KCB123A")->reference.at("customer") == "Acme");
  CHECK(again.open_for_plate("KCB123A")->first.weight == "32540");
  REQUIRE(again.list("cancelled", 5).size() == 1);
  CHECK(again.list("cancelled", 5).front()->cancel_reason == "driver left");
  CHECK(again.plates("", 5) == std::vector<std::string>{"KCB123A", "KBZ1"});
  CHECK(again.unfilled().size() == 1);  // the tare whose record was not read back yet
  CHECK(again.take_number() == 3);
  CHECK_THROWS(again.load(std::string("{\"items\":[{}]}"), std::nullopt, std::nullopt));
}
