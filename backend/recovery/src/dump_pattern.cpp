// DumpNamePattern: parsing a pattern into literal and numeric parts, and matching a name against
// them left to right (each field has a fixed width, so there is nothing to backtrack).
#include "weighlink/recovery/dump_pattern.hpp"

#include <chrono>

#include "weighlink/base/timestamp.hpp"

namespace weighlink::recovery {
namespace {

constexpr std::string_view kFields = "YmdHMS";

int width(char field) { return field == 'Y' ? 4 : 2; }

}  // namespace

base::Expected<DumpNamePattern> DumpNamePattern::parse(std::string_view pattern) {
  DumpNamePattern p;
  p.text_ = std::string(pattern);
  std::string seen;
  const auto bad = [&](const std::string& why) {
    return base::invalid_argument("file-name pattern \"" + std::string(pattern) + "\": " + why +
                                  " (fields: %Y %m %d %H %M %S, %% for a '%')");
  };
  if (pattern.empty()) return bad("empty");
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '/') return bad("a file name, not a path: no '/'");
    if (c != '%' || (i + 1 < pattern.size() && pattern[i + 1] == '%')) {
      if (p.parts_.empty() || p.parts_.back().field != 0) p.parts_.push_back({});
      p.parts_.back().literal += c;
      if (c == '%') ++i;
      continue;
    }
    if (i + 1 == pattern.size()) return bad("a lone '%' at its end");
    const char f = pattern[++i];
    if (kFields.find(f) == std::string_view::npos) {
      return bad("unknown field %" + std::string(1, f));
    }
    if (seen.find(f) != std::string::npos) return bad("%" + std::string(1, f) + " twice");
    seen += f;
    p.parts_.push_back({f, {}});
  }
  for (const char required : {'Y', 'm', 'd'}) {
    if (seen.find(required) == std::string::npos) {
      return bad("no %" + std::string(1, required) + ": the name must carry the date");
    }
  }
  return p;
}

std::optional<std::int64_t> DumpNamePattern::match(std::string_view name) const {
  // Y, m, d, H, M, S in kFields' order; a field the pattern lacks keeps its default.
  std::int64_t value[6] = {0, 1, 1, 0, 0, 0};
  std::size_t pos = 0;
  for (const auto& part : parts_) {
    if (part.field == 0) {
      if (name.substr(pos, part.literal.size()) != part.literal) return std::nullopt;
      pos += part.literal.size();
      continue;
    }
    const int n = width(part.field);
    if (name.size() - pos < static_cast<std::size_t>(n)) return std::nullopt;
    std::int64_t v = 0;
    for (int k = 0; k < n; ++k) {
      const char c = name[pos + static_cast<std::size_t>(k)];
      if (c < '0' || c > '9') return std::nullopt;
      v = v * 10 + (c - '0');
    }
    value[kFields.find(part.field)] = v;
    pos += static_cast<std::size_t>(n);
  }
  if (pos != name.size()) return std::nullopt;
  const auto [y, mo, d, h, mi, sec] = value;
  using namespace std::chrono;
  const year_month_day day{year{static_cast<int>(y)}, month{static_cast<unsigned>(mo)},
                           std::chrono::day{static_cast<unsigned>(d)}};
  if (!base::representable_year(y) || !day.ok() || h > 23 || mi > 59 || sec > 59) {
    return std::nullopt;
  }
  return sys_days{day}.time_since_epoch() / seconds(1) + h * 3600 + mi * 60 + sec;
}

base::Expected<std::vector<DumpNamePattern>> parse_dump_patterns(
    const std::vector<std::string>& texts) {
  std::vector<std::string> given = texts;
  if (given.empty()) given.assign(std::begin(kDefaultDumpPatterns), std::end(kDefaultDumpPatterns));
  std::vector<DumpNamePattern> patterns;
  for (const auto& text : given) {
    auto pattern = DumpNamePattern::parse(text);
    if (!pattern) return pattern.error();
    patterns.push_back(std::move(*pattern));
  }
  return patterns;
}

}  // namespace weighlink::recovery
