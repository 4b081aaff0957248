#pragma once
// `weighlink-scale record`: bytes from a port or a serial device server into a capture file
// (capture.hpp) with the time each chunk arrived. Runs on the caller's thread until `stop`, the
// duration, or end of stream.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>

#include "weighlink/scale/source.hpp"

namespace weighlink::scale {

struct RecordConfig {
  std::string port;  // serial device (ptys work), or
  SerialSettings serial;
  std::string tcp;  // HOST:PORT
  std::filesystem::path out;
  std::optional<std::chrono::milliseconds> duration;  // nullopt: until stopped
};

struct RecordResult {
  int exit_code = 0;  // 0 done, 1 operational failure, 2 bad usage
  std::string message;
  std::uint64_t bytes = 0;
  std::uint64_t records = 0;
};

// `on_ready` gets the source description once it is open and the file header is written.
[[nodiscard]] RecordResult run_record(const RecordConfig& config, const std::atomic<bool>& stop,
                                      const std::function<void(const std::string&)>& on_ready);

}  // namespace weighlink::scale
