// The outbox on a full disk (SPEC §4: "a full disk or outbox cap → 507 and nothing already queued
// lost"). The agent's data directory is a small tmpfs; mutations and a capture are queued, the
// filesystem is filled to the last byte, posting goes on until the agent answers 507, the agent is
// restarted while the disk is still full, then space is freed: it accepts again at once, and every
// mutation that got a 202 or 200 is there exactly once with seqs 1..N, across a restart too. While
// it refuses, the full-outbox alarm is up in /v1/status and /metrics.
// Mounting needs root (CAP_SYS_ADMIN), as in CI: without it the test fails, it does not skip.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cerrno>
#include <cstring>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "agent_fixture.hpp"

namespace json = boost::json;
using namespace std::chrono_literals;
using namespace weighlink::testing;

namespace {

// A size-limited tmpfs on `dir` for the life of the object; unmounted by the destructor, lazily
// when something still holds it (declare it before anything that runs on it).
class TmpfsMount {
 public:
  TmpfsMount(std::filesystem::path dir, const std::string& options) : dir_(std::move(dir)) {
    std::filesystem::create_directories(dir_);
    if (::mount("tmpfs", dir_.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, options.c_str()) == 0) {
      mounted_ = true;
    } else {
      error_ = std::strerror(errno);
    }
  }
  ~TmpfsMount() {
    if (mounted_ && ::umount2(dir_.c_str(), 0) != 0) ::umount2(dir_.c_str(), MNT_DETACH);
  }
  TmpfsMount(const TmpfsMount&) = delete;
  TmpfsMount& operator=(const TmpfsMount&) = delete;
  [[nodiscard]] bool mounted() const { return mounted_; }
  [[nodiscard]] const std::string& error() const { return error_; }

