// `custom` protocol: a regex with named groups from configuration, for indicators nobody has
// listed. Frames are lines (ParserOptions::custom_terminator, optional custom_start byte); the
// pattern is searched in each frame. std::regex costs a few microseconds per frame, far below
// what a 100 Hz serial stream needs; frames are bounded to 512 bytes so a pathological pattern
// cannot run away on a long line.

#include <algorithm>
#include <cctype>
#include <map>
#include <memory>
#include <mutex>
#include <regex>
#include <string>
#include <vector>

#include "custom_pattern.hpp"
#include "deck_frame.hpp"
#include "line_parser.hpp"
#include "parsers.hpp"

namespace weighlink::scale::detail {
namespace {

constexpr std::size_t kMaxFrame = 512;
constexpr int kMaxDecks = 16;

bool valid_name_char(char c, bool first) {
  return std::isalpha(static_cast<unsigned char>(c)) || c == '_' ||
         (!first && std::isdigit(static_cast<unsigned char>(c)));
}

bool known_group(std::string_view name, int& deck) {
  for (const std::string_view k : {"weight", "unit", "motion", "stable", "mode", "sign", "status"})
    if (name == k) return true;
  if (name.size() > 4 && name.substr(0, 4) == "deck") {
    int n = 0;
    for (const char c : name.substr(4)) {
      if (!std::isdigit(static_cast<unsigned char>(c))) return false;
      n = n * 10 + (c - '0');
      if (n > kMaxDecks) return false;
    }
    if (name[4] == '0') return false;
    deck = n;
    return true;
  }
  return false;
}

std::string upper_trimmed(std::string_view s) {
  std::string out;
  for (const char c : trim(s))
    out.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  return out;
}

}  // namespace

std::variant<CustomPattern, std::string> compile_custom_pattern(const ParserOptions& options) {
  const std::string& p = options.custom_pattern;
  if (p.empty())
    return std::string(
        "custom_pattern: missing; give a regex with a named group (?<weight>...), e.g. "
        "\"(?<weight>[-+ 0-9.]+) ?(?<unit>kg|lb)\"");
  CustomPattern out;
  std::string converted;
  std::size_t group = 0;
  bool in_class = false;
  std::vector<int> decks;
  for (std::size_t i = 0; i < p.size(); ++i) {
    const char c = p[i];
    if (c == '\\') {
      if (i + 1 < p.size() && p[i + 1] == 'k' && !in_class)
        return std::string("custom_pattern: named back-references (\\k<name>) are not supported");
      converted.push_back(c);
      if (i + 1 < p.size()) converted.push_back(p[++i]);
      continue;
    }
    if (in_class) {
      if (c == ']') in_class = false;
      converted.push_back(c);
      continue;
    }
    if (c == '[') {
      in_class = true;
      converted.push_back(c);
      // A ']' right after '[' or '[^' is a literal.
      if (i + 1 < p.size() && p[i + 1] == '^') converted.push_back(p[++i]);
      if (i + 1 < p.size() && p[i + 1] == ']') converted.push_back(p[++i]);
      continue;
    }
    if (c != '(') {
      converted.push_back(c);
      continue;
    }
    if (i + 1 < p.size() && p[i + 1] == '?') {
      std::size_t name_at = 0;
      if (i + 2 < p.size() && p[i + 2] == '<' && i + 3 < p.size() && p[i + 3] != '=' &&
          p[i + 3] != '!')
        name_at = i + 3;
      if (i + 3 < p.size() && p[i + 2] == 'P' && p[i + 3] == '<') name_at = i + 4;
      if (name_at == 0) {  // (?: (?= (?!: not a capture
        converted.push_back(c);
        continue;
      }
      const auto close = p.find('>', name_at);
      if (close == std::string::npos)
        return std::string("custom_pattern: unterminated group name at offset ") +
               std::to_string(i);
      const std::string name = p.substr(name_at, close - name_at);
      bool ok = !name.empty();
      for (std::size_t k = 0; k < name.size(); ++k) ok = ok && valid_name_char(name[k], k == 0);
      int deck = 0;
      if (!ok || !known_group(name, deck))
        return "custom_pattern: unknown group name '" + name +
               "'; use weight, unit, motion, stable, mode, sign, status, deck1..deck16";
      ++group;
      if (!out.groups.emplace(name, group).second)
        return "custom_pattern: group '" + name + "' appears twice";
      if (deck > 0) decks.push_back(deck);
      converted.push_back('(');
      i = close;
      continue;
    }
    ++group;
    converted.push_back(c);
  }
  std::sort(decks.begin(), decks.end());
  for (std::size_t k = 0; k < decks.size(); ++k) {
    if (decks[k] != static_cast<int>(k) + 1)
      return std::string("custom_pattern: deck groups must be deck1, deck2, ... without gaps");
  }
  out.decks = static_cast<int>(decks.size());
  if (!out.groups.contains("weight") && out.decks == 0)
    return std::string(
        "custom_pattern: no (?<weight>...) group (or deck1..deckN groups) to read the weight "
        "from");
  if (out.groups.contains("motion") && out.groups.contains("stable"))
    return std::string("custom_pattern: use either a motion or a stable group, not both");
  try {
    out.regex = std::regex(converted, std::regex::ECMAScript | std::regex::optimize);
  } catch (const std::regex_error& e) {
    return std::string("custom_pattern: not a valid ECMAScript regex (") + e.what() + ")";
  }
  if (options.custom_terminator.empty())
    return std::string(
        "custom_terminator: empty; give the byte(s) that end a frame, e.g. \"\\r\\n\"");
  if (options.custom_start.size() > 1)
    return std::string("custom_start: must be empty or a single byte");
  if (options.custom_start.size() == 1 &&
      options.custom_terminator.find(options.custom_start[0]) != std::string::npos)
    return std::string("custom_start: the start byte is also a terminator");
  return out;
}

namespace {

class CustomParser final : public LineParser {
 public:
  CustomParser(const ParserOptions& options, std::shared_ptr<const CustomPattern> pattern)
      : LineParser(
            "custom", options, kMaxFrame,
            options.custom_terminator.empty() ? std::string("\r\n") : options.custom_terminator,
            options.custom_start.size() == 1 ? std::optional<char>(options.custom_start[0])
                                             : std::nullopt),
        pattern_(std::move(pattern)) {
    for (const auto& v : options.custom_stable_values) stable_values_.push_back(upper_trimmed(v));
  }

