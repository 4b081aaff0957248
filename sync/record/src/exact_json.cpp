#include "weighlink/record/exact_json.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <boost/json/basic_parser_impl.hpp>
#include <cstdint>
#include <unordered_set>
#include <vector>

namespace weighlink::record {
namespace json = boost::json;

namespace {

// An exact number is an object with this one member, whose value is the number's text. parse_exact
// refuses member names with a NUL character, so no client text can make one.
constexpr std::string_view kExactTag{"\0decimal", 8};

// A JSON number's text: -?(0|[1-9][0-9]*)(\.[0-9]+)? (exponents are refused before this is asked).
bool plain_number_text(std::string_view s) {
  std::size_t i = 0;
  if (i < s.size() && s[i] == '-') ++i;
  const auto digits = i;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
  if (i == digits) return false;
  if (i < s.size() && s[i] == '.') {
    const auto fraction = ++i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    if (i == fraction) return false;
  }
  return i == s.size();
}

const json::string* tagged_text(const json::value& v) {
  if (!v.is_object()) return nullptr;
  const auto& o = v.as_object();
  if (o.size() != 1 || o.begin()->key() != kExactTag || !o.begin()->value().is_string()) {
    return nullptr;
  }
  const auto& text = o.begin()->value().as_string();
  return plain_number_text(text) ? &text : nullptr;
}

// The SAX handler: builds the value, refusing what parse_exact() documents.
class Builder {
 public:
  static constexpr std::size_t max_object_size = std::size_t(-1);
  static constexpr std::size_t max_array_size = std::size_t(-1);
  static constexpr std::size_t max_key_size = std::size_t(-1);
  static constexpr std::size_t max_string_size = std::size_t(-1);

  // `build` false: only check (check_exact), no value is made; member names are still compared.
  Builder(const JsonLimits& limits, bool build) : limits_(limits), build_(build) {}

  std::optional<JsonRefusal> refusal;
  json::value root;

  bool on_document_begin(json::error_code&) { return true; }
  bool on_document_end(json::error_code&) { return true; }
  bool on_array_begin(json::error_code& ec) { return open(json::array(), ec); }
  bool on_array_end(std::size_t, json::error_code& ec) { return close(ec); }
  bool on_object_begin(json::error_code& ec) { return open(json::object(), ec); }
  bool on_object_end(std::size_t, json::error_code& ec) { return close(ec); }
  bool on_string_part(json::string_view s, std::size_t, json::error_code& ec) {
    return text_part(s, ec);
  }
  bool on_string(json::string_view s, std::size_t, json::error_code& ec) {
    if (!text_part(s, ec)) return false;
    if (!build_) {
      text_.clear();
      return true;
    }
    json::value v = json::string(text_);
    text_.clear();
    return add(std::move(v), ec);
  }
  bool on_key_part(json::string_view s, std::size_t, json::error_code& ec) {
    return text_part(s, ec);
  }
  bool on_key(json::string_view s, std::size_t, json::error_code& ec) {
    if (!text_part(s, ec)) return false;
    auto& frame = stack_.back();
    const bool seen = build_ ? frame.container.as_object().contains(text_) : frame.seen(text_);
    if (seen) {
      return fail(
          "duplicate_member",
          "the member \"" + text_.substr(0, 40) + "\" appears twice in one object; send it once",
          ec);
    }
    frame.key = std::move(text_);
    text_.clear();
    return true;
  }
  bool on_number_part(json::string_view s, json::error_code& ec) {
    number_.append(s.data(), s.size());
    return check_number(ec);
  }
  bool on_int64(std::int64_t i, json::string_view s, json::error_code& ec) {
    if (!number(s, ec)) return false;
    return build_ ? add(finish_number(json::value(i)), ec) : skip_number();
  }
  bool on_uint64(std::uint64_t u, json::string_view s, json::error_code& ec) {
    if (!number(s, ec)) return false;
    return build_ ? add(finish_number(json::value(u)), ec) : skip_number();
  }
  bool on_double(double, json::string_view s, json::error_code& ec) {
    if (!number(s, ec)) return false;
    return build_ ? add(finish_number(json::value()), ec) : skip_number();
  }
  bool on_bool(bool b, json::error_code& ec) { return !build_ || add(json::value(b), ec); }
  bool on_null(json::error_code& ec) { return !build_ || add(json::value(nullptr), ec); }
  bool on_comment_part(json::string_view, json::error_code&) { return true; }
  bool on_comment(json::string_view, json::error_code&) { return true; }

