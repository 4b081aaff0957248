#include "weighlink/recovery/dump_folder.hpp"

#include <chrono>

#include "weighlink/recovery/backup_catalog.hpp"

namespace weighlink::recovery {

std::vector<DumpRecord> pattern_dumps(const std::vector<StoreEntry>& entries,
                                      const DumpNamePattern& pattern, NewestBy by,
                                      const std::set<std::string>& skip) {
  std::set<std::string> names;
  for (const auto& e : entries) names.insert(e.name);
  std::vector<DumpRecord> dumps;
  for (const auto& e : entries) {
    if (skip.contains(e.name)) continue;
    const auto at = pattern.match(e.name);
    if (!at) continue;
    const auto created =
        by == NewestBy::name
            ? *at
            : std::chrono::duration_cast<std::chrono::seconds>(e.mod_time.time_since_epoch())
                  .count();
    dumps.push_back({e.name, created, e.size, names.contains(verified_name(e.name))});
  }
  return dumps;
}

std::optional<PatternDump> newest_pattern_dump(const std::vector<StoreEntry>& entries,
                                               const std::vector<DumpNamePattern>& patterns,
                                               NewestBy by, const std::set<std::string>& skip) {
  std::optional<PatternDump> best;
  for (std::size_t i = 0; i < patterns.size(); ++i) {
    const auto newest = newest_dump(pattern_dumps(entries, patterns[i], by, skip));
    if (!newest) continue;
    if (!best || newest->created_at > best->record.created_at ||
        (newest->created_at == best->record.created_at && newest->name > best->record.name)) {
      best = PatternDump{*newest, i};
    }
  }
  return best;
}

std::optional<std::size_t> pattern_of(std::string_view name,
                                      const std::vector<DumpNamePattern>& patterns) {
  for (std::size_t i = 0; i < patterns.size(); ++i) {
    if (patterns[i].match(name)) return i;
  }
  return std::nullopt;
}

std::set<std::string> weighlink_backup_names(const Catalog& catalog,
                                             const std::vector<StoreEntry>& entries) {
  std::set<std::string> names;
  for (const auto& [name, manifest] : catalog.manifests) names.insert(name);
  if (catalog.manifests.empty()) return names;
  const auto own = DumpNamePattern::parse(kDefaultDumpPatterns[1]);
  for (const auto& e : entries) {
    if (own && own->match(e.name)) names.insert(e.name);
  }
  return names;
}

std::string sidecar_name(std::string_view dump_name) { return std::string(dump_name) + ".sha256"; }

base::Expected<std::string> parse_sha256_sidecar(std::string_view text,
                                                 std::string_view dump_name) {
  const auto first_line = text.substr(0, text.find('\n'));
  const auto bad = [&](const std::string& why) {
    return base::invalid_argument(sidecar_name(dump_name) + " " + why +
                                  " (expected `sha256sum` output: \"<64 hex digits>  " +
                                  std::string(dump_name) + "\")");
  };
  if (first_line.size() < 64) return bad("holds no sha256 digest");
  std::string digest;
  for (const char c : first_line.substr(0, 64)) {
    const bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    if (!hex) return bad("holds no sha256 digest");
    digest += static_cast<char>(c >= 'A' && c <= 'F' ? c - 'A' + 'a' : c);
  }
  auto rest = first_line.substr(64);
  while (!rest.empty() && (rest.back() == '\r' || rest.back() == ' ')) rest.remove_suffix(1);
  if (rest.empty()) return digest;
  if (rest.front() != ' ' && rest.front() != '\t') return bad("holds no sha256 digest");
  while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\t')) rest.remove_prefix(1);
  if (!rest.empty() && rest.front() == '*') rest.remove_prefix(1);
  // sha256sum writes the path it was given: compare the file name.
  if (const auto slash = rest.rfind('/'); slash != std::string_view::npos) {
    rest = rest.substr(slash + 1);
  }
  if (rest != dump_name) {
    return bad("is the digest of \"" + std::string(rest) + "\", not of " + std::string(dump_name));
  }
  return digest;
}

}  // namespace weighlink::recovery