 protected:
  LineResult decode_line(std::string_view masked, std::string_view raw,
                         std::vector<Reading>& out) override {
    if (!pattern_) return LineResult::bad;  // unusable configuration: validate_options says why
    std::string text(masked);
    if (options().custom_start.size() == 1 && !text.empty()) text.erase(0, 1);
    std::smatch m;
    try {
      if (!std::regex_search(text, m, pattern_->regex)) return LineResult::bad;
    } catch (const std::regex_error&) {  // complexity or stack limits on a hostile line
      return LineResult::bad;
    }
    auto group = [&](std::string_view name) -> std::optional<std::string> {
      const auto it = pattern_->groups.find(name);
      if (it == pattern_->groups.end() || !m[it->second].matched) return std::nullopt;
      return m[it->second].str();
    };

    Reading r = make_reading();
    r.raw.assign(raw);
    if (const auto status = group("status")) {
      const std::string s = upper_trimmed(*status);
      r.overload = s == "O" || s == "OL" || s == "OC" || s == "OVER";
      r.underload = s == "U" || s == "UL" || s == "BZ" || s == "LO" || s == "UNDER";
      r.center_zero = s == "Z" || s == "CZ";
    }
    const bool negate = group("sign").has_value() && trim(*group("sign")) == "-";
    auto read_weight = [&](std::string_view field) -> std::optional<Decimal> {
      auto w = parse_weight(field);
      if (!w) return std::nullopt;
      Decimal d = implied_decimals(*w, options());
      if (negate && d.units > 0) d.units = -d.units;
      return d;
    };

    std::vector<Decimal> decks;
    for (int k = 1; k <= pattern_->decks; ++k) {
      const auto text_k = group("deck" + std::to_string(k));
      if (!text_k) return LineResult::bad;
      const auto w = read_weight(*text_k);
      if (!w) return LineResult::bad;
      decks.push_back(*w);
    }
    const auto sum = decimal_sum(decks);
    if (!sum) return LineResult::bad;
    if (const auto w_text = group("weight")) {
      const auto w = read_weight(*w_text);
      if (w) {
        r.weight = *w;
      } else if (r.overload || r.underload) {
        r.weight = Decimal{0, options().decimals > 0 ? options().decimals : 0};
      } else {
        return LineResult::bad;
      }
      // With deck groups too, the total must agree with the decks (a torn or misread frame).
      if (!decks.empty() && r.weight.compare(*sum) != std::strong_ordering::equal)
        return LineResult::bad;
    } else if (!decks.empty()) {
      r.weight = *sum;
    } else {
      return LineResult::bad;
    }

    if (const auto unit = group("unit"); unit && !trim(*unit).empty())
      r.unit = normalize_unit(*unit);

    bool tare_display = false;
    if (const auto mode = group("mode")) {
      const std::string s = upper_trimmed(*mode);
      if (s == "N" || s == "NT" || s == "NET" || s == "NW") {
        r.mode = WeighMode::net;
      } else if (s == "G" || s == "GS" || s == "GR" || s == "GROSS" || s == "GW" || s == "B") {
        r.mode = WeighMode::gross;
      } else if (s == "T" || s == "TR" || s == "TARE") {
        tare_display = true;
      } else {
        return LineResult::bad;  // a mode we cannot name must not pass as gross
      }
    }

    const auto stable_text = group("stable");
    const auto motion_text = group("motion");
    const bool has_flag =
        pattern_->groups.contains("stable") || pattern_->groups.contains("motion");
    if (has_flag) {
      r.stable_source = StableSource::indicator;
      if (pattern_->groups.contains("stable")) {
        r.stable = stable_text && listed(*stable_text);
      } else {
        r.stable = !motion_text || trim(*motion_text).empty() || listed(*motion_text);
      }
    } else {
      r.stable_source = StableSource::software;
      r.stable = false;
    }
    if (r.overload || r.underload) r.stable = false;
    if (tare_display) {
      r.tare = r.weight;
      r.stable = false;
    }
    for (std::size_t k = 0; k < decks.size(); ++k)
      r.decks.push_back(DeckReading{static_cast<int>(k) + 1, decks[k], r.stable});
    out.push_back(std::move(r));
    return LineResult::reading;
  }

