#include "config/config_station.hpp"

#include <yaml-cpp/yaml.h>

#include <set>
#include <stdexcept>

#include "config/config_checks.hpp"

namespace weighlink::agent {
namespace {

using config_checks::fail;
using config_checks::text;

bool valid_id(const std::string& id) {
  if (id.empty() || id.size() > 32) return false;
  for (char c : id) {
    if (!((c >= 'a' && c <= 'z') || c == '_')) return false;
  }
  return true;
}

ReferenceField load_field(const YAML::Node& n, const std::filesystem::path& file,
                          const std::string& where) {
  if (!n.IsMap()) fail(file, where, "expected a mapping with id, label, type");
  config_checks::check_keys(n, {"id", "label", "type", "required", "choices", "max_length"}, file,
                            where + ".");
  ReferenceField f;
  if (!n["id"]) fail(file, where + ".id", "missing (e.g. customer)");
  f.id = text(n["id"], file, where + ".id");
  if (!valid_id(f.id) || f.id == "plate") {
    fail(file, where + ".id",
         "'" + f.id + "': 1 to 32 of a-z and '_' (and not plate, which every weighing has)");
  }
  if (const auto label = n["label"]) {
    if (label.IsScalar()) {
      f.label["en"] = label.as<std::string>();
    } else if (label.IsMap()) {
      config_checks::check_keys(label, {"en", "sw"}, file, where + ".label.");
      for (const auto& kv : label) {
        const auto lang = kv.first.as<std::string>();
        f.label[lang] = text(kv.second, file, where + ".label." + lang);
      }
    } else {
      fail(file, where + ".label", "expected a string or {en: ..., sw: ...}");
    }
  }
  if (!f.label.contains("en")) f.label["en"] = f.id;
  if (!f.label.contains("sw")) f.label["sw"] = f.label["en"];
  if (const auto type = n["type"]) f.type = text(type, file, where + ".type");
  if (f.type != "text" && f.type != "number" && f.type != "choice") {
    fail(file, where + ".type", "'" + f.type + "': expected text, number or choice");
  }
  if (const auto required = n["required"]) {
    try {
      f.required = required.as<bool>();
    } catch (const YAML::Exception&) {
      fail(file, where + ".required", "expected true or false");
    }
  }
  if (const auto choices = n["choices"]) {
    if (!choices.IsSequence()) fail(file, where + ".choices", "expected a list of strings");
    for (std::size_t i = 0; i < choices.size(); ++i) {
      f.choices.push_back(text(choices[i], file, where + ".choices[" + std::to_string(i) + "]"));
    }
  }
  if (f.type == "choice" && f.choices.empty()) {
    fail(file, where + ".choices", "a choice field needs its choices (e.g. [in, out])");
  }
  if (f.type != "choice" && !f.choices.empty()) {
    fail(file, where + ".choices", "only a field of type choice has choices");
  }
  if (const auto max = n["max_length"]) {
    int v = 0;
    try {
      v = max.as<int>();
    } catch (const YAML::Exception&) {
      fail(file, where + ".max_length", "expected a number of characters");
    }
    if (v < 1 || v > 200) fail(file, where + ".max_length", "expected 1..200");
    f.max_length = static_cast<std::size_t>(v);
  }
  return f;
}

}  // namespace

void load_station(const YAML::Node& node, const std::filesystem::path& file, StationConfig& out) {
  if (!node.IsMap()) fail(file, "station", "expected a mapping (language, reference_fields, ...)");
  config_checks::check_keys(node, {"language", "reference_fields", "tare_max_age_days"}, file,
                            "station.");
  if (const auto n = node["language"]) {
    out.language = text(n, file, "station.language");
    if (out.language != "en" && out.language != "sw") {
      fail(file, "station.language", "'" + out.language + "': expected en or sw");
    }
  }
  if (const auto n = node["tare_max_age_days"]) {
    int v = -1;
    try {
      v = n.as<int>();
    } catch (const YAML::Exception&) {
    }
    if (v < 0 || v > 3650) {
      fail(file, "station.tare_max_age_days", "expected 0..3650 days (0: no limit)");
    }
    out.tare_max_age_days = v;
  }
  if (const auto n = node["reference_fields"]) {
    if (!n.IsSequence()) fail(file, "station.reference_fields", "expected a list of fields");
    out.reference_fields.clear();
    std::set<std::string> seen;
    for (std::size_t i = 0; i < n.size(); ++i) {
      const auto where = "station.reference_fields[" + std::to_string(i) + "]";
      auto f = load_field(n[i], file, where);
      if (!seen.insert(f.id).second) fail(file, where + ".id", "'" + f.id + "' is listed twice");
      out.reference_fields.push_back(std::move(f));
    }
  }
}

}  // namespace weighlink::agent