 private:
  std::filesystem::path dir_;
  bool mounted_ = false;
  std::string error_;
};

std::uint64_t free_bytes(const std::filesystem::path& dir) {
  struct statvfs st {};
  REQUIRE(::statvfs(dir.c_str(), &st) == 0);
  return static_cast<std::uint64_t>(st.f_bavail) * st.f_frsize;
}

// Writes `file` until not one more byte fits on its filesystem (ENOSPC at 1 MiB, then at halves of
// that down to 1 byte); returns the bytes written.
std::uint64_t fill_up(const std::filesystem::path& file) {
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  REQUIRE_MESSAGE(fd >= 0, "cannot create " << file << ": " << std::strerror(errno));
  const std::vector<char> chunk(1 << 20, 'f');
  std::uint64_t total = 0;
  for (std::size_t size = chunk.size(); size > 0; size /= 2) {
    while (true) {
      const auto n = ::write(fd, chunk.data(), size);
      if (n > 0) {
        total += static_cast<std::uint64_t>(n);
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else {
        const int err = errno;
        if (n < 0 && err != ENOSPC) {
          ::close(fd);
          FAIL("writing " << file << ": " << std::strerror(err));
        }
        break;
      }
    }
  }
  ::close(fd);
  return total;
}

// A refusal is JSON {"error","message","correlation_id"} with the id on X-Correlation-Id too.
void check_disk_full_answer(const HttpResult& r, const std::filesystem::path& data_dir) {
  INFO("answer: " << r.status << " " << r.body);
  CHECK(r.status == 507);
  const auto body = body_of(r);
  CHECK(body.at("error") == "outbox_full");
  const std::string message(body.at("message").as_string());
  // It says the disk is full (not the configured cap), where, and what to do.
  CHECK(message.find("disk") != std::string::npos);
  CHECK(message.find("is full") != std::string::npos);
  CHECK(message.find(data_dir.string()) != std::string::npos);
  CHECK(message.find("free space") != std::string::npos);
  CHECK(message.find("configured cap") == std::string::npos);
  CHECK(!r.headers.at("x-correlation-id").empty());
  CHECK(body.at("correlation_id").as_string() == r.headers.at("x-correlation-id"));
}

// The full-outbox alarm (docs/outbox.md, guarantee 4): /v1/status outbox.full and full_reason,
// /metrics weighlink_agent_outbox_full.
void check_alarm(const std::string& http, bool full) {
  INFO("alarm expected " << (full ? "on" : "off"));
  auto status = http_request(http, "GET", "/v1/status");
  REQUIRE(status.status == 200);
  const auto outbox = body_of(status).at("outbox").as_object();
  CHECK(outbox.at("full") == full);
  if (full) {
    CHECK(outbox.contains("full_reason"));
    if (outbox.contains("full_reason")) {
      const std::string reason(outbox.at("full_reason").as_string());
      CHECK(reason.find("disk") != std::string::npos);
      CHECK(reason.find("is full") != std::string::npos);
    }
  }
  auto metrics = http_request(http, "GET", "/metrics");
  REQUIRE(metrics.status == 200);
  CHECK(metrics.body.find(std::string("\nweighlink_agent_outbox_full ") + (full ? "1" : "0") +
                          "\n") != std::string::npos);
}

}  // namespace

TEST_CASE("outbox: a full disk answers 507, loses nothing queued, and accepts again with space") {
  TempDir dir("wl-diskfull");
  const auto data = dir / "data";  // AgentProcess's --data-dir
  TmpfsMount disk(data, "size=8m,mode=0700");
  REQUIRE_MESSAGE(disk.mounted(), "cannot mount a tmpfs on "
                                      << data << " (" << disk.error()
                                      << "): this test needs root (CAP_SYS_ADMIN) to give "
                                         "the agent a small filesystem; run it as root");
  PtyScale pty(dir / "scale");
  StreamingScale indicator(pty, mt_frame("18240"));
  const std::vector<std::string> args = {"--scale-source", "serial:" + pty.path(),
                                         "--scale-protocol", "mt-continuous"};
  std::optional<AgentProcess> agent(std::in_place, dir, args);
  INFO("agent log: " << (agent ? agent->process->log() : std::string("(restarting)")));

  std::set<std::string> acknowledged;  // keys that got 202 or 200
  std::set<std::string> refused;       // keys that got 507
  std::uint64_t last_seq = 0;
  // The audit events of the first start (docs/legal-metrology.md) come first.
  for (const auto& row : outbox_rows(agent->http)) {
    acknowledged.insert(std::string(row.at("idempotency_key").as_string()));
    ++last_seq;
  }
  const auto audit_events = static_cast<std::int64_t>(last_seq);
  // A few KiB per row, so that every commit has to grow the WAL (no free pages to reuse).
  const std::string pad(3000, 'w');
  auto post_mutation = [&](const std::string& key) {
    return post_json(
        agent->http, "/v1/mutations", key,
        R"({"kind":"note.added","payload":{"key":")" + key + R"(","pad":")" + pad + "\"}}");
  };
  auto post_capture = [&](const std::string& key) {
    return post_json(agent->http, "/v1/captures", key,
                     R"({"scale":"main","operator":"op-1","timeout_ms":3000})");
  };
  // A new key accepted: 202 with the next seq.
  auto accepted = [&](const HttpResult& r, const std::string& key) {
    INFO("key " << key << ": " << r.status << " " << r.body);
    REQUIRE(r.status == 202);
    CHECK(body_of(r).at("seq").as_int64() == static_cast<std::int64_t>(last_seq + 1));
    ++last_seq;
    acknowledged.insert(key);
  };

  // 1. Queued before the disk fills: mutations and a captured weighing.
  for (int i = 0; i < 20; ++i) {
    const auto key = "before-" + std::to_string(i);
    accepted(post_mutation(key), key);
  }
  accepted(post_capture("capture-before"), "capture-before");
  return_to_zero(indicator, agent->http, "18240");  // the next vehicle

  // 2. Fill the filesystem to the last byte.
  const auto filler = data / "filler";
  const auto filled = fill_up(filler);
  INFO("filler: " << filled << " bytes");
  CHECK(free_bytes(data) == 0);

