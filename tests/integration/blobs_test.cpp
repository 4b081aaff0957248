// Evidence files (camera images) that records list in `attachments` reach the backend before
// their records, exactly once, resumably, and a file lost at the station is reported and does not
// hold up the rows behind it (docs/sync-protocol.md, "Evidence files"). The rows are written
// straight into the agent's outbox (as the camera component enqueues them), the files with
// BlobStore; the agent and the backend are the real processes on a throwaway PostgreSQL.
#include <doctest/doctest.h>

#include <boost/json.hpp>

#include "agent_fixture.hpp"
#include "weighlink/base/hash.hpp"
#include "weighlink/record/evidence.hpp"
#include "weighlink/sync/blob_store.hpp"
#include "weighlink/sync/outbox.hpp"
#include "weighlink/testing/backend.hpp"
#include "weighlink/testing/backup_data.hpp"
#include "weighlink/testing/fault_proxy.hpp"

namespace {

using namespace weighlink;
using namespace weighlink::testing;

// Bytes that look like nothing in particular, different per seed.
std::string image_bytes(std::size_t n, unsigned seed) {
  std::string bytes(n, '\0');
  std::uint32_t x = seed * 2654435761u + 1;
  for (auto& c : bytes) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    c = static_cast<char>(x & 0xff);
  }
  return bytes;
}

// A station's data directory while no agent runs on it (before its first start, or stopped): its
// key, files in its BlobStore and `weighlink.capture_images` rows in its outbox, each listing
// `files`.
class StationData {
 public:
  explicit StationData(const TempDir& dir, std::string station_id = "st-1")
      : station_id_(std::move(station_id)), data_(dir / "data"), blobs_(data_ / "blobs") {
    std::filesystem::create_directories(data_);
    if (!std::filesystem::exists(data_ / "station.key")) {
      REQUIRE(record::create_station_key((data_ / "station.key").string()).has_value());
    }
    sync::OutboxOptions options;
    options.station_id = station_id_;
    options.signing_key = record::read_station_key((data_ / "station.key").string()).value();
    outbox_ = sync::Outbox::open(data_ / "outbox.db", options).value();
  }
  ~StationData() { close(); }
  [[nodiscard]] const sync::BlobStore& blobs() const { return blobs_; }
  std::string put(const std::string& bytes) { return blobs_.put(bytes).value(); }
  // Enqueues a capture_images row listing `files` (name, size); returns its seq.
  std::uint64_t enqueue(const std::string& key,
                        const std::vector<std::pair<std::string, std::size_t>>& files) {
    boost::json::array attachments;
    for (const auto& [sha, bytes] : files) {
      attachments.push_back({{"sha256", sha}, {"bytes", bytes}, {"content_type", "image/jpeg"}});
    }
    const boost::json::object payload{{"station_id", station_id_},
                                      {"scale", "main"},
                                      {"trigger", "capture"},
                                      {"attachments", attachments}};
    sync::NewMutation m;
    m.idempotency_key = key;
    m.kind = "weighlink.capture_images";
    m.payload_json = boost::json::serialize(payload);
    m.request_hash = base::sha256_hex(m.payload_json);
    m.created_at_ms = 1'800'000'000'000;
    auto r = outbox_->enqueue_wait(std::move(m));
    REQUIRE(r.status == sync::EnqueueStatus::accepted);
    return r.row.seq;
  }
  void close() {
    if (outbox_) outbox_->close();
    outbox_.reset();
  }

 private:
  std::string station_id_;
  std::filesystem::path data_;
  sync::BlobStore blobs_;
  std::unique_ptr<sync::Outbox> outbox_;
};

bool drained(const std::string& http) {
  const auto status = agent_status(http);
  return status.at("outbox").at("pending") == 0 && status.at("uplink").at("in_flight") == 0;
}

}  // namespace