 private:
  [[nodiscard]] bool listed(std::string_view text) const {
    const std::string s = upper_trimmed(text);
    for (const auto& v : stable_values_) {
      if (v == s) return true;
    }
    return false;
  }

  std::shared_ptr<const CustomPattern> pattern_;  // null: unusable configuration
  std::vector<std::string> stable_values_;
};

}  // namespace

std::unique_ptr<Parser> make_custom_parser(const ParserOptions& options) {
  // Compiling a std::regex costs far more than matching a frame, and a configuration makes the
  // same parser again on every reconnect (and the fuzzer for every input): compiled patterns are
  // shared. A compiled std::regex is safe to use from several threads at once.
  static std::mutex mu;
  static std::map<std::string, std::shared_ptr<const CustomPattern>, std::less<>> cache;
  std::string key = options.custom_pattern;
  key.append(1, '\0')
      .append(options.custom_terminator)
      .append(1, '\0')
      .append(options.custom_start);
  std::shared_ptr<const CustomPattern> pattern;
  {
    std::lock_guard lock(mu);
    if (auto it = cache.find(key); it != cache.end()) {
      pattern = it->second;
    } else {
      auto compiled = compile_custom_pattern(options);
      if (auto* p = std::get_if<CustomPattern>(&compiled)) {
        pattern = std::make_shared<const CustomPattern>(std::move(*p));
      }
      if (cache.size() < 64) cache.emplace(std::move(key), pattern);
    }
  }
  return std::make_unique<CustomParser>(options, std::move(pattern));
}

}  // namespace weighlink::scale::detail
