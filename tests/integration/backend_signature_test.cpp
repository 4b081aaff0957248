// weighlink-backend end to end, signatures: the station's key registered with `station set-key` /
// `station add --key-file`, every mutation's signature and chain checked; migrations of recorded
// weighings; the DSN from the environment.
#include <fstream>

#include "backend_fixture.hpp"

namespace {

using weighlink::testing::sign_mutation;
using weighlink::testing::write_station_key;

// An axle weighing as the agent sends it: the JSON it signs and the typed copy.
pb::Mutation axle_weighing(const std::string& station, std::uint64_t seq, const std::string& key,
                           const std::string& first, const std::string& second,
                           const std::string& gvw) {
  pb::Mutation m;
  m.set_station_id(station);
  m.set_idempotency_key(key);
  m.set_seq(seq);
  m.set_kind("weighing.captured");
  m.set_created_at_unix_ms(1'800'000'000'000 + static_cast<std::int64_t>(seq));
  m.set_payload_json(
      R"({"type":"axle","scale":"main","weight":")" + gvw + R"(","gvw":")" + gvw +
      R"(","unit":"kg","mode":"gross","axles":[{"number":1,"weight":")" + first +
      R"(","reading":")" + first +
      R"(","reading_seq":11,"raw":"\u0002A1\r","captured_at":"2027-01-15T08:00:01.000Z"},)" +
      R"({"number":2,"weight":")" + second + R"(","reading":")" + second +
      R"(","reading_seq":12,"raw":"\u0002A2\u00b0\r",)" +
      R"("captured_at":"2027-01-15T08:00:05.000Z"}]})");
  auto* w = m.mutable_weighing_captured();
  w->set_scale("main");
  w->set_weight(gvw);
  w->set_unit("kg");
  w->set_mode("gross");
  return m;
}

std::string metric_line(const std::string& http, const std::string& prefix) {
  const auto body = http_get(http, "/metrics").body;
  const auto at = body.find("\n" + prefix);
  if (at == std::string::npos) return {};
  return body.substr(at + 1, body.find('\n', at + 1) - at - 1);
}

const std::vector<unsigned char> kStationKey(32, 0x5a);
const std::string kGenesis(weighlink::record::kGenesisHash);

}  // namespace

TEST_CASE("backend: station set-key and add --key-file register the agent's key") {
  PgCluster pg;
  migrate(pg);
  TempDir dir("wl-backend-test");
  const auto key_file = write_station_key(dir / "station.key", kStationKey);
  auto added = weighlink::testing::run({kBackend, "station", "add", "--dsn", pg.dsn(), "--id",
                                        "st1", "--key-file", key_file.string()});
  INFO(added.output);
  REQUIRE(added.exit_code == 0);
  CHECK(last_line(added.output).rfind("wlst_", 0) == 0);  // the token is still the last line
  CHECK(pg.query_scalar("select encode(signing_key, 'hex') from stations where id='st1'") ==
        weighlink::base::to_hex(kStationKey));

  add_station(pg, "st2");
  CHECK(pg.query_scalar("select signing_key is null from stations where id='st2'") == "t");
  const std::vector<unsigned char> longer(48, 0x21);  // 64+ hex digits: longer keys are fine
  auto set =
      weighlink::testing::run({kBackend, "station", "set-key", "--dsn", pg.dsn(), "--id", "st2",
                               "--key-file", write_station_key(dir / "long.key", longer).string()});
  INFO(set.output);
  CHECK(set.exit_code == 0);
  CHECK(pg.query_scalar("select encode(signing_key, 'hex') from stations where id='st2'") ==
        weighlink::base::to_hex(longer));
  CHECK(pg.query_scalar("select signing_key_set_at is not null from stations where id='st2'") ==
        "t");

  // A file that is not a key, a missing file, an unknown station, no --key-file.
  std::ofstream(dir / "short.key") << "abcd\n";
  auto short_key =
      weighlink::testing::run({kBackend, "station", "set-key", "--dsn", pg.dsn(), "--id", "st2",
                               "--key-file", (dir / "short.key").string()});
  CHECK(short_key.exit_code == 2);
  CHECK(short_key.output.find("at least 64 hex digits") != std::string::npos);
  CHECK(weighlink::testing::run({kBackend, "station", "set-key", "--dsn", pg.dsn(), "--id", "st2",
                                 "--key-file", (dir / "none.key").string()})
            .exit_code == 2);
  const auto unknown = weighlink::testing::run({kBackend, "station", "set-key", "--dsn", pg.dsn(),
                                                "--id", "st9", "--key-file", key_file.string()});
  CHECK(unknown.exit_code == 1);
  CHECK(unknown.output.find("no such station") != std::string::npos);
  CHECK(weighlink::testing::run({kBackend, "station", "set-key", "--dsn", pg.dsn(), "--id", "st2"})
            .exit_code == 2);
  auto bad_add = weighlink::testing::run({kBackend, "station", "add", "--dsn", pg.dsn(), "--id",
                                          "st3", "--key-file", (dir / "short.key").string()});
  CHECK(bad_add.exit_code == 2);
  CHECK(pg.query_scalar("select count(*) from stations where id='st3'") == "0");
  // The key never reaches the output.
  CHECK(added.output.find(weighlink::base::to_hex(kStationKey)) == std::string::npos);
  CHECK(set.output.find(weighlink::base::to_hex(longer)) == std::string::npos);
}

