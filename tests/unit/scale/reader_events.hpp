#pragma once
// Collects ScaleReader events for a test thread, which waits on them with a bound.

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "weighlink/scale/reader.hpp"

namespace weighlink::scale::test {

struct ReaderEvents {
  std::mutex mutex;
  std::condition_variable changed;
  std::vector<Reading> readings;
  std::vector<std::pair<bool, std::string>> connections;

  ScaleEvents hooks() {
    return {[this](const Reading& r) {
              std::lock_guard lock(mutex);
              readings.push_back(r);
              changed.notify_all();
            },
            [this](bool up, const std::string& detail) {
              std::lock_guard lock(mutex);
              connections.emplace_back(up, detail);
              changed.notify_all();
            }};
  }

  template <class Pred>
  bool wait(Pred pred, std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    std::unique_lock lock(mutex);
    return changed.wait_for(lock, timeout, [&] { return pred(); });
  }

  // Runs `reader` until its first connection event: that event, or nullopt when none came in time.
  std::optional<std::pair<bool, std::string>> first_connection(ScaleReader& reader) {
    reader.start();
    const bool reported = wait([&] { return !connections.empty(); });
    reader.stop();
    std::lock_guard lock(mutex);
    if (!reported) return std::nullopt;
    return connections.front();
  }

  // Readings that are not the stale re-emission of an earlier one.
  std::size_t fresh_readings() {
    std::size_t n = 0;
    for (const auto& r : readings) n += r.stale ? 0 : 1;
    return n;
  }
};

}  // namespace weighlink::scale::test
