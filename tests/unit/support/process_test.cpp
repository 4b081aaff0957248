// The process runner of the integration tests: exit codes, the two output streams, and a command
// that outlives its timeout is killed, reaped and reported.
#include "weighlink/testing/process.hpp"

#include <doctest/doctest.h>

#include <stdexcept>

using namespace std::chrono_literals;
using weighlink::testing::run;
using weighlink::testing::run_split;

TEST_CASE("process: run returns the exit code and the output, stdin given") {
  const auto r = run({"/bin/sh", "-c", "cat; echo err >&2; exit 3"}, 10s, "in\n");
  CHECK(r.exit_code == 3);
  CHECK(r.output == "in\nerr\n");
}

TEST_CASE("process: run_split keeps stdout and stderr apart") {
  const auto r = run_split({"/bin/sh", "-c", "echo out; echo err >&2"}, 10s);
  CHECK(r.exit_code == 0);
  CHECK(r.out == "out\n");
  CHECK(r.err == "err\n");
}

TEST_CASE("process: a command that outlives its timeout is killed and reported") {
  CHECK_THROWS_WITH_AS(run({"/bin/sleep", "600"}, 200ms), "command timed out: /bin/sleep",
                       std::runtime_error);
  CHECK_THROWS_WITH_AS(run_split({"/bin/sleep", "600"}, 200ms), "command timed out: /bin/sleep",
                       std::runtime_error);
}