TEST_CASE("blobs: records replay with their images, once; a file deleted here is reported lost") {
  TempDir dir;
  StationData station(dir);
  const auto big = image_bytes(std::size_t{600} * 1024, 1);  // three chunks
  const auto small = image_bytes(std::size_t{10} * 1024, 2);
  const auto gone = image_bytes(std::size_t{5} * 1024, 3);
  const auto big_sha = station.put(big);
  const auto small_sha = station.put(small);
  const auto gone_sha = station.put(gone);
  REQUIRE(station.blobs().remove(gone_sha));  // deleted at the station before it was sent
  station.enqueue("w1:images", {{big_sha, big.size()}, {small_sha, small.size()}});
  const auto lost_seq = station.enqueue("w2:images", {{gone_sha, gone.size()}});
  station.enqueue("w3:images", {{small_sha, small.size()}});  // the same image again
  station.close();

  StationBackend backend(dir);
  AgentProcess agent(dir, backend.agent_args());
  REQUIRE(eventually([&] { return drained(agent.http); }, std::chrono::seconds(30)));

  const auto& pg = backend.pg();
  CHECK(pg.query_scalar("SELECT count(*) FROM mutation_log WHERE kind = 'weighlink.capture_images' "
                        "AND outcome = 'applied'") == "3");
  CHECK(pg.query_scalar("SELECT count(*) FROM evidence_blobs WHERE complete") == "2");
  CHECK(pg.query_scalar("SELECT count(*) FROM evidence_blob_chunks WHERE sha256 = '" + big_sha +
                        "'") == "3");
  // What PostgreSQL holds is the files' bytes, whole.
  for (const auto& sha : {big_sha, small_sha}) {
    CHECK(pg.query_scalar("SELECT encode(sha256(string_agg(data, ''::bytea ORDER BY \"offset\")),"
                          " 'hex') FROM evidence_blob_chunks WHERE sha256 = '" +
                          sha + "'") == sha);
  }
  CHECK(pg.query_scalar("SELECT idempotency_key || ' ' || seq FROM evidence_blob_losses WHERE "
                        "sha256 = '" +
                        gone_sha + "'") == "w2:images " + std::to_string(lost_seq));
  const auto uplink = agent_status(agent.http).at("uplink").as_object();
  CHECK(uplink.at("blobs_uploaded") == 2);
  CHECK(uplink.at("blobs_lost") == 1);
  CHECK(uplink.at("blob_bytes_sent") == big.size() + small.size());

  // records verify: the images of each record, present or reported lost.
  auto verify = [&](std::uint64_t seq) {
    auto r = run_split({bin("weighlink-backend"), "records", "verify", "--dsn", pg.dsn(),
                        "--station", "st-1", "--seq", std::to_string(seq)});
    return std::make_pair(r.exit_code, boost::json::parse(last_line(r.out)).as_object());
  };
  backend.set_key(dir / "data" / "station.key");
  const auto [ok_exit, ok_report] = verify(lost_seq - 1);
  CHECK(ok_exit == 0);
  CHECK(ok_report.at("attachments").as_array().size() == 2);
  CHECK(ok_report.at("attachments").at(0).at("state") == "present");
  const auto [lost_exit, lost_report] = verify(lost_seq);
  CHECK(lost_exit == 0);
  CHECK(lost_report.at("attachments").at(0).at("state") == "lost");
  // An image that vanished from the backend fails the record's verification.
  (void)pg.query_scalar("DELETE FROM evidence_blobs WHERE sha256 = '" + small_sha +
                        "' RETURNING 1");
  const auto [missing_exit, missing_report] = verify(lost_seq - 1);
  CHECK(missing_exit == 3);
  CHECK(missing_report.at("attachments_ok") == false);
}

TEST_CASE("blobs: an upload cut by a backend SIGKILL resumes where it stopped and completes once") {
  TempDir dir;
  StationData station(dir);
  const auto bytes = image_bytes(std::size_t{8} * 1024 * 1024, 4);  // 32 chunks
  const auto sha = station.put(bytes);
  station.enqueue("w1:images", {{sha, bytes.size()}});
  station.close();

  PgCluster pg;
  migrate(pg.dsn());
  write_secret_file(dir / "token", add_station(pg.dsn(), "st-1") + "\n");
  BackendServer server(pg.dsn(), dir.path(), {}, free_loopback_address());
  // Each chunk takes a while on this link, so the upload is under way long enough to be cut.
  FaultProxy proxy(server.grpc());
  proxy.set_delay(std::chrono::milliseconds(40));
  proxy.set_mode(FaultMode::delay);
  AgentProcess agent(
      dir, {"--backend", proxy.address(), "--station-token-file", (dir / "token").string()});
  const auto received = [&] {
    return std::stoll(pg.query_scalar(
        "SELECT coalesce((SELECT received_bytes FROM evidence_blobs WHERE sha256 = '" + sha +
        "'), 0)"));
  };
  REQUIRE(eventually([&] { return received() > 0; }, std::chrono::seconds(30),
                     std::chrono::milliseconds(5)));
  server.kill();
  const auto held_at_kill = received();
  CHECK(held_at_kill < static_cast<long long>(bytes.size()));
  server.start();
  REQUIRE(eventually([&] { return drained(agent.http); }, std::chrono::seconds(60)));
  CHECK(pg.query_scalar("SELECT complete FROM evidence_blobs WHERE sha256 = '" + sha + "'") == "t");
  CHECK(pg.query_scalar("SELECT count(*) FROM evidence_blob_chunks WHERE sha256 = '" + sha + "'") ==
        "32");
  // Resumed, not started over: the call that completed it sent only what the backend lacked
  // (the cut call's figures are not counted: it failed).
  const auto sent = agent_status(agent.http).at("uplink").at("blob_bytes_sent").as_int64();
  CHECK(sent == static_cast<std::int64_t>(bytes.size()) - held_at_kill);
  CHECK(pg.query_scalar("SELECT count(*) FROM mutation_log WHERE idempotency_key = 'w1:images'") ==
        "1");
}