 private:
  struct Frame {
    json::value container;  // build: the array or object being filled
    std::string key;
    // check only: the member names of this object so far (a hash set once there are many).
    std::vector<std::string> names;
    std::unordered_set<std::string> many;
    bool seen(const std::string& name) {
      if (many.empty()) {
        if (std::find(names.begin(), names.end(), name) != names.end()) return true;
        names.push_back(name);
        if (names.size() > 32) many.insert(names.begin(), names.end());
        return false;
      }
      return !many.insert(name).second;
    }
  };

  bool skip_number() {
    number_.clear();
    return true;
  }

  bool fail(std::string code, std::string message, json::error_code& ec) {
    refusal = JsonRefusal{std::move(code), std::move(message)};
    ec = json::error::exception;
    return false;
  }

  bool text_part(json::string_view s, json::error_code& ec) {
    if (s.find('\0') != json::string_view::npos) {
      return fail("nul_character",
                  "a string or member name holds a NUL character (\\u0000), which cannot be "
                  "stored; remove it",
                  ec);
    }
    text_.append(s.data(), s.size());
    return true;
  }

  bool check_number(json::error_code& ec) {
    if (number_.find_first_of("eE") != std::string::npos) {
      return fail("inexact_number",
                  "the number " + number_.substr(0, 40) +
                      " has an exponent and cannot be kept exactly as written; write its digits "
                      "out (e.g. 32540.10) or send it as a string",
                  ec);
    }
    const auto digits = static_cast<std::size_t>(
        std::count_if(number_.begin(), number_.end(), [](char c) { return c >= '0' && c <= '9'; }));
    if (digits > limits_.max_number_digits) {
      return fail("number_too_long",
                  "a number has " + std::to_string(digits) + " digits; at most " +
                      std::to_string(limits_.max_number_digits) +
                      " are accepted (send longer values as strings)",
                  ec);
    }
    return true;
  }

  bool number(json::string_view s, json::error_code& ec) {
    number_.append(s.data(), s.size());
    return check_number(ec);
  }

  // An integer that fits 64 bits prints as written, except "-0": that, every fraction and every
  // integer beyond 64 bits keep their text.
  json::value finish_number(json::value integer) {
    std::string text = std::move(number_);
    number_.clear();
    const bool whole = text.find('.') == std::string::npos;
    if (whole && !integer.is_null() && text != "-0") return integer;
    return exact_number(text);
  }

  bool open(json::value container, json::error_code& ec) {
    if (stack_.size() >= limits_.max_depth) {
      return fail("too_deep",
                  "the JSON nests deeper than " + std::to_string(limits_.max_depth) + " levels",
                  ec);
    }
    stack_.push_back(Frame{std::move(container), {}, {}, {}});
    return true;
  }

  bool close(json::error_code& ec) {
    json::value done = std::move(stack_.back().container);
    stack_.pop_back();
    return !build_ || add(std::move(done), ec);
  }

  bool add(json::value v, json::error_code&) {
    if (stack_.empty()) {
      root = std::move(v);
      return true;
    }
    auto& frame = stack_.back();
    if (frame.container.is_array()) {
      frame.container.as_array().push_back(std::move(v));
    } else {
      frame.container.as_object().emplace(frame.key, std::move(v));
      frame.key.clear();
    }
    return true;
  }

