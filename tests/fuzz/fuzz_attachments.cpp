// libFuzzer target: a record's payload as the replay worker reads its `attachments` before a batch
// (sync/src/attachments.cpp). The first byte picks the kind (even: weighlink.capture_images, odd:
// weighing.captured, whose payload is never looked at). Every input ends in a list of well-named
// files or none, never a crash.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_check.hpp"
#include "weighlink/sync/attachments.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using weighlink::fuzz::check;
  if (size == 0) return 0;
  const std::string_view payload(reinterpret_cast<const char*>(data) + 1, size - 1);
  const bool ours = data[0] % 2 == 0;
  const auto listed = weighlink::sync::attachments_of(
      ours ? "weighlink.capture_images" : "weighing.captured", payload);
  if (!ours) check(listed.empty());
  for (const auto& a : listed) {
    check(weighlink::sync::is_sha256_hex(a.sha256));
    check(!a.content_type.empty());
  }
  return 0;
}
