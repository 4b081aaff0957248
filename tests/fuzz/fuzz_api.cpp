// libFuzzer target: the agent's local HTTP API (Api::handle) over a real outbox in a temp dir,
// the io thread and the clock played here (tests/unit/agent/fake_io.hpp). The input is one
// request: "METHOD TARGET\nname: value\n...\n\nBODY" (a Host header is added when it has none,
// so that inputs reach the routes). Every request must be answered exactly once with a valid
// status, never 500, and a refused request records nothing.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "fake_io.hpp"
#include "weighlink/agent/api.hpp"
#include "weighlink/agent/captures.hpp"
#include "weighlink/agent/live_state.hpp"
#include "weighlink/agent/station_routes.hpp"
#include "weighlink/sync/outbox.hpp"

namespace {

using namespace weighlink;

struct World {
  agent::testing::FakeIo io;
  std::unique_ptr<sync::Outbox> outbox;
  agent::LiveState live;
  std::unique_ptr<agent::Captures> captures;
  std::unique_ptr<agent::StationRoutes> station_routes;  // the workstation's routes beside them
  std::unique_ptr<agent::Api> api;

  World() {
    char dir[] = "/tmp/wl-fuzz-api-XXXXXX";
    if (!mkdtemp(dir)) __builtin_trap();
    auto opened = sync::Outbox::open(std::filesystem::path(dir) / "outbox.db", {});
    if (!opened) __builtin_trap();
    outbox = std::move(*opened);
    scale::ScaleConfig sc;
    sc.id = "main";
    sc.protocol = "mt-continuous";
    live.add_scale(sc);
    live.on_connection("main", true, "fuzz");
    // What Captures and Api share: the station, the outbox, the live state, the io and the clock.
    auto station = [this](auto& context) {
      context.station_id = "fuzz";
      context.agent_version = "fuzz";
      context.outbox = outbox.get();
      context.live = &live;
      context.post = io.post();
      context.clock = &io.clock;
    };
    agent::CaptureContext cc;
    station(cc);
    cc.schedule = io.schedule();
    captures = std::make_unique<agent::Captures>(cc);
    agent::ApiContext ac;
    station(ac);
    ac.captures = captures.get();
    station_routes = agent::make_station_routes({}, ac);
    ac.routes.push_back(station_routes.get());
    api = std::make_unique<agent::Api>(ac);
  }

  // A stable reading: captures and axles can complete at once.
  void show(std::uint64_t seq, bool stable) {
    scale::Reading r;
    r.scale = "main";
    r.seq = seq;
    r.ts = io.clock.now();
    r.weight = scale::Decimal{123450 + static_cast<std::int64_t>(seq % 7) * 10, 1};
    r.unit = "kg";
    r.stable = stable;
    r.raw = "fuzz";
    live.on_reading(r);
  }
};

agent::HttpRequest parse(const std::string& in) {
  agent::HttpRequest req;
  const auto head_end = in.find("\n\n");
  const auto head = in.substr(0, head_end);
  req.body = head_end == std::string::npos ? std::string() : in.substr(head_end + 2);
  std::size_t pos = 0;
  bool first = true;
  while (pos <= head.size()) {
    auto nl = head.find('\n', pos);
    if (nl == std::string::npos) nl = head.size();
    const auto line = head.substr(pos, nl - pos);
    pos = nl + 1;
    if (first) {
      const auto sp = line.find(' ');
      req.method = line.substr(0, sp);
      req.target = sp == std::string::npos ? "/" : line.substr(sp + 1);
      first = false;
      continue;
    }
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name = line.substr(0, colon);
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    auto value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.erase(0, 1);
    req.headers[name] = value;
  }
  if (!req.headers.contains("host")) req.headers["host"] = "127.0.0.1:8420";
  return req;
}

}  // namespace

// OpenSSL's per-thread state of the outbox's writer thread (it hashes the evidence chain) lives
// as long as the process; LeakSanitizer's check at exit would report it as a leak of every run.
// NOLINTNEXTLINE(bugprone-reserved-identifier): the name is LeakSanitizer's hook.
extern "C" const char* __lsan_default_suppressions() { return "leak:libcrypto.so\n"; }

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static World world;
  static std::uint64_t seq = 0;
  const std::string in(reinterpret_cast<const char*>(data), size);
  // Most inputs find a stable scale; some find it in motion (a capture then waits, and the
  // clock runs out its timeout).
  world.show(++seq, size % 5 != 0);
  const auto req = parse(in);
  const auto before = world.outbox->stats().last_seq;
  auto answers = std::make_shared<int>(0);
  auto status = std::make_shared<int>(0);
  world.api->handle(req, [answers, status](const agent::HttpResponse& r) {
    ++*answers;
    *status = r.status;
  });
  // Wait for the answer: the outbox's writer posts it, or the clock runs a capture's deadline.
  while (*answers == 0) {
    world.io.run_ready();
    if (*answers != 0) break;
    if (world.io.timers() > 0) {
      world.io.advance(std::chrono::milliseconds(20));
    } else if (!world.io.run_until([&] { return *answers != 0; })) {
      __builtin_trap();  // never answered
    }
  }
  world.io.run_ready();
  if (*answers != 1) __builtin_trap();
  if (*status < 200 || *status > 599 || *status == 500) __builtin_trap();
  // A refused request leaves the outbox as it was.
  if (*status >= 400 && world.outbox->stats().last_seq != before) __builtin_trap();
  return 0;
}
