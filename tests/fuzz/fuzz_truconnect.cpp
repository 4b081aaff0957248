// libFuzzer target: the agent's request decoders for browsers. The first byte picks the TruConnect
// socket (on_message) or its REST API (http, with the method and target taken from the input);
// the rest is the message or body. Every input must get an answer or a refusal, never a crash.
// Captures never complete here (the scheduler runs nothing), which is fine: the decoding is what
// is fuzzed.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "null_outbox.hpp"
#include "weighlink/agent/captures.hpp"
#include "weighlink/agent/live_state.hpp"
#include "weighlink/agent/truconnect.hpp"

namespace {

using namespace weighlink;

struct World {
  fuzz::NullOutbox outbox;
  agent::LiveState live;
  std::unique_ptr<agent::Captures> captures;
  std::unique_ptr<agent::TruConnect> tc;
  World() {
    const auto ctx = fuzz::fuzz_context(outbox, live);
    scale::Reading r;
    r.scale = "main";
    r.seq = 1;
    r.weight = scale::Decimal{123450, 1};
    r.unit = "t";
    r.stable = true;
    r.decks = {{1, scale::Decimal{5000, 1}, true}, {2, scale::Decimal{73450, 1}, false}};
    live.on_reading(r);
    live.on_connection("main", true, "fuzz");
    captures = std::make_unique<agent::Captures>(ctx);
    tc = std::make_unique<agent::TruConnect>(agent::TruConnectConfig{}, *captures, "fuzz");
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static World world;
  if (size == 0) return 0;
  const std::string rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  // Counted on the heap: an axle still waiting from an earlier input is answered (given up)
  // during a later one, as a real client's reply can arrive after its request returned.
  auto answers = std::make_shared<std::size_t>(0);
  if (data[0] & 1) {
    agent::TruConnect::Client client;
    client.registered = (data[0] & 2) != 0;
    world.tc->on_message(client, rest, [answers](const std::string&) { ++*answers; });
  } else {
    // "METHOD TARGET\nBODY"
    agent::HttpRequest req;
    const auto nl = rest.find('\n');
    const auto line = rest.substr(0, nl);
    const auto sp = line.find(' ');
    req.method = line.substr(0, sp);
    req.target = sp == std::string::npos ? "/" : line.substr(sp + 1);
    req.body = nl == std::string::npos ? std::string() : rest.substr(nl + 1);
    world.tc->http(req, [answers](const agent::HttpResponse&) { ++*answers; });
    if (*answers != 1 && req.method != "POST") __builtin_trap();  // every GET answers once
  }
  // A frame for both modes must always build.
  (void)world.tc->weight_message("mobile");
  (void)world.tc->weight_message("multideck");
  return 0;
}
