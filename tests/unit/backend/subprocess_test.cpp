#include "weighlink/backend/subprocess.hpp"

#include <doctest/doctest.h>

using weighlink::backend::run_command;

TEST_CASE("subprocess: stdout, stderr and the exit status are captured") {
  const auto r = run_command({"sh", "-c", "echo out; echo err >&2; exit 3"});
  CHECK(r.started);
  CHECK_FALSE(r.ok());
  CHECK(r.exit_status == 3);
  CHECK(r.out == "out\n");
  CHECK(r.err == "err\n");
  CHECK(run_command({"true"}).ok());
}

TEST_CASE("subprocess: stdin is the given bytes, else empty") {
  const auto r = run_command({"cat"}, {std::nullopt, std::string("line\0one", 8)});
  REQUIRE(r.ok());
  CHECK(r.out == std::string("line\0one", 8));
  CHECK(run_command({"cat"}).out.empty());
}

TEST_CASE("subprocess: a tool past its deadline is killed") {
  const auto r = run_command({"sleep", "30"}, {std::chrono::milliseconds(50), std::nullopt});
  CHECK(r.started);
  CHECK(r.timed_out);
  CHECK(r.exit_status == 128 + 9);
  CHECK_FALSE(r.ok());
}

TEST_CASE("subprocess: a missing tool is not started, with the reason") {
  const auto r = run_command({"/nonexistent/tool"});
  CHECK_FALSE(r.started);
  CHECK(r.err.find("No such file") != std::string::npos);
  CHECK_FALSE(run_command({}).started);
}
