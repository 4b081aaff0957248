#include "weighlink/record/mutation_rules.hpp"

namespace weighlink::record {

std::optional<Refusal> check_key(std::string_view key) {
  bool ok = !key.empty() && key.size() <= kMaxKeyLength;
  for (unsigned char c : key) ok = ok && c >= 0x21 && c <= 0x7e;
  if (ok) return std::nullopt;
  return Refusal{"invalid_key", "the idempotency key must be 1 to " +
                                    std::to_string(kMaxKeyLength) +
                                    " visible ASCII characters (no spaces or control characters)"};
}

std::optional<Refusal> check_kind(std::string_view kind) {
  bool ok = !kind.empty() && kind.size() <= kMaxKindLength;
  for (unsigned char c : kind) {
    ok = ok &&
         ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-');
  }
  if (ok) return std::nullopt;
  return Refusal{"invalid_kind", "the kind must be 1 to " + std::to_string(kMaxKindLength) +
                                     " lower-case letters, digits, '.', '_' or '-', e.g. "
                                     "\"transaction.created\""};
}

bool is_reserved_kind(std::string_view kind) {
  return kind.starts_with("weighing.") || kind.starts_with("weighlink.");
}

std::optional<Refusal> check_payload_json(std::string_view payload_json) {
  if (payload_json.size() > kMaxPayloadBytes) {
    return Refusal{"payload_too_large", "the payload is " + std::to_string(payload_json.size()) +
                                            " bytes; at most " + std::to_string(kMaxPayloadBytes) +
                                            " are accepted"};
  }
  bool object = false;
  if (auto refusal = check_exact(payload_json, kPayloadJsonLimits, &object)) {
    return Refusal{refusal->code, refusal->message};
  }
  if (!object) {
    return Refusal{"invalid_payload", "the payload must be a JSON object"};
  }
  return std::nullopt;
}

bool is_exact_decimal(std::string_view text) noexcept {
  if (!text.empty() && (text.front() == '+' || text.front() == '-')) text.remove_prefix(1);
  const auto dot = text.find('.');
  const std::string_view whole = text.substr(0, dot);
  const std::string_view fraction =
      dot == std::string_view::npos ? std::string_view{} : text.substr(dot + 1);
  auto all_digits = [](std::string_view part) {
    for (char c : part) {
      if (c < '0' || c > '9') return false;
    }
    return true;
  };
  if (whole.empty() || !all_digits(whole)) return false;
  if (dot != std::string_view::npos && (fraction.empty() || !all_digits(fraction))) return false;
  return true;
}

std::optional<Refusal> check_weight(std::string_view what, std::string_view text) {
  const std::string shown(text.substr(0, 40));
  if (!is_exact_decimal(text)) {
    return Refusal{"invalid_weight",
                   std::string(what) + " \"" + shown + "\" is not an exact decimal"};
  }
  const auto dot = text.find('.');
  const std::size_t fraction = dot == std::string_view::npos ? 0 : text.size() - dot - 1;
  const std::size_t signs = text.front() == '-' || text.front() == '+' ? 1 : 0;
  const std::size_t digits = text.size() - signs - (dot == std::string_view::npos ? 0 : 1);
  if (digits > kMaxWeightDigits || fraction > kMaxWeightFractionDigits) {
    return Refusal{"weight_out_of_range",
                   std::string(what) + " \"" + shown + (text.size() > 40 ? "..." : "") +
                       "\" has more than " + std::to_string(kMaxWeightDigits) +
                       " digits or more than " + std::to_string(kMaxWeightFractionDigits) +
                       " after the point"};
  }
  return std::nullopt;
}

std::optional<Refusal> check_short_text(std::string_view what, std::string_view text,
                                        std::size_t max) {
  if (text.size() > max) {
    return Refusal{"text_too_long", std::string(what) + " is " + std::to_string(text.size()) +
                                        " bytes; at most " + std::to_string(max) + " are accepted"};
  }
  for (unsigned char c : text) {
    if (c < 0x20 || c == 0x7f) {
      return Refusal{"control_character",
                     std::string(what) + " holds a control character (a newline, tab or NUL)"};
    }
  }
  return std::nullopt;
}

}  // namespace weighlink::record
