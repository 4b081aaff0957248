// Offsite locations through the real rclone (Debian's 1.60): `rclone serve webdav` and `rclone
// serve http` on loopback as the endpoints, reached with on-the-fly remotes
// (":webdav,url='http://127.0.0.1:PORT':path"), so that no rclone config file is involved.
// Endpoints that are down: a port nobody listens on, a server SIGKILLed, a server that only
// answers 503, a server that never answers.
#include "weighlink/recovery/offsite.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <fstream>
#include <random>
#include <thread>

#include "weighlink/testing/process.hpp"
#include "weighlink/testing/rclone_serve.hpp"
#include "weighlink/testing/scripted_http.hpp"

using namespace weighlink::recovery;
using weighlink::testing::RcloneServe;
using weighlink::testing::read_file;
using weighlink::testing::ScriptedHttpServer;
using weighlink::testing::ScriptedResponse;
using weighlink::testing::TempDir;
namespace fs = std::filesystem;

namespace {

Location location(const std::string& spec) {
  auto parsed = parse_location(spec);
  REQUIRE(parsed.has_value());
  REQUIRE(parsed->remote());
  return *parsed;
}

// `size` pseudo-random bytes (incompressible, like a dump).
void write_random(const fs::path& file, std::size_t size) {
  std::mt19937 generator(42);
  std::string bytes(size, '\0');
  for (auto& b : bytes) b = static_cast<char>(generator());
  std::ofstream(file, std::ios::binary) << bytes;
}

bool has_partial(const fs::path& dir) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (e.path().string().ends_with(kPartialSuffix)) return true;
  }
  return false;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// A remote with nothing listening on its port: connections are refused.
std::string refused_remote() {
  return ":webdav,url='http://" + weighlink::testing::free_loopback_address() + "':";
}

}  // namespace

TEST_CASE("offsite: put, list, fetch, small files and remove on a WebDAV remote") {
  TempDir tmp("wl-offsite");
  fs::create_directories(tmp / "served");
  RcloneServe dav(RcloneServe::Kind::webdav, tmp / "served", tmp / "rclone.log");
  // A folder that does not exist yet: not found until the first upload creates it.
  auto store = open_store(location(dav.remote() + "backups"));
  const auto listed_before = store->list();
  REQUIRE_FALSE(listed_before.has_value());
  CHECK(listed_before.error().code == OffsiteErrc::not_found);

  write_random(tmp / "local.dump", std::size_t{300} * 1024);
  const auto put = store->put(tmp / "local.dump", "weighlink_20240501_030000.dump");
  REQUIRE_MESSAGE(put.has_value(), (put ? "" : put.error().message));
  const auto on_server = tmp / "served" / "backups" / "weighlink_20240501_030000.dump";
  CHECK(read_file(on_server) == read_file(tmp / "local.dump"));
  CHECK_FALSE(has_partial(tmp / "served" / "backups"));

  const auto entries = store->list();
  REQUIRE(entries.has_value());
  REQUIRE(entries->size() == 1);
  CHECK((*entries)[0].name == "weighlink_20240501_030000.dump");
  CHECK((*entries)[0].size == 300 * 1024);
  CHECK((*entries)[0].mod_time > std::chrono::system_clock::now() - std::chrono::hours(1));

  const auto fetched = store->fetch("weighlink_20240501_030000.dump", tmp / "fetched.dump");
  REQUIRE(fetched.has_value());
  CHECK(*fetched == tmp / "fetched.dump");
  CHECK(read_file(tmp / "fetched.dump") == read_file(tmp / "local.dump"));
  CHECK_FALSE(fs::exists(tmp / "fetched.dump.partial"));

  // The pointer, twice with contents of the same size: WebDAV has no modification times, and
  // rclone moveto without --ignore-times would keep the old file (rclone 1.60).
  REQUIRE(store->write_small("verified-latest", "weighlink_20240501_030000.dump").has_value());
  CHECK(*store->read_small("verified-latest") == "weighlink_20240501_030000.dump");
  REQUIRE(store->write_small("verified-latest", "weighlink_20240502_030000.dump").has_value());
  CHECK(*store->read_small("verified-latest") == "weighlink_20240502_030000.dump");
  CHECK(read_file(tmp / "served" / "backups" / "verified-latest") ==
        "weighlink_20240502_030000.dump");
  // A dump put again with the same size and new bytes replaces the old one too.
  write_random(tmp / "other.dump", std::size_t{300} * 1024);
  {
    std::fstream patch(tmp / "other.dump", std::ios::in | std::ios::out | std::ios::binary);
    patch << "different";
  }
  REQUIRE(store->put(tmp / "other.dump", "weighlink_20240501_030000.dump").has_value());
  CHECK(read_file(on_server) == read_file(tmp / "other.dump"));

  CHECK(store->read_small("missing.manifest.json").error().code == OffsiteErrc::not_found);
  CHECK(store->fetch("missing.dump", tmp / "m.dump").error().code == OffsiteErrc::not_found);
  CHECK(store->remove("missing.dump").error().code == OffsiteErrc::not_found);
  CHECK(store->read_small("weighlink_20240501_030000.dump").has_value());  // under 1 MiB

  REQUIRE(store->remove("weighlink_20240501_030000.dump").has_value());
  CHECK_FALSE(fs::exists(on_server));
  const auto after = store->list();
  REQUIRE(after.has_value());
  REQUIRE(after->size() == 1);
  CHECK((*after)[0].name == "verified-latest");
  CHECK_FALSE(has_partial(tmp / "served" / "backups"));
}

