#include "weighlink/sync/mutation_rules.hpp"

namespace weighlink::sync {

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

std::optional<Refusal> check_weight(std::string_view what, std::string_view text) {
  std::string_view s = text;
  if (!s.empty() && (s.front() == '-' || s.front() == '+')) s.remove_prefix(1);
  const auto dot = s.find('.');
  const auto whole = s.substr(0, dot);
  const auto fraction = dot == std::string_view::npos ? std::string_view{} : s.substr(dot + 1);
  auto digits = [](std::string_view part) {
    for (char c : part) {
      if (c < '0' || c > '9') return false;
    }
    return true;
  };
  const bool exact = !whole.empty() && digits(whole) &&
                     (dot == std::string_view::npos || (!fraction.empty() && digits(fraction)));
  const std::string shown(text.substr(0, 40));
  if (!exact) {
    return Refusal{"invalid_weight",
                   std::string(what) + " \"" + shown + "\" is not an exact decimal"};
  }
  if (whole.size() + fraction.size() > kMaxWeightDigits ||
      fraction.size() > kMaxWeightFractionDigits) {
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

}  // namespace weighlink::sync