namespace {

// A backend database with one applied `weighlink.capture_images` record listing one image, held
// whole (the blob row and its one chunk). Returns the image's name.
std::string seed_record_with_image(const PgCluster& pg, const std::string& bytes) {
  migrate(pg.dsn());
  (void)add_station(pg.dsn(), "st-1");
  auto sha = base::sha256_hex(bytes);
  const auto hex =
      base::to_hex({reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size()});
  const auto n = std::to_string(bytes.size());
  (void)pg.query_scalar(
      "INSERT INTO mutation_log (station_id, idempotency_key, seq, kind, payload, payload_sha256, "
      "outcome) VALUES ('st-1', 'w1:images', 1, 'weighlink.capture_images', "
      "'{\"attachments\":[{\"sha256\":\"" +
      sha + "\",\"bytes\":" + n +
      ",\"content_type\":\"image/jpeg\"}]}', 'x', 'applied') RETURNING 1");
  (void)pg.query_scalar("UPDATE stations SET high_water_seq = 1 RETURNING 1");
  (void)pg.query_scalar(
      "INSERT INTO evidence_blobs (sha256, station_id, bytes, content_type, received_bytes, "
      "complete) VALUES ('" +
      sha + "', 'st-1', " + n + ", 'image/jpeg', " + n + ", true) RETURNING 1");
  (void)pg.query_scalar("INSERT INTO evidence_blob_chunks (sha256, \"offset\", data) VALUES ('" +
                        sha + "', 0, decode('" + hex + "', 'hex')) RETURNING 1");
  return sha;
}

}  // namespace

TEST_CASE("blobs: verify-backup counts the images, and rows without their images fail it") {
  PgCluster pg;
  const auto sha = seed_record_with_image(pg, image_bytes(3000, 5));
  TempDir root("wl-blobs");
  const ScratchDir scratch;

  // With its image: the manifest counts it, the restore holds it whole.
  const auto good = backup_manifest(pg.dsn(), root / "good");
  const auto manifest = read_json(good);
  CHECK(manifest.at("evidence_blobs").at("count") == 1);
  const auto good_run = verify_backup(root / "good", {"--scratch-dir", scratch.path().string()});
  INFO(good_run.output);
  CHECK(good_run.exit_code == 0);
  CHECK(good_run.code() == "OK");
  CHECK(good_run.report.at("evidence_blobs").at("count") == 1);

  // The manifest says one image and the dump has none: the restore lost them.
  (void)pg.query_scalar("DELETE FROM evidence_blobs RETURNING 1");
  const auto without = backup_manifest(pg.dsn(), root / "without");
  auto claimed = read_json(without);
  CHECK(claimed.at("evidence_blobs").at("count") == 0);
  claimed["evidence_blobs"] = manifest.at("evidence_blobs");
  write_text(without, boost::json::serialize(claimed) + "\n");
  const auto lost = verify_backup(root / "without", {"--scratch-dir", scratch.path().string()});
  INFO(lost.output);
  CHECK(lost.exit_code == 3);
  CHECK(lost.code() == "EVIDENCE_MISSING");

  // The manifest honest (no image), but the record still lists it: failed too.
  const auto honest = backup_manifest(pg.dsn(), root / "honest");
  const auto missing = verify_backup(root / "honest", {"--scratch-dir", scratch.path().string()});
  INFO(missing.output);
  CHECK(missing.exit_code == 3);
  CHECK(missing.code() == "EVIDENCE_MISSING");
  CHECK(missing.report.at("evidence").at("attachments").at(0).at("sha256").as_string() == sha);
  CHECK(missing.report.at("evidence").at("attachments").at(0).at("state") == "missing");
  CHECK_FALSE(std::filesystem::exists(root / "honest" / "verified-latest"));
  (void)honest;
}

