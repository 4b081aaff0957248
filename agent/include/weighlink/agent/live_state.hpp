#pragma once
// The latest state of every configured scale, as the agent's io thread sees it.
// Threading: io thread only (readers post their events to it).

#include <cstdint>
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
};

class LiveState {
 public:
  void add_scale(const scale::ScaleConfig& config);
  void on_reading(const scale::Reading& reading);
  void on_connection(const std::string& id, bool connected, const std::string& detail);
  [[nodiscard]] const ScaleLive* find(const std::string& id) const;
  [[nodiscard]] const std::vector<ScaleLive>& scales() const { return scales_; }

 private:
  ScaleLive* find_mutable(const std::string& id);
  std::vector<ScaleLive> scales_;
};

}  // namespace weighlink::agent
