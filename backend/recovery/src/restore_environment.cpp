#include "weighlink/recovery/restore_environment.hpp"

#include <utility>

namespace weighlink::recovery {

std::optional<int> postgres_major(std::string_view version) {
  int major = 0;
  std::size_t i = 0;
  for (; i < version.size() && version[i] >= '0' && version[i] <= '9' && i < 4; ++i) {
    major = major * 10 + (version[i] - '0');
  }
  if (i == 0) return std::nullopt;
  return major;
}

std::string extension_install_hint(std::string_view extension, int major) {
  const std::string m = std::to_string(major);
  // Debian's (and apt.postgresql.org's) package of each extension; %M is the major.
  static constexpr std::pair<std::string_view, std::string_view> kPackages[] = {
      {"postgis", "postgresql-%M-postgis-3"},
      {"postgis_raster", "postgresql-%M-postgis-3"},
      {"postgis_topology", "postgresql-%M-postgis-3"},
      {"postgis_sfcgal", "postgresql-%M-postgis-3"},
      {"postgis_tiger_geocoder", "postgresql-%M-postgis-3"},
      {"address_standardizer", "postgresql-%M-postgis-3"},
      {"pgrouting", "postgresql-%M-pgrouting"},
      {"vector", "postgresql-%M-pgvector"},
      {"timescaledb", "timescaledb-2-postgresql-%M (from Timescale's apt repository)"},
      {"pg_cron", "postgresql-%M-cron"},
      {"pg_partman", "postgresql-%M-partman"},
      {"pgaudit", "postgresql-%M-pgaudit"},
      {"pg_repack", "postgresql-%M-repack"},
      {"hypopg", "postgresql-%M-hypopg"},
      {"orafce", "postgresql-%M-orafce"},
      {"h3", "postgresql-%M-h3"},
      {"ip4r", "postgresql-%M-ip4r"},
      {"semver", "postgresql-%M-semver"},
      {"pg_hint_plan", "postgresql-%M-pg-hint-plan"},
      {"plpython3u", "postgresql-plpython3-%M"},
      {"plperl", "postgresql-plperl-%M"},
      {"plperlu", "postgresql-plperl-%M"},
      {"pltcl", "postgresql-pltcl-%M"},
  };
  for (const auto& [name, package] : kPackages) {
    if (name != extension) continue;
    std::string p(package);
    p.replace(p.find("%M"), 2, m);
    return "install " + p + " (apt-get install " + p.substr(0, p.find(' ')) +
           ") where verify-backup runs";
  }
  return "install the package that provides " + std::string(extension) + ".control in /usr/share/" +
         "postgresql/" + m + "/extension (apt-cache search " + std::string(extension) +
         ") where verify-backup runs, or list it in --checks only if the dump does not need it";
}

std::optional<std::string> missing_extension(std::string_view errors) {
  constexpr std::string_view kControl = "could not open extension control file \"";
  if (const auto at = errors.find(kControl); at != std::string_view::npos) {
    const auto start = at + kControl.size();
    const auto end = errors.find(".control\"", start);
    if (end != std::string_view::npos) {
      const auto path = errors.substr(start, end - start);
      const auto slash = path.rfind('/');
      return std::string(slash == std::string_view::npos ? path : path.substr(slash + 1));
    }
  }
  constexpr std::string_view kNotAvailable = "extension \"";
  for (auto at = errors.find(kNotAvailable); at != std::string_view::npos;
       at = errors.find(kNotAvailable, at + 1)) {
    const auto start = at + kNotAvailable.size();
    const auto end = errors.find('"', start);
    if (end == std::string_view::npos) break;
    if (errors.substr(end).starts_with("\" is not available")) {
      return std::string(errors.substr(start, end - start));
    }
  }
  return std::nullopt;
}

}  // namespace weighlink::recovery
