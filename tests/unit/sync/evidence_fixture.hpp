#pragma once
// What the evidence and archive tests share: a real outbox in a temp dir, signed with a test key,
// and numbered weighings to fill it with.
#include <doctest/doctest.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "weighlink/sync/outbox.hpp"

namespace weighlink::testing {

inline const std::vector<unsigned char> kKey(32, 0x5a);

inline sync::OutboxOptions signed_options() {
  sync::OutboxOptions o;
  o.station_id = "station-7";
  o.signing_key = kKey;
  return o;
}

inline std::unique_ptr<sync::Outbox> open_outbox(const std::filesystem::path& file,
                                                 sync::OutboxOptions options = signed_options()) {
  auto r = sync::Outbox::open(file, std::move(options));
  REQUIRE_MESSAGE(r.has_value(), (r ? std::string() : r.error().message));
  return std::move(*r);
}

// Weighing `i`: key cap-i, weight 1000 + i kg.
inline sync::NewMutation weighing(int i, std::int64_t created_at_ms = 1000) {
  sync::NewMutation m;
  m.idempotency_key = "cap-" + std::to_string(i);
  m.kind = "weighing.captured";
  m.payload_json = R"({"scale":"main","weight":")" + std::to_string(1000 + i) + R"(","unit":"kg"})";
  m.request_hash = "h" + std::to_string(i);
  m.created_at_ms = created_at_ms;
  return m;
}

}  // namespace weighlink::testing