  JsonLimits limits_;
  bool build_ = true;
  std::vector<Frame> stack_;
  std::string text_;
  std::string number_;
};

void write(const json::value& v, std::string& out, bool sorted) {
  if (const auto* text = tagged_text(v)) {
    out.append(text->data(), text->size());
    return;
  }
  switch (v.kind()) {
    case json::kind::object: {
      const auto& o = v.as_object();
      std::vector<const json::key_value_pair*> members;
      members.reserve(o.size());
      for (const auto& kv : o) members.push_back(&kv);
      if (sorted) {
        std::sort(members.begin(), members.end(),
                  [](const auto* a, const auto* b) { return a->key() < b->key(); });
      }
      out += '{';
      bool first = true;
      for (const auto* kv : members) {
        if (!first) out += ',';
        first = false;
        out += json::serialize(json::string_view(kv->key()));
        out += ':';
        write(kv->value(), out, sorted);
      }
      out += '}';
      return;
    }
    case json::kind::array: {
      out += '[';
      bool first = true;
      for (const auto& e : v.as_array()) {
        if (!first) out += ',';
        first = false;
        write(e, out, sorted);
      }
      out += ']';
      return;
    }
    default:
      out += json::serialize(v);
  }
}

ExactParse run_parser(std::string_view text, const JsonLimits& limits, bool build);

}  // namespace

ExactParse parse_exact(std::string_view text, const JsonLimits& limits) {
  return run_parser(text, limits, true);
}

std::optional<JsonRefusal> check_exact(std::string_view text, const JsonLimits& limits,
                                       bool* is_object) {
  auto r = run_parser(text, limits, false);
  if (is_object) *is_object = !r.refusal && r.value.is_bool() && r.value.as_bool();
  return r.refusal;
}

namespace {

// build false: only checks; the value is then true when the text is one JSON object.
ExactParse run_parser(std::string_view text, const JsonLimits& limits, bool build) {
  json::parse_options options;
  options.max_depth = limits.max_depth + 1;  // the builder says "too deep" itself, with its limit
  json::basic_parser<Builder> parser(options, limits, build);
  json::error_code ec;
  const auto used = parser.write_some(false, text.data(), text.size(), ec);
  ExactParse result;
  if (parser.handler().refusal) {
    result.refusal = std::move(parser.handler().refusal);
    return result;
  }
  if (ec || used != text.size()) {
    result.refusal =
        JsonRefusal{"invalid_json", "not valid JSON" + (ec ? ": " + ec.message() : std::string())};
    return result;
  }
  if (build) {
    result.value = std::move(parser.handler().root);
  } else {
    result.value = !text.empty() && text.find_first_not_of(" \t\r\n") != std::string_view::npos &&
                   text[text.find_first_not_of(" \t\r\n")] == '{';
  }
  return result;
}

}  // namespace

json::value exact_number(std::string_view text) {
  return json::object{{kExactTag, json::string_view(text.data(), text.size())}};
}

bool is_json_object(const json::value& value) {
  return value.is_object() && tagged_text(value) == nullptr;
}

std::optional<std::string> number_text(const json::value& value) {
  if (const auto* text = tagged_text(value)) return std::string(*text);
  if (value.is_int64()) return std::to_string(value.as_int64());
  if (value.is_uint64()) return std::to_string(value.as_uint64());
  return std::nullopt;
}

std::optional<std::int64_t> exact_int64(const json::value& value) {
  if (value.is_int64()) return value.as_int64();
  if (value.is_uint64()) {
    if (value.as_uint64() > static_cast<std::uint64_t>(INT64_MAX)) return std::nullopt;
    return static_cast<std::int64_t>(value.as_uint64());
  }
  const auto* text = tagged_text(value);
  if (!text) return std::nullopt;
  std::string_view s(*text);
  if (const auto dot = s.find('.'); dot != std::string_view::npos) {
    if (s.find_first_not_of('0', dot + 1) != std::string_view::npos) return std::nullopt;
    s = s.substr(0, dot);
  }
  std::int64_t out = 0;
  const bool negative = !s.empty() && s.front() == '-';
  if (negative) s.remove_prefix(1);
  for (char c : s) {
    if (out > (INT64_MAX - (c - '0')) / 10) return std::nullopt;
    out = out * 10 + (c - '0');
  }
  return negative ? -out : out;
}

std::string serialize_exact(const json::value& value) {
  std::string out;
  write(value, out, false);
  return out;
}

std::string canonical_exact(const json::value& value) {
  std::string out;
  write(value, out, true);
  return out;
}

}  // namespace weighlink::record