TEST_CASE("blobs: a backend restored from an older backup gets the lost records' images again") {
  TempDir dir;
  auto station = std::make_unique<StationData>(dir);
  const auto before = image_bytes(std::size_t{300} * 1024, 6);
  const auto after = image_bytes(std::size_t{40} * 1024, 7);
  const auto before_sha = station->put(before);
  const auto after_sha = station->put(after);
  station->enqueue("w1:images", {{before_sha, before.size()}});
  station->close();

  PgCluster pg;
  migrate(pg.dsn());
  write_secret_file(dir / "token", add_station(pg.dsn(), "st-1") + "\n");
  BackendServer server(pg.dsn(), dir.path(), {}, free_loopback_address());
  const std::vector<std::string> agent_args{"--backend", server.grpc(), "--station-token-file",
                                            (dir / "token").string()};
  auto agent = std::make_unique<AgentProcess>(dir, agent_args);
  REQUIRE(eventually([&] { return drained(agent->http); }, std::chrono::seconds(30)));
  const auto dump = backup(pg.dsn(), dir / "backups");  // holds w1 and its image

  // The station records another weighing's images (the agent stopped meanwhile: the rows are
  // written into its outbox as the camera component would), and they reach the backend.
  CHECK(agent->process->terminate() == 0);
  agent.reset();
  station = std::make_unique<StationData>(dir);
  station->enqueue("w2:images", {{after_sha, after.size()}});
  station->close();
  agent = std::make_unique<AgentProcess>(dir, agent_args);
  REQUIRE(eventually([&] { return drained(agent->http); }, std::chrono::seconds(30)));
  CHECK(pg.query_scalar("SELECT count(*) FROM evidence_blobs WHERE complete") == "2");

  // Disaster: the database goes back to the older dump, without w2 and its image.
  CHECK(server.terminate() == 0);
  const auto restored = run(
      {bin("weighlink-backend"), "restore", "--file", dump.string(), "--dsn", pg.dsn(), "--force"},
      std::chrono::seconds(60));
  INFO(restored.output);
  REQUIRE(restored.exit_code == 0);
  CHECK(pg.query_scalar("SELECT count(*) FROM evidence_blobs WHERE sha256 = '" + after_sha + "'") ==
        "0");
  server.start();
  REQUIRE(eventually(
      [&] {
        return pg.query_scalar(
                   "SELECT count(*) FROM mutation_log WHERE idempotency_key = "
                   "'w2:images'") == "1" &&
               drained(agent->http);
      },
      std::chrono::seconds(30)));
  CHECK(pg.query_scalar("SELECT complete FROM evidence_blobs WHERE sha256 = '" + after_sha + "'") ==
        "t");
  CHECK(pg.query_scalar("SELECT count(*) FROM evidence_blob_losses") == "0");
  // Since this agent started: w2's image twice (before the restore and after it), w1's, which the
  // dump kept, never: asked for, not sent again.
  CHECK(agent_status(agent->http).at("uplink").at("blobs_uploaded") == 2);
}

TEST_CASE("blobs: two stations sending the same image through two replicas store it once") {
  const auto bytes = image_bytes(std::size_t{1024} * 1024, 8);  // four chunks each way
  TempDir dir_a;
  TempDir dir_b;
  std::string sha;
  for (auto* dir : {&dir_a, &dir_b}) {
    StationData station(*dir, dir == &dir_a ? "st-a" : "st-b");
    sha = station.put(bytes);
    station.enqueue("w1:images", {{sha, bytes.size()}});
  }
  PgCluster pg;
  migrate(pg.dsn());
  write_secret_file(dir_a / "token", add_station(pg.dsn(), "st-a") + "\n");
  write_secret_file(dir_b / "token", add_station(pg.dsn(), "st-b") + "\n");
  BackendServer one(pg.dsn(), dir_a.path(), {}, "127.0.0.1:0", "replica-1");
  BackendServer two(pg.dsn(), dir_b.path(), {}, "127.0.0.1:0", "replica-2");
  AgentProcess a(dir_a, {"--station-id", "st-a", "--backend", one.grpc(), "--station-token-file",
                         (dir_a / "token").string()});
  AgentProcess b(dir_b, {"--station-id", "st-b", "--backend", two.grpc(), "--station-token-file",
                         (dir_b / "token").string()});
  REQUIRE(eventually([&] { return drained(a.http) && drained(b.http); }, std::chrono::seconds(30)));
  CHECK(pg.query_scalar("SELECT count(*) FROM evidence_blobs") == "1");
  CHECK(pg.query_scalar("SELECT complete FROM evidence_blobs") == "t");
  CHECK(pg.query_scalar("SELECT count(*) FROM evidence_blob_chunks") == "4");
  CHECK(pg.query_scalar("SELECT encode(sha256(string_agg(data, ''::bytea ORDER BY \"offset\")), "
                        "'hex') FROM evidence_blob_chunks") == sha);
  CHECK(pg.query_scalar("SELECT count(*) FROM mutation_log WHERE kind = "
                        "'weighlink.capture_images'") == "2");
  // Whichever finished first, the other found it whole or completed what was there: one upload
  // of the whole, at most, per station.
  const auto uploaded = agent_status(a.http).at("uplink").at("blobs_uploaded").as_int64() +
                        agent_status(b.http).at("uplink").at("blobs_uploaded").as_int64();
  CHECK(uploaded >= 1);
  CHECK(uploaded <= 2);
}
