#include "weighlink/agent/app_record.hpp"

#include <algorithm>

#include "weighlink/record/exact_json.hpp"

namespace weighlink::agent {
namespace json = boost::json;

namespace {

json::value number(const std::optional<scale::Decimal>& d) {
  if (!d) return nullptr;
  return record::exact_number(d->to_string());
}

}  // namespace

std::optional<scale::Decimal> sum(const std::vector<scale::Decimal>& values) {
  std::optional<scale::Decimal> total = scale::Decimal{0, 0};
  for (const auto& v : values) {
    if (!total) return std::nullopt;
    total = total->plus(v);
  }
  return total;
}

bool within(const scale::Decimal& a, const scale::Decimal& b, const scale::Decimal& tolerance) {
  auto d = a.minus(b);
  if (!d) return false;
  if (d->units < 0) d->units = -d->units;
  return d->compare(tolerance) != std::strong_ordering::greater;
}

std::vector<PartValues> differing(const std::vector<PartValues>& parts,
                                  const scale::Decimal& division) {
  std::vector<PartValues> out;
  for (const auto& p : parts) {
    if (!p.app) continue;
    if (!p.agent || !within(*p.app, *p.agent, division)) out.push_back(p);
  }
  return out;
}

void annotate_record(json::object& payload, const std::vector<PartValues>& parts,
                     const scale::Decimal& division, std::string_view unit,
                     json::object app_extra) {
  json::object app = std::move(app_extra);
  json::array stated;
  for (const auto& p : parts) {
    if (p.app) stated.push_back(json::object{{"part", p.part}, {"weight", number(p.app)}});
  }
  app["parts"] = std::move(stated);
  app["unit"] = unit;
  payload["app"] = std::move(app);
  const auto diff = differing(parts, division);
  if (diff.empty()) return;
  json::array list;
  for (const auto& p : diff) {
    json::object o{{"part", p.part}, {"app", number(p.app)}, {"agent", number(p.agent)}};
    if (p.app && p.agent) o["difference"] = number(p.agent->minus(*p.app));
    if (!p.note.empty()) o["note"] = p.note;
    list.push_back(std::move(o));
  }
  payload["discrepancy"] = json::object{{"flagged", true},
                                        {"division", number(division)},
                                        {"unit", unit},
                                        {"parts", std::move(list)}};
}

TakeChoice choose_take_weight(const std::vector<scale::Decimal>& plateaus,
                              const std::optional<scale::Decimal>& current,
                              const std::optional<scale::Decimal>& app_gvw,
                              const scale::Decimal& division) {
  using From = TakeChoice::From;
  if (app_gvw) {
    if (current && within(*current, *app_gvw, division)) {
      return {From::current, 0, "the decks show the weight the app took"};
    }
    for (std::size_t i = plateaus.size(); i-- > 0;) {
      if (within(plateaus[i], *app_gvw, division)) {
        return {From::earlier, i,
                "the app's GVW is an earlier stable weight of the vehicle; the decks " +
                    (current ? "now show " + current->to_string() : std::string("have changed"))};
      }
    }
  }
  if (current) return {From::current, 0, "the stable weight on the decks now"};
  if (!plateaus.empty()) {
    return {From::earlier, plateaus.size() - 1,
            "the vehicle's last stable weight on the decks (the decks no longer hold it)"};
  }
  return {From::none, 0, "no stable weight of the vehicle yet"};
}

}  // namespace weighlink::agent
