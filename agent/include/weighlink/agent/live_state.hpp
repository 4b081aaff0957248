#pragma once
// The latest state of every configured scale, as the agent's io thread sees it.
// Threading: io thread only (readers post their events to it).

#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "weighlink/scale/reading.hpp"
#include "weighlink/scale/scale_config.hpp"

namespace weighlink::agent {

struct ScaleLive {
  std::string id;
  std::string protocol;
  scale::ScaleConfig config;  // capture rules (minimum weight) come from here
  bool connected = false;
  std::string detail;  // why not connected, or the source description
  std::optional<scale::Reading> latest;
  std::uint64_t readings = 0;
  // The seq of the last reading in motion: an axle session captures the next axle only after the
  // pad has moved (or shows another weight), never the same axle twice.
  std::uint64_t last_motion_seq = 0;
  // The newest readings the agent saw (oldest first, at most kRecentReadings, stale ones left
  // out): the frames a capture records as its evidence.
  std::deque<scale::Reading> recent;
};

inline constexpr std::size_t kRecentReadings = 8;

class LiveState {
 public:
  void add_scale(const scale::ScaleConfig& config);
  // `count` readings arrived; `reading` is the newest of them (the others were coalesced).
  void on_reading(const scale::Reading& reading, std::uint64_t count = 1);
  void on_connection(const std::string& id, bool connected, const std::string& detail);
  [[nodiscard]] const ScaleLive* find(const std::string& id) const;
  [[nodiscard]] const std::vector<ScaleLive>& scales() const { return scales_; }

 private:
  ScaleLive* find_mutable(const std::string& id);
  std::vector<ScaleLive> scales_;
};

// The hand-off from a scale's reader thread to the io thread: latest wins. However fast an
// indicator streams, at most one hand-off per scale waits on the io thread, so HTTP requests and
// captures are never queued behind a backlog of readings, and memory stays bounded.
// Threading: put() on the reader thread, take() on the io thread.
class LatestReading {
 public:
  // Stores `reading`; true when the caller must schedule a take() (none is pending).
  [[nodiscard]] bool put(const scale::Reading& reading);
  // The newest reading and how many arrived since the last take(); nullopt when none did.
  [[nodiscard]] std::optional<std::pair<scale::Reading, std::uint64_t>> take();

 private:
  std::mutex mutex_;
  std::optional<scale::Reading> latest_;
  std::uint64_t arrived_ = 0;
  bool pending_ = false;
};

}  // namespace weighlink::agent