TEST_CASE_FIXTURE(ServedStation,
                  "backend: with a station key, every mutation's signature and chain is checked") {
  TempDir dir("wl-backend-test");
  const auto set = weighlink::testing::run(
      {kBackend, "station", "set-key", "--dsn", pg.dsn(), "--id", "st1", "--key-file",
       write_station_key(dir / "station.key", kStationKey).string()});
  REQUIRE_MESSAGE(set.exit_code == 0, set.output);

  // A correctly signed chain is applied, with its evidence stored and verified.
  auto m1 = axle_weighing("st1", 1, "k1", "6100", "8200.5", "14300.5");
  m1.mutable_weighing_captured()->set_weight("99999");  // the unsigned typed copy, altered
  auto m2 = weighing("st1", 2, "k2", "32540");
  auto m3 = weighing("st1", 3, "k3", "12440.5");
  const auto h1 = sign_mutation(m1, kGenesis, kStationKey);
  const auto h2 = sign_mutation(m2, h1, kStationKey);
  const auto h3 = sign_mutation(m3, h2, kStationKey);
  const auto response = replay({m1, m2, m3});
  REQUIRE(response.results_size() == 3);
  for (const auto& r : response.results()) CHECK_MESSAGE(r.outcome() == pb::APPLIED, r.reason());
  CHECK(pg.query_scalar("select string_agg(record_hash, ',' order by seq) from mutation_log") ==
        h1 + "," + h2 + "," + h3);
  CHECK(pg.query_scalar("select prev_hash from mutation_log where seq=2") == h1);
  CHECK(pg.query_scalar("select signature from mutation_log where seq=3") == m3.signature());
  CHECK(pg.query_scalar("select bool_and(signature_verified) from mutation_log") == "t");
  // What is stored is what was signed: the weight and the axles from the signed JSON.
  CHECK(pg.query_scalar("select weight::text from weighings where idempotency_key='k1'") ==
        "14300.5");
  CHECK(pg.query_scalar("select gvw::text || ' ' || weighing_type from weighings where "
                        "idempotency_key='k1'") == "14300.5 axle");
  CHECK(pg.query_scalar("select string_agg(axle || ':' || weight::text || ':' || reading_seq || "
                        "':' || encode(raw, 'hex') || ':' || captured_ts, ' ' order by axle) "
                        "from weighing_axles where idempotency_key='k1'") ==
        "1:6100:11:0241310d:2027-01-15T08:00:01.000Z 2:8200.5:12:024132b00d:"
        "2027-01-15T08:00:05.000Z");
  CHECK(pg.query_scalar("select pg_typeof(weight)::text from weighing_axles limit 1") == "numeric");

  // A changed payload, a wrong key, a broken chain; a good one after each is applied.
  auto m4 = weighing("st1", 4, "k4", "100");
  const auto h4 = sign_mutation(m4, h3, kStationKey);
  m4.set_payload_json(R"({"scale":"main","weight":"900","unit":"kg"})");
  auto m5 = weighing("st1", 5, "k5", "500");
  const auto h5 = sign_mutation(m5, h4, kStationKey);
  auto m6 = weighing("st1", 6, "k6", "600");
  const auto h6 = sign_mutation(m6, h5, std::vector<unsigned char>(32, 0x11));
  auto m7 = weighing("st1", 7, "k7", "700");
  sign_mutation(m7, h5, kStationKey);  // skips seq 6
  auto m8 = weighing("st1", 8, "k8", "800");
  sign_mutation(m8, m7.record_hash(), kStationKey);
  const auto second = replay({m4, m5, m6, m7, m8});
  REQUIRE(second.results_size() == 5);
  CHECK(second.results(0).outcome() == pb::REJECTED);
  CHECK(second.results(0).reason().rfind("bad_signature", 0) == 0);
  CHECK(second.results(1).outcome() == pb::APPLIED);
  CHECK(second.results(2).outcome() == pb::REJECTED);
  CHECK(second.results(2).reason().rfind("bad_signature", 0) == 0);
  CHECK(second.results(3).outcome() == pb::REJECTED);
  CHECK(second.results(3).reason().rfind("chain_broken", 0) == 0);
  CHECK(second.results(4).outcome() == pb::APPLIED);
  CHECK(second.watermark().high_water_seq() == 8);
  CHECK(pg.query_scalar("select outcome || ' ' || reason from mutation_log where seq=4")
            .rfind("rejected bad_signature", 0) == 0);
  CHECK(pg.query_scalar("select record_hash from mutation_log where seq=6") == h6);  // as given
  CHECK(pg.query_scalar("select count(*) from weighings where idempotency_key in "
                        "('k4','k6','k7')") == "0");
  CHECK(pg.query_scalar("select count(*) from weighings") == "5");

  // Re-sent, a rejection stays a rejection (a DUPLICATE of it).
  const auto again = replay({m4});
  CHECK(again.results(0).outcome() == pb::DUPLICATE);
  CHECK(again.results(0).original_outcome() == pb::REJECTED);

  // A mutation without evidence is refused once the station has a key.
  const auto bare = replay({weighing("st1", 9, "k9", "9")});
  CHECK(bare.results(0).reason().rfind("bad_signature", 0) == 0);

  CHECK(metric_line(backend.http(),
                    "weighlink_backend_evidence_rejected_total{reason=\"bad_"
                    "signature\"}") ==
        "weighlink_backend_evidence_rejected_total{reason=\"bad_signature\"} 3");
  CHECK(metric_line(backend.http(),
                    "weighlink_backend_evidence_rejected_total{reason=\"chain_broken\"}") ==
        "weighlink_backend_evidence_rejected_total{reason=\"chain_broken\"} 1");
  CHECK(metric_line(backend.http(), "weighlink_backend_unsigned_mutations_total") ==
        "weighlink_backend_unsigned_mutations_total 0");
  CHECK(backend.log().find(weighlink::base::to_hex(kStationKey)) == std::string::npos);
}

