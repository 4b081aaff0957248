#include "weighlink/base/subprocess.hpp"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>

#include "weighlink/testing/process.hpp"

using weighlink::base::ChildProcess;
using weighlink::base::run_command;

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
  const auto r = run_command({"cat"}, {std::nullopt, std::string("line\0one", 8), {}});
  REQUIRE(r.ok());
  CHECK(r.out == std::string("line\0one", 8));
  CHECK(run_command({"cat"}).out.empty());
}

TEST_CASE("subprocess: a tool past its deadline is killed") {
  const auto r = run_command({"sleep", "30"}, {std::chrono::milliseconds(50), std::nullopt, {}});
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

TEST_CASE("subprocess: a child process is stopped with SIGTERM, or SIGKILL past the grace") {
  using weighlink::base::ChildProcess;
  const auto log =
      std::filesystem::temp_directory_path() / ("wl-child-" + std::to_string(::getpid()) + ".log");
  auto polite = ChildProcess::spawn({"sleep", "30"}, log).value();
  CHECK_FALSE(polite->poll());
  const auto stopped = polite->terminate(std::chrono::seconds(5));
  CHECK_FALSE(stopped.killed);
  CHECK(stopped.exit_status == 128 + SIGTERM);

  // The shell ignores SIGTERM and writes to the log first, so that it is known to be ready.
  auto stubborn = ChildProcess::spawn(
                      {"sh", "-c", "trap '' TERM; echo ready; while :; do sleep 0.01; done"}, log)
                      .value();
  while (weighlink::testing::read_file(log).find("ready") == std::string::npos) {
    REQUIRE_FALSE(stubborn->poll());
  }
  const auto killed = stubborn->terminate(std::chrono::milliseconds(100));
  CHECK(killed.killed);
  CHECK(killed.exit_status == 128 + SIGKILL);

  auto missing = ChildProcess::spawn({"/nonexistent/tool"}, log).value();
  std::optional<int> status;
  while (!(status = missing->poll())) {
  }
  CHECK(*status == 127);
  CHECK(missing->terminate(std::chrono::seconds(5)).exit_status == 127);
  CHECK(weighlink::testing::read_file(log).find("cannot execute /nonexistent/tool") !=
        std::string::npos);
  const auto unopened = ChildProcess::spawn({"true"}, "/nonexistent/dir/log");
  REQUIRE_FALSE(unopened.has_value());
  CHECK(unopened.error().message.find("cannot open") != std::string::npos);
  std::filesystem::remove(log);
}

TEST_CASE("subprocess: environment entries are added or replace ours, and no signal is blocked") {
  ::setenv("WL_SUBPROCESS_TEST", "ours", 1);
  weighlink::base::CommandOptions options;
  options.environment = {"WL_SUBPROCESS_TEST=theirs", "WL_SUBPROCESS_EXTRA=1"};
  // A blocked SIGTERM here must not be blocked in the tool.
  sigset_t term;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  sigset_t before;
  ::pthread_sigmask(SIG_BLOCK, &term, &before);
  const auto r = run_command(
      {"/bin/sh", "-c",
       "echo $WL_SUBPROCESS_TEST $WL_SUBPROCESS_EXTRA; grep '^SigBlk' /proc/self/status"},
      options);
  ::pthread_sigmask(SIG_SETMASK, &before, nullptr);
  ::unsetenv("WL_SUBPROCESS_TEST");
  REQUIRE(r.ok());
  CHECK(r.out.starts_with("theirs 1\n"));
  CHECK(r.out.find("SigBlk:\t0000000000000000") != std::string::npos);
}

TEST_CASE("subprocess: merged output keeps stdout and stderr in the order written") {
  weighlink::base::CommandOptions options;
  options.merge_output = true;
  const auto r = run_command({"sh", "-c", "echo one; echo two >&2; echo three"}, options);
  REQUIRE(r.ok());
  CHECK(r.out == "one\ntwo\nthree\n");
  CHECK(r.err.empty());
}

TEST_CASE("subprocess: run_logged appends to its log and leaves the child none of our files") {
  weighlink::testing::TempDir dir("wl-logged");
  const auto log = dir / "tools.log";
  // A descriptor of ours without O_CLOEXEC: the child must not see it.
  const int ours = ::open((dir / "ours").c_str(), O_WRONLY | O_CREAT, 0600);
  REQUIRE(ours >= 3);
  const std::string probe =
      "if [ -e /proc/$$/fd/" + std::to_string(ours) + " ]; then echo leaked; else echo closed; fi";
  CHECK(weighlink::base::run_logged({"sh", "-c", probe}, log, std::chrono::seconds(30)) == 0);
  ::close(ours);
  CHECK(weighlink::testing::read_file(log) == "closed\n");
  CHECK(weighlink::base::run_logged({"/nonexistent/tool"}, log, std::chrono::seconds(30)) == -1);
}

TEST_CASE("subprocess: a process named by a pid file is killed and gone") {
  weighlink::testing::TempDir dir("wl-pidfile");
  auto daemon = ChildProcess::spawn({"sleep", "30"}, dir / "log").value();
  std::ofstream(dir / "pid") << daemon->pid() << "\n";
  weighlink::base::kill_pid_file_process(dir / "pid");
  std::optional<int> status;
  while (!(status = daemon->poll())) {
  }
  CHECK(*status == 128 + SIGKILL);
  weighlink::base::kill_pid_file_process(dir / "missing");  // nothing to do
}

TEST_CASE("subprocess: a child in a process group of its own") {
  weighlink::testing::TempDir dir("wl-pgroup");
  auto own = ChildProcess::spawn({"sleep", "30"}, dir / "log", {false, true}).value();
  CHECK(::getpgid(own->pid()) == own->pid());
  auto shared = ChildProcess::spawn({"sleep", "30"}, dir / "log").value();
  CHECK(::getpgid(shared->pid()) == ::getpgrp());
  CHECK(own->terminate(std::chrono::seconds(5)).exit_status == 128 + SIGTERM);
}
