#include "weighlink/scale/capture.hpp"

namespace weighlink::scale {
namespace {

void put_le(std::string& out, std::uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xFF));
}

std::uint64_t get_le(std::string_view in, std::size_t at, int bytes) {
  std::uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) {
    v |=
        static_cast<std::uint64_t>(static_cast<unsigned char>(in[at + static_cast<std::size_t>(i)]))
        << (8 * i);
  }
  return v;
}

}  // namespace

bool is_capture(std::string_view data) { return data.starts_with(kCaptureMagic); }

std::string encode_capture_header(std::string_view header_json) {
  if (header_json.empty()) header_json = "{}";
  std::string out(kCaptureMagic);
  put_le(out, header_json.size(), 4);
  out.append(header_json);
  return out;
}

std::string encode_capture_record(std::chrono::microseconds offset, std::string_view bytes) {
  std::string out;
  out.reserve(12 + bytes.size());
  put_le(out, static_cast<std::uint64_t>(offset.count() < 0 ? 0 : offset.count()), 8);
  put_le(out, bytes.size(), 4);
  out.append(bytes);
  return out;
}

base::Expected<Capture> parse_capture(std::string_view data) {
  if (!is_capture(data)) {
    return base::invalid_argument("not a capture file (no WLCAP1 magic)");
  }
  std::size_t at = kCaptureMagic.size();
  if (data.size() < at + 4) {
    return base::invalid_argument("capture file ends inside its header");
  }
  const auto hlen = get_le(data, at, 4);
  at += 4;
  if (hlen > kMaxCaptureHeader || data.size() - at < hlen) {
    return base::invalid_argument("capture header length " + std::to_string(hlen) + " is damaged");
  }
  Capture capture;
  capture.header_json = std::string(data.substr(at, hlen));
  at += hlen;
  std::int64_t last = 0;
  while (at < data.size()) {
    if (data.size() - at < 12) {
      capture.truncated = true;
      break;
    }
    const auto offset = static_cast<std::int64_t>(get_le(data, at, 8));
    const auto length = get_le(data, at + 8, 4);
    if (length == 0 || length > kMaxCaptureRecord || offset < last) {
      return base::invalid_argument("capture record at byte " + std::to_string(at) +
                                    " is damaged (length " + std::to_string(length) + ")");
    }
    if (data.size() - at - 12 < length) {
      capture.truncated = true;
      break;
    }
    capture.records.push_back(
        {std::chrono::microseconds(offset), std::string(data.substr(at + 12, length))});
    last = offset;
    at += 12 + length;
  }
  return capture;
}

std::string capture_bytes(const Capture& capture) {
  std::string out;
  for (const auto& r : capture.records) out += r.bytes;
  return out;
}

}  // namespace weighlink::scale
