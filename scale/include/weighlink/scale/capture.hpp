#pragma once
// Capture files: indicator bytes with the time they arrived, written by `weighlink-scale record`,
// read by `decode --input` and `simulate --replay`. Pure encoding and decoding; the recorder
// owns the file. Thread-compatible.
//
// Layout (all integers little-endian):
//   magic    8 bytes  "\x89WLCAP1\n"   (0x89 keeps a text stream from ever looking like one)
//   hlen     u32      length of the header JSON
//   header   hlen     JSON object: {"source": "...", "started": "2026-11-21T08:15:02.113Z", ...}
//   records  repeated until end of file:
//     offset u64      microseconds since recording started (non-decreasing)
//     length u32      byte count, 1..kMaxCaptureRecord
//     bytes  length   exactly as read from the port (parity bits included)
// A record cut short at the end (recorder killed mid-write) is dropped and flagged `truncated`.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "weighlink/base/error.hpp"

namespace weighlink::scale {

inline constexpr std::string_view kCaptureMagic{"\x89WLCAP1\n", 8};
inline constexpr std::uint32_t kMaxCaptureRecord = 1u << 20;
inline constexpr std::uint32_t kMaxCaptureHeader = 1u << 16;

struct CaptureRecord {
  std::chrono::microseconds offset{0};
  std::string bytes;
};

struct Capture {
  std::string header_json;  // "{}" when written without metadata
  std::vector<CaptureRecord> records;
  bool truncated = false;  // the last record was incomplete and was dropped
};

// True when `data` starts with the capture magic (a raw byte dump almost never does).
[[nodiscard]] bool is_capture(std::string_view data);

// The file's first bytes: magic, header length and header JSON.
[[nodiscard]] std::string encode_capture_header(std::string_view header_json);
// One record; append it after the header.
[[nodiscard]] std::string encode_capture_record(std::chrono::microseconds offset,
                                                std::string_view bytes);

// Parses a whole capture file. The Error (invalid_argument) when the magic or header is damaged or
// a record is out of order or too long (which means this is not a capture file).
[[nodiscard]] base::Expected<Capture> parse_capture(std::string_view data);

// The bytes of every record, concatenated: what the indicator sent.
[[nodiscard]] std::string capture_bytes(const Capture& capture);

}  // namespace weighlink::scale