TEST_CASE_FIXTURE(
    ServedStation,
    "backend: a station without a key accepts mutations, stores their evidence, counts them") {
  auto signed_one = weighing("st1", 1, "k1", "100");
  const auto h1 = sign_mutation(signed_one, kGenesis, kStationKey);
  auto odd = weighing("st1", 2, "k2", "200");
  odd.set_prev_hash("whatever");
  odd.set_record_hash("not-checked");
  odd.set_signature("without-a-key");
  const auto response = replay({signed_one, odd, weighing("st1", 3, "k3", "300")});
  REQUIRE(response.results_size() == 3);
  for (const auto& r : response.results()) CHECK_MESSAGE(r.outcome() == pb::APPLIED, r.reason());
  CHECK(pg.query_scalar("select record_hash from mutation_log where seq=1") == h1);
  CHECK(pg.query_scalar("select signature from mutation_log where seq=2") == "without-a-key");
  CHECK(pg.query_scalar("select record_hash is null from mutation_log where seq=3") == "t");
  CHECK(pg.query_scalar("select bool_or(signature_verified) from mutation_log") == "f");
  CHECK(metric_line(backend.http(), "weighlink_backend_unsigned_mutations_total") ==
        "weighlink_backend_unsigned_mutations_total 3");
  // Evidence that could not be stored rejects that mutation alone.
  auto bad = weighing("st1", 4, "k4", "400");
  bad.set_signature(std::string(200, 'a'));
  const auto rejected = replay({bad});
  CHECK(rejected.results(0).reason().rfind("invalid_evidence: ", 0) == 0);
  CHECK(rejected.watermark().high_water_seq() == 4);
}

