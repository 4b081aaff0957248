#include "deck_frame.hpp"

#include <cctype>
#include <limits>

#include "line_parser.hpp"

namespace weighlink::scale::detail {
namespace {

bool add_overflows(std::int64_t a, std::int64_t b) {
  return (b > 0 && a > std::numeric_limits<std::int64_t>::max() - b) ||
         (b < 0 && a < std::numeric_limits<std::int64_t>::min() - b);
}

}  // namespace

std::optional<Decimal> decimal_add(const Decimal& a, const Decimal& b) {
  const int places = std::max(a.decimals, b.decimals);
  const auto x = a.rescaled(places);
  const auto y = b.rescaled(places);
  if (!x || !y || add_overflows(x->units, y->units)) return std::nullopt;
  return Decimal{x->units + y->units, places};
}

std::optional<Decimal> decimal_sub(const Decimal& a, const Decimal& b) {
  if (b.units == std::numeric_limits<std::int64_t>::min()) return std::nullopt;
  return decimal_add(a, Decimal{-b.units, b.decimals});
}

std::optional<Decimal> decimal_sum(std::span<const Decimal> values) {
  Decimal total{};
  for (const auto& v : values) {
    const auto next = decimal_add(total, v);
    if (!next) return std::nullopt;
    total = *next;
  }
  return total;
}

Decimal implied_decimals(const Decimal& d, const ParserOptions& options) {
  if (d.decimals == 0 && options.decimals > 0 && options.decimals <= 9)
    return Decimal{d.units, options.decimals};
  return d;
}

std::optional<WeightAndUnit> split_weight_unit(std::string_view text) {
  text = trim(text);
  std::size_t i = 0;
  while (i < text.size() && !std::isalpha(static_cast<unsigned char>(text[i]))) ++i;
  const auto weight = parse_weight(text.substr(0, i));
  if (!weight) return std::nullopt;
  const std::size_t unit_start = i;
  while (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i]))) ++i;
  if (!trim(text.substr(i)).empty()) return std::nullopt;
  return WeightAndUnit{*weight, normalize_unit(text.substr(unit_start, i - unit_start))};
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  }
  return true;
}

bool starts_with_icase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

std::optional<DeckValue> parse_deck_value(std::string_view text,
                                          std::span<const StatusSpelling> spellings) {
  text = trim(text);
  DeckValue v;
  if (const auto space = text.find_last_of(' '); space != std::string_view::npos) {
    const std::string_view word = text.substr(space + 1);
    for (const auto& s : spellings) {
      if (s.any_case ? iequals(word, s.word) : word == s.word) {
        v.status = s.status;
        text = trim(text.substr(0, space));
        break;
      }
    }
  }
  const auto wu = split_weight_unit(text);
  if (!wu) return std::nullopt;
  v.weight = wu->weight;
  v.unit = wu->unit;
  return v;
}

DeckFrame::DeckFrame(std::string_view protocol, const ParserOptions& options)
    : protocol_(protocol), options_(options) {}

void DeckFrame::reset() {
  decks_.clear();
  raw_.clear();
}

DeckFrame::Result DeckFrame::add_deck(DeckLine line, std::string_view raw,
                                      std::vector<Reading>& out) {
  line.weight = implied_decimals(line.weight, options_);
  Result result = Result::pending;
  if (line.index == 1 && !decks_.empty()) {
    // Deck 1 starts a new frame. Without total lines the previous frame ended with its last deck;
    // with them, the previous frame lost its total line and is dropped.
    if (options_.deck_count == 0 && !saw_total_ && !decks_.front().expects_total &&
        emit(std::nullopt, std::nullopt, false, false, out))
      result = Result::reading;
    reset();
  }
  const int expected = static_cast<int>(decks_.size()) + 1;
  if (line.index != expected || (options_.deck_count > 0 && line.index > options_.deck_count)) {
    reset();
    return Result::bad;
  }
  raw_.append(raw);
  decks_.push_back(std::move(line));
  if (options_.deck_count > 0 && expected == options_.deck_count && !saw_total_) {
    const bool ok = emit(std::nullopt, std::nullopt, false, false, out);
    reset();
    return ok ? Result::reading : Result::bad;
  }
  return result;
}

