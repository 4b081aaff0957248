// bench_live's baseline server: the Node.js relay (node-relay/), installed by npm ci once.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "live_bench.hpp"

namespace weighlink::bench::live {
namespace {

namespace fs = std::filesystem;

std::optional<std::string> find_in_path(const std::string& program) {
  const char* path = std::getenv("PATH");
  if (!path) return std::nullopt;
  std::stringstream dirs(path);
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    if (dir.empty()) continue;
    const auto candidate = fs::path(dir) / program;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> prepare_relay(const fs::path& dir, std::string* why) {
  auto node = find_in_path("node");
  const auto npm = find_in_path("npm");
  if (!node || !npm) {
    *why = std::string(node ? "npm" : "node") + " is not installed (PATH)";
    return std::nullopt;
  }
  const fs::path source = fs::path(WEIGHLINK_SOURCE_DIR) / "tests/bench/node-relay";
  std::error_code ec;
  fs::create_directories(dir, ec);
  for (const char* file : {"relay.js", "package.json", "package-lock.json"}) {
    if (!ec) fs::copy_file(source / file, dir / file, fs::copy_options::overwrite_existing, ec);
  }
  if (ec) {
    *why = "cannot copy the relay from " + source.string() + " to " + dir.string() + ": " +
           ec.message();
    return std::nullopt;
  }
  const auto stamp = dir / "node_modules/.bench-installed-lock.json";
  const auto lock = testing::read_file(dir / "package-lock.json");
  if (!fs::exists(dir / "node_modules/ws/package.json") || testing::read_file(stamp) != lock) {
    std::printf("installing the relay's dependencies: npm ci --prefix %s\n", dir.c_str());
    std::fflush(stdout);
    const auto installed = testing::run(
        {*npm, "ci", "--prefix", dir.string(), "--no-audit", "--no-fund", "--loglevel=error"},
        std::chrono::minutes(5));
    if (installed.exit_code != 0) {
      *why = "npm ci failed in " + dir.string() + ":\n" + installed.output;
      return std::nullopt;
    }
    std::ofstream(stamp, std::ios::binary) << lock;
  }
  return node;
}

}  // namespace weighlink::bench::live
