#include "line_parser.hpp"

#include <cctype>

#include "parsers.hpp"

namespace weighlink::scale::detail {

LineParser::LineParser(std::string_view protocol, ParserOptions options, std::size_t max_line,
                       std::string terminators, std::optional<char> start_byte)
    : protocol_(protocol),
      options_(std::move(options)),
      max_line_(max_line),
      terminators_(std::move(terminators)),
      start_byte_(start_byte),
      in_line_(!start_byte) {}

void LineParser::put(std::string_view bytes, std::vector<Reading>& out) {
  for (const char c : bytes) {
    const char m = static_cast<char>(low7(c));
    if (start_byte_ && m == *start_byte_) {
      // A start byte inside a line cuts the line short: the frame before it is incomplete.
      if (!line_.empty()) {
        ++stats_.bad_frames;
        stats_.skipped_bytes += raw_.size();
        reset_frame();
      }
      line_.clear();
      raw_.clear();
      in_line_ = true;
      line_.push_back(m);
      raw_.push_back(c);
      continue;
    }
    if (!in_line_) {
      ++stats_.skipped_bytes;
      continue;
    }
    raw_.push_back(c);
    if (terminators_.find(m) != std::string::npos) {
      end_line(out);
      continue;
    }
    line_.push_back(m);
    if (line_.size() > max_line_) {
      // No terminator in sight: not this format, or a line torn by noise.
      ++stats_.bad_frames;
      stats_.skipped_bytes += raw_.size();
      line_.clear();
      raw_.clear();
      in_line_ = !start_byte_;
      reset_frame();
    }
  }
}

void LineParser::end_line(std::vector<Reading>& out) {
  std::string line = std::move(line_);
  std::string raw = std::move(raw_);
  line_.clear();
  raw_.clear();
  in_line_ = !start_byte_;
  if (trim(line).empty()) {
    // CR LF leaves an empty line between CR and LF; blank lines carry nothing.
    if (!start_byte_) return;
  }
  const std::size_t before = out.size();
  switch (decode_line(line, raw, out)) {
    case LineResult::reading:
      stats_.frames += out.size() - before;
      break;
    case LineResult::ignored:
    case LineResult::pending:
      break;
    case LineResult::bad:
      out.resize(before);
      ++stats_.bad_frames;
      stats_.skipped_bytes += raw.size();
      reset_frame();
      break;
  }
}

void LineParser::finish(std::vector<Reading>& out) {
  const std::size_t before = out.size();
  flush(out);
  stats_.frames += out.size() - before;
  if (!raw_.empty()) stats_.skipped_bytes += raw_.size();
  line_.clear();
  raw_.clear();
  in_line_ = !start_byte_;
}

Reading LineParser::make_reading(StableSource source) const {
  return new_reading(protocol_, options_, source);
}

LineParser::LineResult LineParser::emit(Reading r, std::string_view raw,
                                        std::vector<Reading>& out) {
  append_reading(std::move(r), raw, out);
  return LineResult::reading;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::string normalize_unit(std::string_view unit) {
  std::string out;
  for (const char c : trim(unit))
    out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  return out;
}

std::optional<Decimal> parse_weight(std::string_view field) {
  field = trim(field);
  if (field.empty()) return std::nullopt;
  std::string compact;
  if (field.front() == '+' || field.front() == '-') {
    compact.push_back(field.front());
    field = trim(field.substr(1));
  }
  compact.append(field);
  return Decimal::parse(compact);
}

std::vector<std::string_view> split_fields(std::string_view s, char separator) {
  std::vector<std::string_view> out;
  while (true) {
    const std::size_t at = s.find(separator);
    out.push_back(s.substr(0, at));
    if (at == std::string_view::npos) return out;
    s.remove_prefix(at + 1);
  }
}

std::vector<std::string_view> split_words(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && s[i] == ' ') ++i;
    const std::size_t start = i;
    while (i < s.size() && s[i] != ' ') ++i;
    if (i > start) out.push_back(s.substr(start, i - start));
  }
  return out;
}

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (const char c : s) {
    if (!is_digit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

}  // namespace weighlink::scale::detail