TEST_CASE("offsite: an upload is not visible under its final name until it is complete") {
  TempDir tmp("wl-offsite");
  fs::create_directories(tmp / "served");
  RcloneServe dav(RcloneServe::Kind::webdav, tmp / "served", tmp / "rclone.log");
  // Slowed down (about 4 s) so that the upload can be watched while it runs.
  RcloneOptions slow;
  slow.extra_flags = {"--bwlimit", "1M"};
  auto store = open_store(location(dav.remote()), slow);
  auto watcher = open_store(location(dav.remote()));
  constexpr std::uintmax_t kSize = 4 << 20;
  write_random(tmp / "big.dump", kSize);

  std::atomic<bool> done{false};
  OffsiteResult<void> put = OffsiteError{};
  std::thread uploader([&] {
    put = store->put(tmp / "big.dump", "big.dump");
    done = true;
  });
  // Readers through WebDAV: whenever the final name is listed, it is the whole file. (A listing
  // may wait while the server's VFS creates the file, hence its own thread.)
  std::atomic<int> listings{0};
  std::atomic<bool> listed_incomplete{false};
  std::thread lister([&] {
    while (!done) {
      if (auto entries = watcher->list()) {
        ++listings;
        for (const auto& e : *entries) {
          if (e.name == "big.dump" && e.size != kSize) listed_incomplete = true;
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  // Readers of the server's disk: the same.
  const auto final_file = tmp / "served" / "big.dump";
  bool partial_seen = false, final_incomplete = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!done && std::chrono::steady_clock::now() < deadline) {
    std::error_code ec;
    partial_seen = partial_seen || fs::exists(tmp / "served" / "big.dump.partial", ec);
    const auto size = fs::file_size(final_file, ec);
    if (!ec && size != kSize) final_incomplete = true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  uploader.join();
  lister.join();
  REQUIRE_MESSAGE(put.has_value(), (put ? "" : put.error().message));
  CHECK(partial_seen);  // the upload was slow enough to be watched
  CHECK_FALSE(final_incomplete);
  CHECK_FALSE(listed_incomplete);
  MESSAGE(listings.load() << " WebDAV listings during the upload");
  CHECK(fs::file_size(final_file) == kSize);
  CHECK(read_file(final_file) == read_file(tmp / "big.dump"));
  CHECK_FALSE(fs::exists(tmp / "served" / "big.dump.partial"));
}

TEST_CASE("offsite: a read-only HTTP source lists and fetches, and refuses uploads") {
  TempDir tmp("wl-offsite");
  fs::create_directories(tmp / "served" / "sub");
  write_random(tmp / "served" / "weighlink_1.dump", std::size_t{64} * 1024);
  std::ofstream(tmp / "served" / "weighlink_1.manifest.json") << R"({"size_bytes":65536})";
  RcloneServe http(RcloneServe::Kind::http, tmp / "served", tmp / "rclone.log");
  auto store = open_store(location(http.remote()));

  const auto entries = store->list();
  REQUIRE(entries.has_value());
  REQUIRE(entries->size() == 2);  // the sub-folder is not a file
  const auto fetched = store->fetch("weighlink_1.dump", tmp / "fetched.dump");
  REQUIRE(fetched.has_value());
  CHECK(read_file(tmp / "fetched.dump") == read_file(tmp / "served" / "weighlink_1.dump"));
  CHECK(*store->read_small("weighlink_1.manifest.json") == R"({"size_bytes":65536})");

  const auto put = store->put(tmp / "fetched.dump", "copy.dump");
  REQUIRE_FALSE(put.has_value());
  CHECK(put.error().code == OffsiteErrc::failed);  // the endpoint answered: not "unreachable"
  CHECK(put.error().message.find("read only") != std::string::npos);
  CHECK_FALSE(fs::exists(tmp / "served" / "copy.dump"));
}

TEST_CASE("offsite: a primary that is down is noted and the fallback serves") {
  TempDir tmp("wl-offsite");
  fs::create_directories(tmp / "a");
  fs::create_directories(tmp / "b");
  write_random(tmp / "b" / "weighlink_1.dump", 1024);
  RcloneServe primary(RcloneServe::Kind::webdav, tmp / "a", tmp / "a.log");
  RcloneServe fallback(RcloneServe::Kind::http, tmp / "b", tmp / "b.log");

  SUBCASE("nothing listens on the primary's port") {
    const auto refused = refused_remote();
    auto reachable = open_first_reachable({location(refused), location(fallback.remote())});
    REQUIRE(reachable.has_value());
    CHECK(reachable->index == 1);
    REQUIRE(reachable->entries.size() == 1);
    CHECK(reachable->entries[0].name == "weighlink_1.dump");
    REQUIRE(reachable->skipped.size() == 1);
    CHECK(reachable->skipped[0].error.code == OffsiteErrc::unreachable);
    CHECK(reachable->skipped[0].error.detail.find("connection refused") != std::string::npos);
    const auto described = describe_fallback(*reachable);
    MESSAGE(described);
    CHECK(described.starts_with("primary " + refused + " endpoint unreachable ("));
    CHECK(described.ends_with("served by fallback " + fallback.remote()));
  }
  SUBCASE("the primary server was SIGKILLed") {
    REQUIRE(open_store(location(primary.remote()))->list().has_value());
    primary.kill();
    auto reachable =
        open_first_reachable({location(primary.remote()), location(fallback.remote())});
    REQUIRE(reachable.has_value());
    CHECK(reachable->index == 1);
    REQUIRE(reachable->skipped.size() == 1);
    CHECK(reachable->skipped[0].error.code == OffsiteErrc::unreachable);
    // The fallback store is the one returned: it reads.
    CHECK(reachable->store->fetch("weighlink_1.dump", tmp / "f.dump").has_value());
  }
  SUBCASE("the primary answers every request with 503") {
    ScriptedHttpServer unavailable({{503, "maintenance", {}}});
    const auto spec = ":webdav,url='http://" + unavailable.address() + "':";
    auto reachable = open_first_reachable({location(spec), location(fallback.remote())});
    REQUIRE(reachable.has_value());
    CHECK(reachable->index == 1);
    REQUIRE(reachable->skipped.size() == 1);
    CHECK(reachable->skipped[0].error.code == OffsiteErrc::unreachable);
    CHECK(reachable->skipped[0].error.detail.find("503") != std::string::npos);
    CHECK(unavailable.requests().size() == 1);  // --low-level-retries 1: no retry storm
  }
}

TEST_CASE("offsite: both endpoints down fail as none reachable within seconds") {
  TempDir tmp("wl-offsite");
  fs::create_directories(tmp / "a");
  RcloneServe killed(RcloneServe::Kind::webdav, tmp / "a", tmp / "a.log");
  killed.kill();
  const auto refused = refused_remote();

  const auto started = std::chrono::steady_clock::now();
  auto reachable = open_first_reachable({location(refused), location(killed.remote())});
  const double elapsed = seconds_since(started);
  REQUIRE_FALSE(reachable.has_value());
  CHECK(reachable.error().code == OffsiteErrc::none_reachable);
  MESSAGE("both refused, declared down in " << elapsed << " s: " << reachable.error().message);
  CHECK(reachable.error().message.find("primary " + refused) != std::string::npos);
  CHECK(reachable.error().message.find("fallback " + killed.remote()) != std::string::npos);
  // How long it took is reported, not asserted (a hang would meet ctest's timeout).
}

TEST_CASE("offsite: an endpoint that accepts but never answers is unreachable after the timeout") {
  // Answers after a minute: far beyond --timeout.
  ScriptedHttpServer mute({{200, "", std::chrono::minutes(1)}});
  RcloneOptions options;
  options.connect_timeout = std::chrono::seconds(2);
  options.io_timeout = std::chrono::seconds(2);
  auto store = open_store(location(":webdav,url='http://" + mute.address() + "':"), options);
  const auto started = std::chrono::steady_clock::now();
  const auto listed = store->list();
  const double elapsed = seconds_since(started);
  REQUIRE_FALSE(listed.has_value());
  CHECK(listed.error().code == OffsiteErrc::unreachable);
  // The endpoint would answer 200 after a minute: refused here means the timeout fired first.
  MESSAGE("a mute endpoint (--timeout 2s) declared down in " << elapsed
                                                             << " s: " << listed.error().detail);
}

TEST_CASE("offsite: a remote that rclone does not know is a configuration error") {
  TempDir tmp("wl-offsite");
  RcloneOptions options;
  options.config_file = tmp / "empty-rclone.conf";  // no remotes
  std::ofstream(options.config_file) << "";
  auto store = open_store(location("weighlink-no-such-remote:backups"), options);
  const auto listed = store->list();
  REQUIRE_FALSE(listed.has_value());
  CHECK(listed.error().code == OffsiteErrc::failed);
  CHECK(listed.error().message.find("didn't find section in config file") != std::string::npos);
}

TEST_CASE("offsite: a missing rclone binary says what to install") {
  RcloneOptions options;
  options.binary = "/nonexistent/rclone";
  auto store = open_store(location("offsite:backups"), options);
  const auto listed = store->list();
  REQUIRE_FALSE(listed.has_value());
  CHECK(listed.error().code == OffsiteErrc::failed);
  CHECK(listed.error().message.find("install the Debian package rclone") != std::string::npos);
}
