#pragma once
// Internal to weighlink::recovery's one-shot commands (restore, verify-backup, drill, dr-status):
// the times they record and the figures they print. The decision rules never call these: they
// take the time as an argument (backup_policy.hpp).
//
// Threading: free functions, safe from any thread.

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace weighlink::recovery {

// Now as Unix seconds: what manifests, pointers and the ops log record.
[[nodiscard]] inline std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Seconds since `start` on the steady clock: how long a step took.
[[nodiscard]] inline double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// "1.23": a figure for a summary line.
[[nodiscard]] inline std::string fixed(double value, int decimals = 2) {
  char text[32];
  std::snprintf(text, sizeof text, "%.*f", decimals, value);
  return text;
}

}  // namespace weighlink::recovery
