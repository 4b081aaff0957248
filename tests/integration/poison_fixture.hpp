#pragma once
// The poison catalogue and its helpers (poison_test.cpp), kept apart from the tests: mutations
// that must be rejected alone, each with the reason code the backend answers.
#include <doctest/doctest.h>
#include <grpcpp/grpcpp.h>

#include <boost/json.hpp>
#include <chrono>
#include <fstream>
#include <functional>
#include <sstream>

#include "sync_calls.hpp"
#include "weighlink/base/hash.hpp"
#include "weighlink/record/evidence.hpp"
#include "weighlink/service/token.hpp"
#include "weighlink/sync/v1/sync.grpc.pb.h"
#include "weighlink/testing/backend.hpp"
#include "weighlink/testing/pg_cluster.hpp"
#include "weighlink/testing/process.hpp"

namespace pb = weighlink::sync::v1;
namespace json = boost::json;
using namespace std::chrono_literals;
using weighlink::testing::BackendServer;
using weighlink::testing::PgCluster;
using weighlink::testing::TempDir;

namespace poison_fixture {

using weighlink::testing::sign_mutation;
using weighlink::testing::write_station_key;

inline const std::string kBackend = weighlink::testing::bin("weighlink-backend");
inline const std::vector<unsigned char> kKey(32, 0x5a);
inline const std::vector<unsigned char> kOtherKey(32, 0x11);
inline const std::string kGenesis(weighlink::record::kGenesisHash);
inline const std::string kRaw(
    "\x02"
    "01 0 003254000000\r");

struct Answer {
  grpc::Status status;
  pb::ReplayResponse response;
};

inline Answer replay(const std::string& address, const std::string& token,
                     const pb::ReplayRequest& request) {
  Answer answer;
  answer.status =
      weighlink::testing::call_replay(address, token, request, &answer.response, {}, 20s).status;
  return answer;
}

inline grpc::Status hello(const std::string& address, const std::string& token,
                          const std::string& station, const std::string& agent_version = "test") {
  pb::HelloResponse response;
  return weighlink::testing::call_hello(address, token, station, &response, 0, agent_version)
      .status;
}

inline pb::Mutation mutation(const std::string& station, std::uint64_t seq, const std::string& key,
                             const std::string& kind, const std::string& payload) {
  pb::Mutation m;
  m.set_station_id(station);
  m.set_idempotency_key(key);
  m.set_seq(seq);
  m.set_kind(kind);
  m.set_payload_json(payload);
  m.set_created_at_unix_ms(1'800'000'000'000 + static_cast<std::int64_t>(seq));
  return m;
}

inline pb::Mutation note(const std::string& station, std::uint64_t seq, const std::string& key) {
  return mutation(station, seq, key, "note.added",
                  R"({"text":"fine","n":)" + std::to_string(seq) + "}");
}

// A static weighing as the capture path makes it: payload with the reading's seq and raw frame.
inline json::object weighing_payload(const std::string& weight) {
  return json::object{{"type", "static"},  {"scale", "main"}, {"weight", weight},
                      {"unit", "kg"},      {"mode", "gross"}, {"tare", "0"},
                      {"reading_seq", 77}, {"raw", kRaw},     {"operator", "op1"}};
}

inline pb::Mutation weighing(const std::string& station, std::uint64_t seq, const std::string& key,
                             const json::object& payload) {
  auto m = mutation(station, seq, key, "weighing.captured", json::serialize(payload));
  // The typed copy an agent sends along: informational, ignored by the backend.
  auto* w = m.mutable_weighing_captured();
  w->set_scale("main");
  if (const auto* weight = payload.if_contains("weight"); weight && weight->is_string()) {
    w->set_weight(std::string(weight->as_string()));
  }
  w->set_unit("kg");
  w->set_mode("gross");
  w->set_reading_seq(77);
  w->set_raw(kRaw);
  return m;
}

inline pb::Mutation weighing(const std::string& station, std::uint64_t seq, const std::string& key,
                             const std::string& weight) {
  return weighing(station, seq, key, weighing_payload(weight));
}

inline json::object axle(int number, const std::string& weight, std::uint64_t reading_seq) {
  return json::object{{"number", number},
                      {"weight", weight},
                      {"reading", weight},
                      {"reading_seq", reading_seq},
                      {"raw", "\u0002A" + std::to_string(number) + "\r"},
                      {"captured_at", "2027-01-15T08:00:01.000Z"}};
}

inline json::object axle_payload(json::array axles) {
  return json::object{{"type", "axle"}, {"scale", "main"}, {"weight", "300"}, {"gvw", "300"},
                      {"unit", "kg"},   {"mode", "gross"}, {"axles", axles}};
}

enum class Station { keyless_allowed, keyless_new, keyed };

// How a keyed station's poison is signed: like the others, with another key, or not at all.
enum class Signing { station_key, other_key, none };

struct Poison {
  std::string name;
  std::string code;  // the reason starts with code + ": "
  Station station = Station::keyless_allowed;
  // The poison as seq 3 of the station's batch.
  std::function<pb::Mutation(const std::string& station)> make;
  Signing signing = Signing::station_key;
};

inline std::string quoted(const std::string& text) { return "'" + text + "'"; }

// One station, one batch: two valid mutations, the poison, two valid ones again.
inline void run_poison(const PgCluster& pg, const BackendServer& backend, const TempDir& dir,
                       const Poison& poison, int number) {
  const std::string station = "poison-" + std::to_string(number);
  INFO("case: " << poison.name << " station " << station);
  const bool keyed = poison.station == Station::keyed;
  const std::string token = weighlink::testing::add_station(
      pg.dsn(), station, poison.station == Station::keyless_allowed);
  if (keyed) {
    const auto set = weighlink::testing::run(
        {kBackend, "station", "set-key", "--dsn", pg.dsn(), "--id", station, "--key-file",
         write_station_key(dir / "station.key", kKey).string()});
    REQUIRE_MESSAGE(set.exit_code == 0, set.output);
  }
  // A station that refuses unsigned weighings gets notes only around the poison.
  const bool weighings_ok = poison.station != Station::keyless_new;
  auto valid = [&](std::uint64_t seq) {
    const std::string key = station + "-ok-" + std::to_string(seq);
    return weighings_ok && seq % 2 == 1 ? weighing(station, seq, key, std::to_string(seq * 1000))
                                        : note(station, seq, key);
  };
  std::vector<pb::Mutation> mutations{valid(1), valid(2), poison.make(station), valid(4), valid(5)};
  if (keyed) {
    // Chained as the agent's outbox chains them; the poison is signed as the case says.
    std::string prev = kGenesis;
    for (std::size_t i = 0; i < mutations.size(); ++i) {
      if (i != 2 || poison.signing == Signing::station_key) {
        prev = sign_mutation(mutations[i], prev, kKey);
      } else if (poison.signing == Signing::other_key) {
        prev = sign_mutation(mutations[i], prev, kOtherKey);
      }
    }
  }
  pb::ReplayRequest request;
  request.set_station_id(station);
  for (const auto& m : mutations) *request.add_mutations() = m;

  const auto first = replay(backend.grpc(), token, request);
  REQUIRE_MESSAGE(first.status.ok(), first.status.error_message());
  const auto& results = first.response.results();
  REQUIRE(results.size() == 5);
  for (int i = 0; i < 5; ++i) {
    CHECK(results[i].seq() == static_cast<std::uint64_t>(i + 1));
    CHECK(results[i].idempotency_key() == mutations[i].idempotency_key());  // as sent
    if (i == 2) continue;
    CHECK_MESSAGE(results[i].outcome() == pb::APPLIED, results[i].reason());
  }
  CHECK(results[2].outcome() == pb::REJECTED);
  CHECK_MESSAGE(results[2].reason().rfind(poison.code + ": ", 0) == 0, results[2].reason());
  CHECK(results[2].reason().size() < 600);
  CHECK(results[2].reason().find('\n') == std::string::npos);
  CHECK(first.response.watermark().high_water_seq() == 5);
  CHECK(first.response.expected_seq() == 0);

  // In PostgreSQL: five records, the valid ones applied with their effects, the poison rejected
  // without one, and the high water past it.
  const std::string where = "station_id=" + quoted(station);
  CHECK(pg.query_scalar("select count(*) from mutation_log where " + where) == "5");
  CHECK(pg.query_scalar("select string_agg(seq || ':' || outcome, ' ' order by seq) from "
                        "mutation_log where " +
                        where) == "1:applied 2:applied 3:rejected 4:applied 5:applied");
  CHECK(pg.query_scalar("select reason from mutation_log where seq=3 and " + where) ==
        results[2].reason());
  CHECK(pg.query_scalar("select high_water_seq from stations where id=" + quoted(station)) == "5");
  CHECK(pg.query_scalar("select count(*) from weighings where " + where) ==
        (weighings_ok ? "2" : "0"));
  if (weighings_ok) {
    CHECK(pg.query_scalar("select string_agg(weight::text, ' ' order by weight) from weighings "
                          "where " +
                          where) == "1000 5000");
  }

  // Re-sent as a whole (a lost answer): every one a DUPLICATE, the poison of its rejection.
  const auto again = replay(backend.grpc(), token, request);
  REQUIRE_MESSAGE(again.status.ok(), again.status.error_message());
  REQUIRE(again.response.results_size() == 5);
  for (int i = 0; i < 5; ++i) CHECK(again.response.results(i).outcome() == pb::DUPLICATE);
  CHECK(again.response.results(2).original_outcome() == pb::REJECTED);
  CHECK(pg.query_scalar("select count(*) from mutation_log where " + where) == "5");

  // The backend is still up and answers the next call.
  CHECK(hello(backend.grpc(), token, station).ok());
}

inline pb::Mutation with_kind(pb::Mutation m, const std::string& kind) {
  m.set_kind(kind);
  return m;
}

inline std::string deep_json(int levels) {
  return "{\"a\":" + std::string(levels, '[') + std::string(levels, ']') + "}";
}

inline std::vector<Poison> catalogue() {
  const auto key = [](const std::string& station) { return station + "-poison"; };
  std::vector<Poison> all;
  auto add = [&](std::string name, std::string code, Station where,
                 std::function<pb::Mutation(const std::string&)> make,
                 Signing signing = Signing::station_key) {
    all.push_back(Poison{std::move(name), std::move(code), where, std::move(make), signing});
  };
  const auto allowed = Station::keyless_allowed;
  // The issue's four, then the rest of the brief's list.
  add("TruLoad key with a space", "invalid_key", allowed, [](const std::string& s) {
    return weighing(s, 3, "truload-weights-captured-T1-gross weight", "100");
  });
  add("key of 300 characters", "invalid_key", allowed,
      [](const std::string& s) { return weighing(s, 3, "truload-" + std::string(292, 't'), "1"); });
  add("deck index 4e9", "part_out_of_range", allowed, [&](const std::string& s) {
    auto payload = weighing_payload("200");
    payload["decks"] = json::array{json::object{{"index", 4'000'000'000U}, {"weight", "200"}}};
    auto m = weighing(s, 3, key(s), payload);
    auto* deck = m.mutable_weighing_captured()->add_decks();
    deck->set_index(4'000'000'000U);
    deck->set_weight("200");
    return m;
  });
  add("weight of 200 000 digits", "weight_out_of_range", allowed,
      [&](const std::string& s) { return weighing(s, 3, key(s), std::string(200'000, '9')); });
  add("kind with a newline", "invalid_kind", allowed,
      [&](const std::string& s) { return with_kind(note(s, 3, key(s)), "note\nadded"); });
  add("kind in upper case", "invalid_kind", allowed,
      [&](const std::string& s) { return with_kind(note(s, 3, key(s)), "Note.Added"); });
  add("weight 1e5 as a JSON number", "inexact_number", allowed, [&](const std::string& s) {
    return mutation(s, 3, key(s), "weighing.captured",
                    R"({"type":"static","scale":"main","weight":1e5,"unit":"kg","mode":"gross",)"
                    R"("reading_seq":77,"raw":"x"})");
  });
  add("weight \"1e5\" as text", "invalid_weight", allowed,
      [&](const std::string& s) { return weighing(s, 3, key(s), "1e5"); });
  add("payload not an object", "invalid_payload", allowed,
      [&](const std::string& s) { return mutation(s, 3, key(s), "note.added", "[1,2,3]"); });
  add("payload with \\u0000", "nul_character", allowed, [&](const std::string& s) {
    return mutation(s, 3, key(s), "note.added", R"({"text":"a\u0000b"})");
  });
  add("payload nested too deep", "too_deep", allowed,
      [&](const std::string& s) { return mutation(s, 3, key(s), "note.added", deep_json(40)); });
  add("weighing without evidence", "missing_evidence", allowed, [&](const std::string& s) {
    auto payload = weighing_payload("100");
    payload.erase("reading_seq");
    payload.erase("raw");
    auto m = weighing(s, 3, key(s), payload);  // the typed copy still claims evidence
    return m;
  });
  add(
      "weighing signed with another key", "bad_signature", Station::keyed,
      [&](const std::string& s) { return weighing(s, 3, key(s), "100"); }, Signing::other_key);
  add("unsigned weighing for a new keyless station", "unsigned_weighing", Station::keyless_new,
      [&](const std::string& s) { return weighing(s, 3, key(s), "100"); });
  add("withheld marker", "withheld_by_agent", allowed, [&](const std::string& s) {
    auto m = mutation(s, 3, key(s), "weighing.captured", "");
    m.set_withheld_reason("INTERNAL 5 times: internal database error");
    m.set_withheld_payload_sha256(weighlink::service::sha256_hex("weighing.captured\n{}"));
    return m;
  });
  // Our own.
  add("empty key", "invalid_key", allowed, [](const std::string& s) { return note(s, 3, ""); });
  add("key with a newline", "invalid_key", allowed,
      [](const std::string& s) { return note(s, 3, "k\nINFO forged"); });
  add("empty kind", "invalid_kind", allowed,
      [&](const std::string& s) { return with_kind(note(s, 3, key(s)), ""); });
  add("duplicate member", "duplicate_member", allowed, [&](const std::string& s) {
    return mutation(s, 3, key(s), "note.added", R"({"n":1,"n":2})");
  });
  add("number of 41 digits", "number_too_long", allowed, [&](const std::string& s) {
    return mutation(s, 3, key(s), "note.added", "{\"n\":" + std::string(41, '7') + "}");
  });
  add("payload over 1 MiB", "payload_too_large", allowed, [&](const std::string& s) {
    return mutation(s, 3, key(s), "note.added",
                    "{\"blob\":\"" + std::string((1 << 20) + 10, 'b') + "\"}");
  });
  add("invalid JSON", "invalid_json", allowed,
      [&](const std::string& s) { return mutation(s, 3, key(s), "note.added", "{\"n\":"); });
  add("created_at beyond year 9999", "invalid_created_at", allowed, [&](const std::string& s) {
    auto m = note(s, 3, key(s));
    m.set_created_at_unix_ms(std::numeric_limits<std::int64_t>::max());
    return m;
  });
  add("evidence of 200 characters", "invalid_evidence", allowed, [&](const std::string& s) {
    auto m = note(s, 3, key(s));
    m.set_signature(std::string(200, 'a'));
    return m;
  });
  add("axle without its raw frame", "missing_evidence", allowed, [&](const std::string& s) {
    auto second = axle(2, "200", 12);
    second.erase("raw");
    return weighing(s, 3, key(s), axle_payload(json::array{axle(1, "100", 11), second}));
  });
  add("axle number 300", "part_out_of_range", allowed, [&](const std::string& s) {
    return weighing(s, 3, key(s), axle_payload(json::array{axle(300, "300", 11)}));
  });
  add("deck index -1", "part_out_of_range", allowed, [&](const std::string& s) {
    auto payload = weighing_payload("200");
    payload["decks"] = json::array{json::object{{"index", -1}, {"weight", "200"}}};
    return weighing(s, 3, key(s), payload);
  });
  add("a deck weight sent as a number", "invalid_payload", allowed, [&](const std::string& s) {
    auto payload = weighing_payload("200");
    payload["decks"] = json::array{json::object{{"index", 1}, {"weight", 200}}};
    return weighing(s, 3, key(s), payload);
  });
  add("a deck that is not an object", "invalid_payload", allowed, [&](const std::string& s) {
    auto payload = weighing_payload("200");
    payload["decks"] = json::array{json::object{{"index", 1}, {"weight", "200"}}, 7};
    return weighing(s, 3, key(s), payload);
  });
  add("65 decks", "too_many_parts", allowed, [&](const std::string& s) {
    auto payload = weighing_payload("65");
    json::array decks;
    for (int i = 1; i <= 65; ++i) decks.push_back(json::object{{"index", i}, {"weight", "1"}});
    payload["decks"] = decks;
    return weighing(s, 3, key(s), payload);
  });
  add("the same deck twice", "duplicate_part", allowed, [&](const std::string& s) {
    auto payload = weighing_payload("2");
    payload["decks"] = json::array{json::object{{"index", 1}, {"weight", "1"}},
                                   json::object{{"index", 1}, {"weight", "1"}}};
    return weighing(s, 3, key(s), payload);
  });
  add("operator with a newline", "control_character", allowed, [&](const std::string& s) {
    auto payload = weighing_payload("100");
    payload["operator"] = "op1\n2030-01-01 info forged";
    return weighing(s, 3, key(s), payload);
  });
  add("scale id of 300 characters", "text_too_long", allowed, [&](const std::string& s) {
    auto payload = weighing_payload("100");
    payload["scale"] = std::string(300, 's');
    return weighing(s, 3, key(s), payload);
  });
  add("raw frame of 5000 bytes", "frame_too_large", allowed, [&](const std::string& s) {
    auto payload = weighing_payload("100");
    payload["raw"] = std::string(5000, 'r');
    return weighing(s, 3, key(s), payload);
  });
  add("tare with 7 decimals", "weight_out_of_range", allowed, [&](const std::string& s) {
    auto payload = weighing_payload("100");
    payload["tare"] = "0.1234567";
    return weighing(s, 3, key(s), payload);
  });
  add("withheld marker with a bad hash", "invalid_withheld", allowed, [&](const std::string& s) {
    auto m = mutation(s, 3, key(s), "note.added", "");
    m.set_withheld_reason("gave up");
    m.set_withheld_payload_sha256("not-a-sha256");
    return m;
  });
  add("a lone UTF-16 surrogate", "invalid_json", allowed, [&](const std::string& s) {
    return mutation(s, 3, key(s), "note.added", R"({"text":"\ud800"})");
  });
  add(
      "keyed station: no signature at all", "bad_signature", Station::keyed,
      [&](const std::string& s) { return note(s, 3, key(s)); }, Signing::none);
  return all;
}

}  // namespace poison_fixture

using namespace poison_fixture;  // NOLINT(google-build-using-namespace)