TEST_CASE("backend: migration 2 gives weighings recorded under v1 their deck and axle rows") {
  PgCluster pg;
  {
    // The schema as a v1 binary left it, with a multi-deck and an axle weighing.
    PgSession v1(pg.dsn());
    v1.exec(std::string(weighlink::pg::migrations()[0].sql));
    v1.exec(
        "CREATE TABLE schema_migrations (version int PRIMARY KEY, applied_at timestamptz NOT NULL "
        "DEFAULT now()); INSERT INTO schema_migrations (version) VALUES (1)");
    v1.exec(
        "INSERT INTO stations (id, token_sha256) VALUES ('st1', 'x');"
        "INSERT INTO mutation_log (station_id, idempotency_key, seq, kind, payload, "
        "payload_sha256, outcome) VALUES "
        "('st1', 'd', 1, 'weighing.captured', '{}', 'h', 'applied'),"
        "('st1', 'a', 2, 'weighing.captured', '{}', 'h', 'applied'),"
        "('st1', 's', 3, 'weighing.captured', '{}', 'h', 'applied');"
        "INSERT INTO weighings (station_id, idempotency_key, scale, weight, unit, mode, decks, "
        "axles) VALUES "
        "('st1', 'd', 'main', 30100, 'kg', 'gross', '[{\"index\":1,\"weight\":\"12000\","
        "\"stable\":true},{\"index\":2,\"weight\":\"18100\",\"stable\":false}]', NULL),"
        "('st1', 'a', 'main', 14300.5, 'kg', 'gross', NULL, '[{\"index\":0,\"weight\":\"6100\"},"
        "{\"index\":0,\"weight\":\"8200.5\"}]'),"
        "('st1', 's', 'main', 500, 'kg', 'gross', NULL, NULL)");
  }
  migrate(pg);
  CHECK(pg.query_scalar("select max(version) from schema_migrations") ==
        std::to_string(weighlink::pg::latest_schema_version()));
  CHECK(pg.query_scalar("select string_agg(deck || ':' || weight::text || ':' || stable, ' ' "
                        "order by deck) from weighing_decks where idempotency_key='d'") ==
        "1:12000:true 2:18100:false");
  // v1 agents sent no axle numbers: the axles take their position.
  CHECK(pg.query_scalar("select string_agg(axle || ':' || weight::text, ' ' order by axle) from "
                        "weighing_axles where idempotency_key='a'") == "1:6100 2:8200.5");
  CHECK(pg.query_scalar("select string_agg(idempotency_key || ':' || coalesce(gvw::text, '-'), "
                        "' ' order by idempotency_key) from weighings") == "a:14300.5 d:30100 s:-");
  CHECK(pg.query_scalar("select count(*) from mutation_log where signature_verified") == "0");
  // Rows from before v5 have no exact payload text: `records verify` says the hash is unknown.
  CHECK(pg.query_scalar("select count(*) from mutation_log where payload_text is not null") == "0");
}

TEST_CASE("backend: the DSN may come from WEIGHLINK_DSN instead of the command line") {
  // The systemd unit reads it from /etc/weighlink/backend.env: no secret in `ps`.
  PgCluster pg;
  const auto migrated =
      weighlink::testing::run({"/usr/bin/env", "WEIGHLINK_DSN=" + pg.dsn(), kBackend, "migrate"});
  INFO(migrated.output);
  CHECK(migrated.exit_code == 0);
  CHECK(pg.query_scalar("select count(*) from stations") == "0");  // the schema is there
  const auto added = weighlink::testing::run(
      {"/usr/bin/env", "WEIGHLINK_DSN=" + pg.dsn(), kBackend, "station", "add", "--id", "st-env"});
  CHECK(added.exit_code == 0);
  CHECK(last_line(added.output).rfind("wlst_", 0) == 0);
  // Neither given: a usage error that names both.
  const auto neither =
      weighlink::testing::run({"/usr/bin/env", "-u", "WEIGHLINK_DSN", kBackend, "migrate"});
  CHECK(neither.exit_code == 2);
  CHECK(neither.output.find("--dsn") != std::string::npos);
}
