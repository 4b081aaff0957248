// libFuzzer target: what the agent reads back from disk. The first byte picks the input:
//   even: an outbox export, as `weighlink-agent verify-evidence --export` reads it;
//   odd:  a saved axle session, as the agent restores it at start.
// Every input must end in a report, a clear error or "not restored", never a crash.
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <stdexcept>
#include <string>

#include "null_outbox.hpp"
#include "weighlink/record/evidence.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace weighlink;
  if (size == 0) return 0;
  const std::string input(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] % 2 == 0) {
    static const std::vector<unsigned char> key(32, 0x5a);
    std::istringstream in(input);
    try {
      const auto check = record::verify_export(in, key);
      (void)check.report.ok();
    } catch (const std::runtime_error&) {
      // a malformed export: the message names the line
    }
    return 0;
  }
  fuzz::NullOutbox outbox;
  outbox.state["axle-session/main"] = input;
  agent::LiveState live;
  agent::Captures captures(
      fuzz::fuzz_context(outbox, live));  // restores (or refuses) the saved session
  (void)captures.session_json("main");
  return 0;
}