DeckFrame::Result DeckFrame::add_deck(int index, const DeckValue& value, bool expects_total,
                                      std::string_view raw, std::vector<Reading>& out) {
  return add_deck(DeckLine{index, value.weight, value.unit, WeighMode::gross, value.status.stable,
                           value.status.overload, value.status.underload, expects_total},
                  raw, out);
}

DeckFrame::Result DeckFrame::add_total(const DeckValue& total, std::string_view raw,
                                       std::vector<Reading>& out) {
  return add_total(total.weight, total.unit, total.status.stable, total.status.overload,
                   total.status.underload, raw, out);
}

DeckFrame::Result DeckFrame::add_total(const Decimal& total, std::string_view unit,
                                       std::optional<bool> stable, bool overload, bool underload,
                                       std::string_view raw, std::vector<Reading>& out) {
  if (decks_.empty()) {
    // With a configured deck count the frame was already emitted at its last deck; a total line
    // after it is redundant, not an error.
    if (options_.deck_count > 0 && raw_.empty()) return Result::pending;
    reset();
    return Result::bad;
  }
  if (options_.deck_count > 0 && static_cast<int>(decks_.size()) != options_.deck_count) {
    reset();
    return Result::bad;
  }
  saw_total_ = true;
  raw_.append(raw);
  const std::string total_unit = unit.empty() ? options_.unit : std::string(unit);
  const std::string deck_unit = decks_.front().unit.empty() ? options_.unit : decks_.front().unit;
  bool ok = total_unit == deck_unit;
  ok = ok && emit(implied_decimals(total, options_), stable, overload, underload, out);
  reset();
  return ok ? Result::reading : Result::bad;
}

void DeckFrame::flush(std::vector<Reading>& out) {
  if (!decks_.empty() && options_.deck_count == 0 && !saw_total_ && !decks_.front().expects_total)
    (void)emit(std::nullopt, std::nullopt, false, false, out);
  reset();
}

bool DeckFrame::emit(std::optional<Decimal> total, std::optional<bool> total_stable, bool overload,
                     bool underload, std::vector<Reading>& out) {
  Reading r;
  r.protocol = protocol_;
  r.unit = decks_.front().unit.empty() ? options_.unit : decks_.front().unit;
  r.mode = decks_.front().mode;
  r.overload = overload;
  r.underload = underload;
  std::vector<Decimal> weights;
  bool all_flagged = true;
  bool all_stable = true;
  for (const auto& d : decks_) {
    const std::string unit = d.unit.empty() ? options_.unit : d.unit;
    // One frame, one unit and one mode: a mixed frame is torn or misconfigured.
    if (unit != r.unit || d.mode != r.mode) return false;
    weights.push_back(d.weight);
    r.overload = r.overload || d.overload;
    r.underload = r.underload || d.underload;
    const bool deck_stable = d.stable.value_or(false) && !d.overload && !d.underload;
    if (!d.stable) all_flagged = false;
    if (!deck_stable) all_stable = false;
    r.decks.push_back(DeckReading{d.index, d.weight, deck_stable});
  }
  const auto sum = decimal_sum(weights);
  if (!sum) return false;
  if (total) {
    // The indicator's GVW must be the sum of its decks: a mismatch means a torn frame.
    if (total->compare(*sum) != std::strong_ordering::equal) return false;
    r.weight = *total;
  } else {
    r.weight = *sum;
  }
  if (total_stable && !*total_stable) all_stable = false;
  if (all_flagged) {
    r.stable_source = StableSource::indicator;
    r.stable = all_stable && !r.overload && !r.underload;
  } else {
    // No motion flag on (some of) the lines: the software window decides (SPEC §2).
    r.stable_source = StableSource::software;
    r.stable = false;
    for (auto& d : r.decks) d.stable = false;
  }
  r.raw = raw_;
  out.push_back(std::move(r));
  return true;
}

}  // namespace weighlink::scale::detail
