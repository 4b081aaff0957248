// make bench's goal table (tests/bench/summary): every row read off the benches' own JSON, ratios
// against the baseline of the same run, and nothing judged that was not measured.

#include <doctest/doctest.h>

#include <boost/json.hpp>

#include "weighlink/bench/summary.hpp"

namespace json = boost::json;
using weighlink::bench::summary::Inputs;
using weighlink::bench::summary::Row;
using weighlink::bench::summary::summarize;

namespace {

json::object object(std::string_view text) { return json::parse(text).as_object(); }

const Row& row(const std::vector<Row>& rows, std::string_view measure) {
  for (const auto& r : rows) {
    if (r.measure == measure) return r;
  }
  FAIL("no row " << measure);
  return rows.front();
}

// A replay.json as bench_replay writes it: psql both at 10 000 and 12 000 mutations/s around a
// weighlink drain of 16 500/s.
json::object replay_report(std::string_view fanin_errors = R"({"RESOURCE_EXHAUSTED":12})") {
  return object(std::string(R"({"benchmark":"replay",
    "drain":{"backlog":100000,"backend_cpu_us_per_mutation":15.0,"postgres_cpu_us_per_mutation":45.0,
      "psql_both_postgres_cpu_us_per_mutation":50.0,"agent_peak_rss_mb":14.5,"runs":[
      {"name":"psql log","mutations_per_s":13000,"rows":100000,"postgres_cpu_s":6.0},
      {"name":"psql both","mutations_per_s":10000,"rows":100000,"postgres_cpu_s":7.0},
      {"name":"weighlink","mutations_per_s":16500,"rows":100000,"postgres_cpu_s":4.5},
      {"name":"psql log","mutations_per_s":13000,"rows":100000,"postgres_cpu_s":6.0},
      {"name":"psql both","mutations_per_s":12000,"rows":100000,"postgres_cpu_s":7.0}]},
    "fanin":{"stations":200,"per_station":5000,"drained":true,"drain_s":58.5,"exact":true,
      "rows":1000000,"backend_cpu_us_per_mutation":30.0,"postgres_cpu_us_per_mutation":50.0,"backend_peak_rss_mb":120.0,
      "hello_errors":{},"replay_errors":)") +
                std::string(fanin_errors) + R"(},
    "agent_rss":{"peak_rss_mb":11.5}})");
}

}  // namespace

TEST_CASE("bench summary: the drain is judged against psql's mean in the same run") {
  Inputs in;
  in.replay = replay_report();
  const auto rows = summarize(in);
  const auto& drain = row(rows, "replay drain, 100 k backlog");
  REQUIRE(drain.baseline.has_value());
  CHECK(*drain.baseline == doctest::Approx(11000));
  CHECK(*drain.ratio == doctest::Approx(1.5));
  CHECK(drain.met == true);
  const auto& backend = row(rows, "backend CPU per applied mutation (drain)");
  CHECK(*backend.value == doctest::Approx(15.0));
  CHECK(backend.met == true);
  const auto& postgres = row(rows, "PostgreSQL CPU per applied mutation (drain)");
  CHECK(*postgres.value == doctest::Approx(45.0));
  CHECK(postgres.met == false);
  CHECK(*postgres.ratio == doctest::Approx(0.9));  // against psql's cost for the same rows
  CHECK(*row(rows, "backend CPU per applied mutation (fan-in)").value == doctest::Approx(30.0));
  const auto& fanin = row(rows, "fan-in, stations x backlog reconnecting at once");
  CHECK(fanin.met == true);  // RESOURCE_EXHAUSTED is the designed answer to overload
  CHECK(row(rows, "agent peak RSS, backend configured (station at work)").met == true);
  CHECK(row(rows, "agent peak RSS, backend configured (100 k drain)").met == false);
}

TEST_CASE("bench summary: a fan-in inside the minute with an error is not met") {
  Inputs in;
  in.replay = replay_report(R"({"RESOURCE_EXHAUSTED":3,"DEADLINE_EXCEEDED":1})");
  const auto rows = summarize(in);
  const auto& fanin = row(rows, "fan-in, stations x backlog reconnecting at once");
  CHECK(*fanin.value == doctest::Approx(58.5));
  CHECK(fanin.met == false);
  CHECK_MESSAGE(fanin.note.find("errors 1;") != std::string::npos, fanin.note);
}

TEST_CASE("bench summary: the live socket and the outbox against their floors") {
  Inputs in;
  in.live = object(R"({"benchmark":"live","results":[
    {"server":"weighlink","clients":1,"p99_ms":0.40,"cpu_us_per_msg":120},
    {"server":"floor","clients":1,"p99_ms":0.32,"cpu_us_per_msg":100},
    {"server":"weighlink","clients":10,"p99_ms":0.50,"cpu_us_per_msg":20},
    {"server":"floor","clients":10,"p99_ms":0.48,"cpu_us_per_msg":16},
    {"server":"relay","clients":10,"p99_ms":0.10,"cpu_us_per_msg":1}]})");
  in.outbox = object(R"({"benchmark":"outbox","throughput":[
    {"system":"weighlink","producers":1,"mutations_per_s":4600},
    {"system":"raw_sqlite","producers":1,"mutations_per_s":5000},
    {"system":"weighlink","producers":8,"mutations_per_s":9000},
    {"system":"raw_sqlite","producers":8,"mutations_per_s":5000}]})");
  const auto rows = summarize(in);
  const auto& p99 = row(rows, "live socket p99, 1 client");
  CHECK(*p99.ratio == doctest::Approx(1.25));
  CHECK(p99.met == false);
  CHECK(row(rows, "live socket CPU per message, 1 client").met == true);  // 1.2 x
  CHECK(*row(rows, "live socket p99, 10 clients").ratio == doctest::Approx(0.5 / 0.48));
  CHECK(row(rows, "live socket CPU per message, 10 clients").met == true);  // 1.25 x
  CHECK_FALSE(row(rows, "live socket p99, 100 clients").met.has_value());   // not in this run
  CHECK(row(rows, "outbox, 1 producer").met == true);                       // 0.92 x
  CHECK(row(rows, "outbox, 8 producers").met == false);                     // 1.8 x, below 2.14 x
  CHECK_FALSE(row(rows, "outbox, 64 producers").value.has_value());
}

TEST_CASE("bench summary: nothing is judged when a bench did not run") {
  const auto rows = summarize(Inputs{});
  CHECK(rows.size() == 17);
  for (const auto& r : rows) {
    CHECK_MESSAGE(!r.met.has_value(), r.measure);
    CHECK_MESSAGE(!r.value.has_value(), r.measure);
  }
}

TEST_CASE("bench summary: one producer is read from the paired run when there is one") {
  Inputs in;
  in.outbox = object(R"({"benchmark":"outbox","throughput":[
    {"system":"weighlink","producers":1,"mutations_per_s":2000},
    {"system":"raw_sqlite","producers":1,"mutations_per_s":5000}],
    "one_producer_paired":{"weighlink_mutations_per_s":4700,"raw_sqlite_mutations_per_s":5000}})");
  const auto rows = summarize(in);
  const auto& one = row(rows, "outbox, 1 producer");
  CHECK(*one.ratio == doctest::Approx(0.94));
  CHECK(one.met == true);
}
