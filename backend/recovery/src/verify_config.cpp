#include "weighlink/recovery/verify_config.hpp"

#include <algorithm>
#include <cctype>

#include "yaml_load.hpp"

namespace weighlink::recovery {

std::string qualified_table(std::string_view name) {
  return name.find('.') == std::string_view::npos ? "public." + std::string(name)
                                                  : std::string(name);
}

base::Expected<VerifyChecks> parse_verify_checks(std::string_view yaml_text,
                                                 const std::string& source,
                                                 std::vector<SoftForeignKey> keys) {
  auto loaded = load_yaml(yaml_text, source);
  if (!loaded) return loaded.error();
  const YAML::Node root = *loaded;
  VerifyChecks checks;
  if (root.IsNull()) {
    checks.soft_keys = std::move(keys);
    return checks;
  }
  if (!root.IsMap()) {
    return base::invalid_argument(source +
                                  ": expected a map of min_bytes, row_counts, extensions and "
                                  "soft_foreign_keys (see docs/operations.md)");
  }
  std::string key;
  try {
    for (const auto& field : root) {
      key = field.first.as<std::string>();
      static const std::vector<std::string> known = {"min_bytes", "row_counts", "extensions",
                                                     "soft_foreign_keys"};
      if (std::find(known.begin(), known.end(), key) == known.end()) {
        return base::invalid_argument(source + ": unknown key `" + key +
                                      "` (min_bytes, row_counts, extensions, soft_foreign_keys)");
      }
    }
    key = "min_bytes";
    if (root[key]) {
      const auto n = root[key].as<std::int64_t>();
      if (n < 0) return base::invalid_argument(source + ": `min_bytes` must be 0 or more");
      checks.min_bytes = static_cast<std::uint64_t>(n);
    }
    key = "row_counts";
    if (const auto rc = root[key]) {
      if (!rc.IsMap()) {
        return base::invalid_argument(source + ": `row_counts` is a map of tables and tolerance");
      }
      for (const auto& field : rc) {
        const auto sub = field.first.as<std::string>();
        if (sub != "tables" && sub != "tolerance") {
          return base::invalid_argument(source + ": unknown key `row_counts." + sub +
                                        "` (tables, tolerance)");
        }
      }
      key = "row_counts.tables";
      if (rc["tables"]) {
        for (const auto& t : rc["tables"].as<std::vector<std::string>>()) {
          if (t.empty()) return base::invalid_argument(source + ": an empty table name in " + key);
          checks.row_count_tables.push_back(qualified_table(t));
        }
      }
      key = "row_counts.tolerance";
      if (rc["tolerance"]) {
        const auto tolerance = rc["tolerance"].as<double>();
        if (!(tolerance >= 0.0 && tolerance <= 1.0)) {
          return base::invalid_argument(source + ": `" + key +
                                        "` is a fraction from 0 to 1 (0.1 = 10 %)");
        }
        checks.row_tolerance = tolerance;
      }
    }
    key = "extensions";
    if (root[key]) {
      for (const auto& e : root[key].as<std::vector<std::string>>()) {
        const bool valid = !e.empty() && std::all_of(e.begin(), e.end(), [](unsigned char c) {
          return std::isalnum(c) != 0 || c == '_' || c == '-';
        });
        if (!valid) {
          return base::invalid_argument(source + ": extension \"" + e +
                                        "\" is not an extension name");
        }
        checks.extensions.push_back(e);
      }
    }
  } catch (const YAML::Exception& e) {
    return base::invalid_argument(source + ": `" + key + "`: " + e.msg + " (line " +
                                  std::to_string(e.mark.line + 1) + ")");
  }
  if (root["soft_foreign_keys"]) {
    if (auto applied = apply_soft_fk_allowlist(yaml_text, source, keys); !applied) {
      return applied.error();
    }
  }
  checks.soft_keys = std::move(keys);
  return checks;
}

}  // namespace weighlink::recovery
