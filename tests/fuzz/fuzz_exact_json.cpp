// libFuzzer target: the exact JSON reader every client body goes through (sync/exact_json.hpp),
// the payload rules on top of it (mutation_rules.hpp) and log_safe. Invariants on any bytes:
// never a crash; what is accepted is written back so that reading it again gives the same text
// (numbers verbatim, nothing rounded); the canonical text does not depend on member order;
// log_safe never lets a control character through.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.hpp"
#include "weighlink/base/log_text.hpp"
#include "weighlink/record/exact_json.hpp"
#include "weighlink/record/mutation_rules.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using weighlink::fuzz::check;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  using namespace weighlink::record;
  const auto parsed = parse_exact(text);
  if (!parsed.refusal) {
    const auto once = serialize_exact(parsed.value);
    const auto again = parse_exact(once);
    check(!again.refusal);
    check(serialize_exact(again.value) == once);
    check(canonical_exact(again.value) == canonical_exact(parsed.value));
  } else {
    check(!parsed.refusal->code.empty() && !parsed.refusal->message.empty());
  }
  // The check-only mode (what the backend runs on every payload) agrees with the full parse.
  bool object = false;
  const auto checked = check_exact(text, {}, &object);
  check(checked.has_value() == parsed.refusal.has_value());
  if (checked) check(checked->code == parsed.refusal->code);
  if (!checked) check(object == is_json_object(parsed.value));
  (void)check_payload_json(text);
  (void)check_weight("weight", text);
  (void)check_key(text);
  (void)check_kind(text);
  for (unsigned char c : weighlink::base::log_safe(text)) check(c >= 0x20 && c != 0x7f);
  return 0;
}
