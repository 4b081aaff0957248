#include "weighlink/recovery/scratch_cluster.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <string>
#include <system_error>

#include "weighlink/testing/process.hpp"

using weighlink::recovery::ScratchCluster;
using weighlink::recovery::ScratchOptions;
using weighlink::testing::TempDir;
namespace fs = std::filesystem;

// Both refusals come before initdb: no PostgreSQL program runs.

TEST_CASE("scratch cluster: a parent too long for the server's socket is refused, nothing left") {
  TempDir tmp("wl-scratch-test");
  const auto parent = tmp.path() / std::string(90, 'p');
  fs::create_directories(parent);
  ScratchOptions options;
  options.parent = parent;
  const auto started = ScratchCluster::start(options);
  REQUIRE_FALSE(started.has_value());
  CHECK(started.error().code == std::errc::filename_too_long);
  CHECK(started.error().message.find("too long for PostgreSQL's Unix socket; give a shorter "
                                     "--scratch-dir") != std::string::npos);
  CHECK(fs::is_empty(parent));
}

TEST_CASE("scratch cluster: a parent that does not exist is the system's error, naming it") {
  TempDir tmp("wl-scratch-test");
  ScratchOptions options;
  options.parent = tmp.path() / "missing";
  const auto started = ScratchCluster::start(options);
  REQUIRE_FALSE(started.has_value());
  CHECK(started.error().code == std::errc::no_such_file_or_directory);
  CHECK(started.error().message ==
        "cannot make a directory under " + options.parent.string() +
            ": No such file or directory; give a writable --scratch-dir");
}
