#include "weighlink/recovery/backup_catalog.hpp"

#include <boost/json.hpp>
#include <set>

namespace weighlink::recovery {
namespace {

namespace json = boost::json;

constexpr std::string_view kDumpSuffix = ".dump";

std::optional<std::int64_t> as_int(const json::value* v) {
  if (v == nullptr) return std::nullopt;
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64() && v->get_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) {
    return static_cast<std::int64_t>(v->get_uint64());
  }
  return std::nullopt;
}

std::optional<std::string> as_string(const json::value* v) {
  if (v == nullptr || !v->is_string()) return std::nullopt;
  return std::string(v->get_string());
}

base::Expected<std::map<std::string, std::int64_t>> read_counts(const json::object& from,
                                                                std::string_view key) {
  const auto* v = from.if_contains(key);
  if (v == nullptr || !v->is_object()) {
    return base::invalid_argument("`" + std::string(key) + "` is missing or not an object");
  }
  std::map<std::string, std::int64_t> counts;
  for (const auto& [name, count] : v->get_object()) {
    const auto n = as_int(&count);
    if (!n || *n < 0) {
      return base::invalid_argument("`" + std::string(key) + "." + std::string(name) +
                                    "` is not a count");
    }
    counts[std::string(name)] = *n;
  }
  return counts;
}

}  // namespace

base::Expected<BackupManifest> parse_manifest(std::string_view text) {
  boost::system::error_code ec;
  const auto value = json::parse(text, ec);
  if (ec || !value.is_object()) {
    return base::invalid_argument("not a JSON object");
  }
  const auto& o = value.get_object();
  if (as_string(o.if_contains("format")) != std::string(kManifestFormat)) {
    return base::invalid_argument("`format` is not \"" + std::string(kManifestFormat) + "\"");
  }
  BackupManifest m;
  const auto dump = as_string(o.if_contains("dump"));
  const auto size = as_int(o.if_contains("size_bytes"));
  const auto sha = as_string(o.if_contains("sha256"));
  const auto created = as_string(o.if_contains("created_at"));
  if (!dump || dump_base(*dump).empty() || dump->find('/') != std::string::npos) {
    return base::invalid_argument("`dump` is missing or not a weighlink_*.dump file name");
  }
  if (!size || *size < 0) {
    return base::invalid_argument("`size_bytes` is missing or negative");
  }
  if (!sha || sha->size() != 64) {
    return base::invalid_argument("`sha256` is missing or not 64 hex digits");
  }
  const auto at = created ? parse_utc_timestamp(*created) : std::nullopt;
  if (!at) {
    return base::invalid_argument("`created_at` is missing or not YYYY-MM-DDTHH:MM:SSZ");
  }
  m.dump = *dump;
  m.size_bytes = static_cast<std::uint64_t>(*size);
  m.sha256 = *sha;
  m.created_at = *at;
  m.created_at_text = *created;
  m.server_version = as_string(o.if_contains("server_version")).value_or("");
  m.generation = as_string(o.if_contains("generation")).value_or("");
  auto row_counts = read_counts(o, "row_counts");
  if (!row_counts) return row_counts.error();
  m.row_counts = std::move(*row_counts);
  auto high_water = read_counts(o, "station_high_water");
  if (!high_water) return high_water.error();
  m.station_high_water = std::move(*high_water);
  if (const auto* evidence = o.if_contains("evidence_blobs")) {
    const auto* e = evidence->if_object();
    const auto count = e ? as_int(e->if_contains("count")) : std::nullopt;
    const auto checksum = e ? as_string(e->if_contains("checksum")) : std::nullopt;
    if (!count || *count < 0 || !checksum || checksum->size() != 64) {
      return base::invalid_argument(
          "`evidence_blobs` is not {\"count\": N, \"checksum\": 64 hex digits}");
    }
    m.evidence_blobs = *count;
    m.evidence_checksum = *checksum;
  }
  return m;
}

std::string dump_base(std::string_view dump_name) {
  if (dump_name.size() <= kDumpSuffix.size() || !dump_name.ends_with(kDumpSuffix)) return {};
  return std::string(dump_name.substr(0, dump_name.size() - kDumpSuffix.size()));
}

std::string manifest_name(std::string_view dump_name) {
  return dump_base(dump_name) + ".manifest.json";
}

std::string verified_name(std::string_view dump_name) {
  // Any other pg_dump file (verify-backup without a manifest): its whole name.
  const auto base = dump_base(dump_name);
  return (base.empty() ? std::string(dump_name) : base) + ".verified.json";
}

std::string to_json(const VerifiedLatest& p) {
  return json::serialize(json::object{{"dump", p.dump},
                                      {"sha256", p.sha256},
                                      {"created_at", format_utc_timestamp(p.created_at)},
                                      {"verified_at", format_utc_timestamp(p.verified_at)}}) +
         "\n";
}

std::optional<VerifiedLatest> parse_verified_latest(std::string_view text) {
  boost::system::error_code ec;
  const auto value = json::parse(text, ec);
  if (ec || !value.is_object()) return std::nullopt;
  const auto& o = value.get_object();
  const auto dump = as_string(o.if_contains("dump"));
  const auto sha = as_string(o.if_contains("sha256"));
  const auto created = as_string(o.if_contains("created_at"));
  const auto verified = as_string(o.if_contains("verified_at"));
  if (!dump || dump->empty() || dump->find('/') != std::string::npos || !sha || !created ||
      !verified) {
    return std::nullopt;
  }
  const auto c = parse_utc_timestamp(*created);
  const auto v = parse_utc_timestamp(*verified);
  if (!c || !v) return std::nullopt;
  return VerifiedLatest{*dump, *sha, *c, *v};
}

Catalog read_catalog(Store& store, const std::vector<StoreEntry>& entries) {
  Catalog c;
  std::set<std::string> verified;
  for (const auto& e : entries) {
    c.sizes[e.name] = e.size;
    constexpr std::string_view kVerified = ".verified.json";
    if (e.name.ends_with(kVerified)) {
      verified.insert(e.name.substr(0, e.name.size() - kVerified.size()) + ".dump");
    }
  }
  for (const auto& e : entries) {
    if (e.name.ends_with(".manifest.json")) {
      auto text = store.read_small(e.name);
      if (!text) {
        c.notes.push_back("cannot read " + e.name + ": " + text.error().message);
        continue;
      }
      auto m = parse_manifest(*text);
      if (!m) {
        c.notes.push_back(e.name + " is not a weighlink manifest (" + m.error().message +
                          "): ignored");
        continue;
      }
      c.records.push_back({m->dump, m->created_at, m->size_bytes, verified.contains(m->dump)});
      c.manifests[m->dump] = std::move(*m);
    } else if (e.name == kVerifiedLatest) {
      if (auto text = store.read_small(e.name)) {
        c.latest = parse_verified_latest(*text);
        if (!c.latest) c.notes.emplace_back("verified-latest is not readable: ignored");
      }
    }
  }
  return c;
}

OffsiteResult<VerifiedLatestAt> find_verified_latest(const std::vector<Location>& locations) {
  auto reachable = open_first_reachable(locations);
  if (!reachable) return reachable.error();
  VerifiedLatestAt found{std::move(*reachable), std::nullopt, {}};
  auto text = found.reachable.store->read_small(std::string(kVerifiedLatest));
  if (!text) {
    found.why = text.error().message;
  } else if (found.pointer = parse_verified_latest(*text); !found.pointer) {
    found.why = "it cannot be read as a pointer";
  }
  return found;
}

}  // namespace weighlink::recovery
