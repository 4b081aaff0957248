// The commands write to the console they are given (base::Console), never to the process's own
// stdout and stderr: what they say on bad input, captured here in string streams.
#include "weighlink/recovery/commands.hpp"

#include <doctest/doctest.h>

#include <sstream>
#include <string>

#include "weighlink/recovery/drill.hpp"
#include "weighlink/service/commands.hpp"
#include "weighlink/testing/process.hpp"

using namespace weighlink::service;
using namespace weighlink::recovery;

namespace {

// The last non-empty line of `text`.
std::string last_line(const std::string& text) {
  auto end = text.find_last_not_of('\n');
  if (end == std::string::npos) return {};
  const auto start = text.rfind('\n', end);
  return text.substr(start == std::string::npos ? 0 : start + 1,
                     end - (start == std::string::npos ? 0 : start + 1) + 1);
}

}  // namespace

TEST_CASE("commands: station add with a bad id says so on the console's err and exits 2") {
  std::ostringstream out, err;
  const weighlink::base::Console console{out, err};
  CHECK(run_station_add("host=127.0.0.1 port=1 dbname=none", "bad id!", "", false, console) ==
        kExitUsage);
  CHECK(out.str().empty());
  CHECK(err.str() ==
        "weighlink-backend: station add: invalid station id \"bad id!\": use 1..64 characters of "
        "A-Z a-z 0-9 . _ -\n");
}

TEST_CASE("commands: mark-restored with an empty --from exits 2 before any connection") {
  std::ostringstream out, err;
  const weighlink::base::Console console{out, err};
  CHECK(run_mark_restored("host=127.0.0.1 port=1 dbname=none", "  ", console) == kExitUsage);
  CHECK(out.str().empty());
  CHECK(err.str().starts_with("weighlink-backend: mark-restored: --from is empty"));
}

TEST_CASE("commands: dr-status on a folder it cannot read ends its out with the JSON verdict") {
  weighlink::testing::TempDir dir("wl-commands");
  DrStatusOptions options;
  options.locations = {(dir.path() / "no-such-folder").string()};
  std::ostringstream out, err;
  const weighlink::base::Console console{out, err};
  CHECK(run_dr_status(options, console) == kExitFailure);
  CHECK(out.str().starts_with("DR status: UNKNOWN ("));
  CHECK(last_line(out.str()).starts_with(R"({"ready":false,"error":)"));
  CHECK(err.str().starts_with("weighlink-backend: dr-status: "));
}
