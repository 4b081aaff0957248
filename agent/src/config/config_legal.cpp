#include "config/config_legal.hpp"

#include <yaml-cpp/yaml.h>

#include <stdexcept>
#include <string>

#include "config/config_checks.hpp"

namespace weighlink::agent {

namespace {

using config_checks::fail;

}  // namespace

void load_legal(const YAML::Node& root, const std::filesystem::path& file, LegalConfig& out) {
  const auto scales = root["scales"];
  if (!scales || !scales.IsSequence()) return;
  for (std::size_t i = 0; i < scales.size(); ++i) {
    const auto s = scales[i];
    const std::string where = "scales[" + std::to_string(i) + "].";
    const auto id = s["id"] ? s["id"].as<std::string>() : std::string("main");
    ZeroReturnConfig zero;
    if (auto n = s["zero_return"]) {
      try {
        zero.enabled = n.as<bool>();
      } catch (const YAML::Exception&) {
        fail(file, where + "zero_return", "expected true or false");
      }
    }
    if (auto n = s["zero_band"]) {
      const auto& text = n.Scalar();
      const auto d = scale::Decimal::parse(text);
      if (!n.IsScalar() || !d) {
        fail(file, where + "zero_band",
             "'" + text + "' is not a decimal weight such as 20 or 0.02 (in the scale's unit)");
      }
      if (d->units < 0) fail(file, where + "zero_band", "must not be negative");
      zero.band = *d;
    }
    out.zero_return[id] = zero;
  }
}

}  // namespace weighlink::agent