  // 3. Post until the agent says the disk is full (at once, unless a few pages were left).
  std::optional<HttpResult> full;
  for (int i = 0; i < 100 && !full; ++i) {
    const auto key = "during-" + std::to_string(i);
    auto r = post_mutation(key);
    if (r.status == 507) {
      refused.insert(key);
      full = r;
    } else {
      accepted(r, key);
    }
  }
  REQUIRE_MESSAGE(full, "no 507 after 100 posts on a full disk");
  const auto first_refused = *refused.begin();
  check_disk_full_answer(*full, data);
  // It stays refused (not a 500 once a commit has failed), for a capture too.
  for (int i = 0; i < 3; ++i) {
    const auto key = "refused-" + std::to_string(i);
    check_disk_full_answer(post_mutation(key), data);
    refused.insert(key);
  }
  check_disk_full_answer(post_capture("capture-refused"), data);
  refused.insert("capture-refused");
  // What is queued still answers: a retry of an accepted key is a replay (nothing to write).
  auto replay = post_mutation("before-0");
  CHECK(replay.status == 200);
  CHECK(body_of(replay).at("seq") == audit_events + 1);

  // The agent stays up, reports its queue, and raises the alarm.
  CHECK(agent->process->running());
  CHECK(http_request(agent->http, "GET", "/healthz").status == 200);
  auto status = http_request(agent->http, "GET", "/v1/status");
  REQUIRE(status.status == 200);
  const auto outbox = body_of(status).at("outbox").as_object();
  CHECK(outbox.at("pending").as_int64() == static_cast<std::int64_t>(acknowledged.size()));
  CHECK(outbox.at("last_seq").as_int64() == static_cast<std::int64_t>(last_seq));
  auto metrics = http_request(agent->http, "GET", "/metrics");
  CHECK(metrics.status == 200);
  CHECK(metrics.body.find("weighlink_agent_outbox_pending " +
                          std::to_string(acknowledged.size())) != std::string::npos);
  check_alarm(agent->http, true);
  check_outbox(agent->http, acknowledged, "disk full");

  // 4. A restart while the disk is still full (a station rebooted): it stops cleanly, starts,
  // keeps everything, and still refuses new mutations with 507.
  CHECK(agent->process->terminate() == 0);
  agent.reset();
  agent.emplace(dir, args);
  check_outbox(agent->http, acknowledged, "restarted on a full disk");
  check_disk_full_answer(post_mutation("refused-after-restart"), data);
  refused.insert("refused-after-restart");
  check_alarm(agent->http, true);

  // 5. Space returns: accepted again at once, no restart; a key refused with 507 was not used up.
  std::filesystem::remove(filler);
  accepted(post_mutation(first_refused), first_refused);
  refused.erase(first_refused);
  check_alarm(agent->http, false);
  accepted(post_capture("capture-after"), "capture-after");
  for (int i = 0; i < 5; ++i) {
    const auto key = "after-" + std::to_string(i);
    accepted(post_mutation(key), key);
  }

  // Every acknowledged key exactly once, seqs 1..N with no gap, and nothing refused queued.
  auto check_all = [&](const std::string& where) {
    check_outbox(agent->http, acknowledged, where);
    const auto rows = outbox_rows(agent->http);
    CHECK(rows.size() == acknowledged.size());
    for (const auto& row : rows) {
      const std::string key(row.at("idempotency_key").as_string());
      if (refused.contains(key)) FAIL(where << ": key " << key << " got 507 but is queued");
    }
  };
  check_all("space returned");

  // 6. A restart after the episode: nothing acknowledged lost, numbering goes on.
  CHECK(agent->process->terminate() == 0);
  agent.reset();
  agent.emplace(dir, args);
  check_all("restarted after the full disk");
  check_alarm(agent->http, false);
  accepted(post_mutation("after-restart"), "after-restart");
  check_all("after the restart");
  CHECK(agent->process->terminate() == 0);
}
