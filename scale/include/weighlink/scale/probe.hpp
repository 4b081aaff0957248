#pragma once
// `weighlink-scale probe`: which protocol and line settings does an unknown indicator speak?
// The scoring is pure (bytes in, ranked candidates out); run_probe() is the I/O loop that opens
// the port at each setting, listens, sends each polled protocol's request, and scores.
// Thread-compatible; run_probe() runs on the caller's thread.

#include <atomic>
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "weighlink/scale/source.hpp"

namespace weighlink::scale {

struct ProbeScore {
  std::string protocol;
  std::string setting;              // "9600 8N1", or "tcp HOST:PORT"
  std::uint64_t bytes = 0;          // sample size
  std::uint64_t frames = 0;         // valid readings
  std::uint64_t bad_frames = 0;     // frames the parser found but refused
  std::uint64_t skipped_bytes = 0;  // bytes it could not use
  std::uint64_t frame_bytes = 0;    // bytes inside valid frames
  // 0..1: the share of the sample the parser used (mean of the bytes inside valid frames and the
  // bytes not skipped), times the share of frames that were valid, scaled down below 3 frames
  // (one lucky frame proves little).
  double confidence = 0.0;
  std::string first_reading;  // JSON of the first reading, for the operator to eyeball
};

// Scores every registered parser on `sample`. Candidates with no valid frame are left out.
[[nodiscard]] std::vector<ProbeScore> score_protocols(std::string_view sample,
                                                      std::string_view setting);

// Best first: confidence, then valid frames, then fewer bad frames.
void rank_scores(std::vector<ProbeScore>& scores);

// The settings probe tries, most common first: 9600, 4800, 19200, 2400, 1200, 38400, 57600,
// 115200 baud, each at 8N1, 7E1 and 7O1.
[[nodiscard]] std::vector<SerialSettings> probe_settings();
// "9600 7E1"
[[nodiscard]] std::string describe_settings(const SerialSettings& settings);

// Bytes read at 8 data bits whose bit 7 is always the even (or odd) parity of the low seven:
// the line is really 7E1 (7O1). nullopt when bit 7 says nothing (all clear, or mixed).
[[nodiscard]] std::optional<Parity> parity_in_bit7(std::string_view sample);

struct ProbeConfig {
  std::string port;                          // serial device (ptys work), or
  std::string tcp;                           // HOST:PORT of a serial device server
  std::chrono::milliseconds listen{1500};    // per setting, passive
  std::chrono::milliseconds poll_wait{400};  // per poll command
  bool all_settings = false;                 // keep going after a confident match
  double good_enough = 0.9;                  // a confidence that ends the search early
};

struct ProbeReport {
  std::vector<ProbeScore> ranked;                // best first, at most one entry per protocol
  std::vector<std::string> tried;                // settings tried, in order
  std::optional<std::string> suggested_setting;  // e.g. "9600 7E1" from the parity hint
  std::string error;  // non-empty when the port could not be opened at all
};

// What the scale's configuration must say about polling for the agent to read the indicator that
// `best` matched (run_probe() labels a match made on replies to requests "<setting> polled"):
// set poll_command when it answered only when polled but its protocol is not polled by default,
// or poll_interval_ms: 0 when it streams a protocol the agent would poll. nullopt when the agent's
// default (poll.hpp, polled_by_default()) already fits.
[[nodiscard]] std::optional<std::string> poll_advice(const ProbeScore& best);

// `progress` gets one line per setting tried (for stderr).
[[nodiscard]] ProbeReport run_probe(const ProbeConfig& config, const std::atomic<bool>& stop,
                                    const std::function<void(const std::string&)>& progress);

[[nodiscard]] std::string to_json(const ProbeReport& report);

}  // namespace weighlink::scale
