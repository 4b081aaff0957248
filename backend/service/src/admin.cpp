// migrate, station add, rotate-token, set-key, set-unsigned-weighings, disable, records verify:
// one-shot commands on their own connection.
#include <boost/json.hpp>
#include <optional>
#include <ostream>
#include <span>
#include <string_view>
#include <vector>

#include "weighlink/base/hash.hpp"
#include "weighlink/pg/migrations.hpp"
#include "weighlink/record/evidence.hpp"
#include "weighlink/record/exact_json.hpp"
#include "weighlink/service/commands.hpp"
#include "weighlink/service/pg_store.hpp"
#include "weighlink/service/token.hpp"

namespace weighlink::service {
namespace {

// "weighlink-backend: <command>: <what failed>: <detail>; <what to do>"
int fail(const base::Console& console, std::string_view command, std::string_view what,
         const pg::PgConnection& db, const boost::system::error_code& error) {
  console.err << "weighlink-backend: " << command << ": " << what << ": ";
  if (error == pg::Errc::station_not_found) {
    console.err << "no such station; check --id\n";
  } else if (error == pg::Errc::connection_lost) {
    console.err << "cannot reach PostgreSQL (" << db.last_error()
                << "); check --dsn and that the server is running\n";
  } else if (error == pg::Errc::not_migrated) {
    console.err << "the database has no weighlink schema (or an older one); run "
                   "`weighlink-backend migrate --dsn ...` first\n";
  } else {
    console.err << error.message() << " (" << db.last_error() << ")\n";
  }
  return kExitFailure;
}

int bad_station_id(const base::Console& console, std::string_view command,
                   const std::string& station_id) {
  console.err << "weighlink-backend: " << command << ": invalid station id \"" << station_id
              << "\": use 1..64 characters of A-Z a-z 0-9 . _ -\n";
  return kExitUsage;
}

// The key in an agent's station key file (station add --key-file, station set-key); nullopt
// after saying why on stderr.
std::optional<std::vector<unsigned char>> read_key_file(const base::Console& console,
                                                        std::string_view command,
                                                        const std::string& path) {
  auto key = record::read_station_key(path);
  if (!key) {
    console.err << "weighlink-backend: " << command << ": " << key.error().message
                << "; pass the agent's key file (DATA_DIR/station.key or its station_key_file)\n";
    return std::nullopt;
  }
  return std::move(*key);
}

}  // namespace

bool valid_station_id(const std::string& station_id) noexcept {
  if (station_id.empty() || station_id.size() > 64) return false;
  for (char c : station_id) {
    const bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    c == '-' || c == '_' || c == '.';
    if (!ok) return false;
  }
  return true;
}

int run_migrate(const std::string& dsn, const base::Console& console) {
  pg::PgConnection db(dsn);
  auto applied = pg::migrate(db);
  if (!applied) return fail(console, "migrate", "migration failed", db, applied.error());
  auto status = pg::schema_status(db);
  const int version = status ? status->current_version : pg::latest_schema_version();
  if (applied->empty()) {
    console.out << "schema is up to date at version " << version << "\n";
  } else {
    for (int v : *applied) console.out << "applied migration " << v << "\n";
    console.out << "schema is now at version " << version << "\n";
  }
  return kExitOk;
}

int run_station_add(const std::string& dsn, const std::string& station_id,
                    const std::string& key_file, bool allow_unsigned_weighings,
                    const base::Console& console) {
  if (!valid_station_id(station_id)) return bad_station_id(console, "station add", station_id);
  std::vector<unsigned char> key;
  if (!key_file.empty()) {
    auto loaded = read_key_file(console, "station add", key_file);
    if (!loaded) return kExitUsage;
    key = std::move(*loaded);
  }
  const std::string token = generate_token();
  pg::PgConnection db(dsn);
  auto added = insert_station(db, station_id, sha256_hex(token), key, allow_unsigned_weighings);
  if (!added) {
    if (added.error() == pg::Errc::station_exists) {
      console.err << "weighlink-backend: station add: station \"" << station_id
                  << "\" already exists; choose another --id (or rotate its token later)\n";
      return kExitFailure;
    }
    return fail(console, "station add", "cannot create station \"" + station_id + "\"", db,
                added.error());
  }
  // Only the hash is stored: this is the one chance to copy the token.
  console.out << "created station " << station_id << "\n";
  if (!key.empty()) {
    console.out << "signatures are checked with the key from " << key_file << "\n";
  } else if (allow_unsigned_weighings) {
    console.out << "no signing key: its weighings are recorded unsigned (register the agent's key "
                   "with `station set-key` to check them)\n";
  } else {
    console.out
        << "no signing key: its weighings are refused (unsigned_weighing) until the agent's "
           "key is registered with `station set-key` (or `station set-unsigned-weighings "
           "--id "
        << station_id << " allow`)\n";
  }
  console.out << "token (shown once; put it in the agent's --station-token-file):\n"
              << token << std::endl;
  return kExitOk;
}

int run_station_rotate_token(const std::string& dsn, const std::string& station_id,
                             const base::Console& console) {
  constexpr std::string_view kCommand = "station rotate-token";
  if (!valid_station_id(station_id)) return bad_station_id(console, kCommand, station_id);
  const std::string token = generate_token();
  pg::PgConnection db(dsn);
  auto replaced = replace_station_token(db, station_id, sha256_hex(token));
  if (!replaced) {
    return fail(console, kCommand, "cannot rotate the token of station \"" + station_id + "\"", db,
                replaced.error());
  }
  console.out << "new token for station " << station_id
              << "; the old one is refused from now on. Write it to the agent's "
                 "--station-token-file: the agent reads the file again by itself.\n"
              << "token (shown once):\n"
              << token << std::endl;
  return kExitOk;
}

int run_station_disable(const std::string& dsn, const std::string& station_id,
                        const base::Console& console) {
  if (!valid_station_id(station_id)) return bad_station_id(console, "station disable", station_id);
  pg::PgConnection db(dsn);
  auto disabled = disable_station(db, station_id);
  if (!disabled) {
    return fail(console, "station disable", "cannot disable station \"" + station_id + "\"", db,
                disabled.error());
  }
  console.out << "disabled station " << station_id << "; its token is refused from now on\n";
  return kExitOk;
}

int run_station_set_unsigned_weighings(const std::string& dsn, const std::string& station_id,
                                       bool allow, const base::Console& console) {
  constexpr std::string_view kCommand = "station set-unsigned-weighings";
  if (!valid_station_id(station_id)) return bad_station_id(console, kCommand, station_id);
  pg::PgConnection db(dsn);
  if (auto set = set_unsigned_weighings(db, station_id, allow); !set) {
    return fail(console, kCommand, "cannot change station \"" + station_id + "\"", db, set.error());
  }
  if (allow) {
    console.out << "station " << station_id
                << ": weighings are recorded without a signing key (unsigned); once its key is "
                   "registered every mutation's signature is checked\n";
  } else {
    console.out << "station " << station_id
                << ": without a signing key its weighings are REJECTED unsigned_weighing from now "
                   "on\n";
  }
  return kExitOk;
}

int run_station_set_key(const std::string& dsn, const std::string& station_id,
                        const std::string& key_file, const base::Console& console) {
  constexpr std::string_view kCommand = "station set-key";
  if (!valid_station_id(station_id)) return bad_station_id(console, kCommand, station_id);
  const auto key = read_key_file(console, kCommand, key_file);
  if (!key) return kExitUsage;
  pg::PgConnection db(dsn);
  if (auto set = set_station_key(db, station_id, *key); !set) {
    return fail(console, kCommand, "cannot set the key of station \"" + station_id + "\"", db,
                set.error());
  }
  console.out << "station " << station_id << ": every new mutation's signature is checked with the "
              << "key from " << key_file << " from now on\n";
  return kExitOk;
}

namespace {

// The columns of one stored record (mutation_log joined to its station and seq - 1).
struct StoredRecord {
  std::uint64_t seq = 0;
  std::string idempotency_key;
  std::string kind;
  std::int64_t created_at_ms = 0;           // 0: none stored (the hash then covers 0 too)
  std::optional<std::string> payload_text;  // the exact bytes received; NULL before schema v5
  std::string payload_jsonb;                // payload::text, PostgreSQL's rendering
  std::string prev_hash;
  std::string record_hash;
  std::string signature;
  bool verified_on_arrival = false;
  std::optional<std::string> previous_hash;  // record_hash of seq - 1, when stored
};

// -0 and -0.0 are 0 and 0.0 in PostgreSQL's numeric (jsonb drops the sign of a zero): the same
// number. Any other difference of spelling (1.50 vs 1.5) is a different value here.
std::string zero_unsigned(std::string text) {
  if (!text.empty() && text.front() == '-' && text.find_first_not_of("-0.") == std::string::npos) {
    text.erase(0, 1);
  }
  return text;
}

// The same JSON value, numbers compared as their text (never as binary doubles), members in any
// order (jsonb sorts them).
bool same_json(const boost::json::value& a, const boost::json::value& b) {
  const auto a_number = record::number_text(a);
  const auto b_number = record::number_text(b);
  if (a_number || b_number) {
    return a_number && b_number && zero_unsigned(*a_number) == zero_unsigned(*b_number);
  }
  if (a.kind() != b.kind()) return false;
  if (const auto* array = a.if_array()) {
    const auto& other = b.get_array();
    if (array->size() != other.size()) return false;
    for (std::size_t i = 0; i < array->size(); ++i) {
      if (!same_json((*array)[i], other[i])) return false;
    }
    return true;
  }
  if (const auto* object = a.if_object()) {
    const auto& other = b.get_object();
    if (object->size() != other.size()) return false;
    for (const auto& member : *object) {
      const auto* match = other.if_contains(member.key());
      if (!match || !same_json(member.value(), *match)) return false;
    }
    return true;
  }
  return a == b;  // strings, booleans, null
}

// Whether record_hash is the hash of the stored content: true, false, or null with the reason it
// cannot be recomputed. Appends an "altered" problem when false.
boost::json::value recomputed_hash_check(const StoredRecord& r, std::string_view station_id,
                                         boost::json::array& problems, std::string& why_unknown) {
  if (!r.payload_text) {
    why_unknown =
        "the exact payload text is not stored (recorded before schema v5, withheld, or not "
        "JSON): the signature and chain link are checked, the hash cannot be recomputed";
    return nullptr;
  }
  if (r.record_hash.empty()) {
    why_unknown = "the record carries no record_hash (an unsigned agent)";
    return nullptr;
  }
  auto altered = [&](const std::string& message) {
    problems.push_back({{"code", record::to_string(record::EvidenceProblemCode::altered)},
                        {"seq", r.seq},
                        {"message", message}});
    return boost::json::value(false);
  };
  const auto recomputed = record::chain_hash(
      r.prev_hash, record::EvidenceFields{station_id, r.seq, r.idempotency_key, r.kind,
                                          r.created_at_ms, *r.payload_text});
  if (recomputed != r.record_hash) {
    return altered("the hash of the stored content (payload_text and the other columns) is " +
                   recomputed + ", not the stored record_hash");
  }
  const auto text = record::parse_exact(*r.payload_text);
  const auto stored = record::parse_exact(r.payload_jsonb);
  if (text.refusal || stored.refusal || !same_json(text.value, stored.value)) {
    return altered("payload (jsonb) does not say what payload_text, the signed text, says");
  }
  return true;
}

// What one stored record's columns say about it (pure).
boost::json::object stored_record_check(const StoredRecord& r, std::string_view station_id,
                                        std::span<const unsigned char> key) {
  boost::json::array problems;
  const bool signature_ok =
      !r.record_hash.empty() &&
      record::same_signature(record::sign_record(key, r.record_hash), r.signature);
  if (!signature_ok) {
    problems.push_back({{"code", "bad_signature"},
                        {"seq", r.seq},
                        {"message",
                         "the stored signature is not the station key's over the "
                         "stored record_hash"}});
  }
  std::optional<std::string> expected = r.previous_hash;
  if (r.seq == 1) expected = std::string(record::kGenesisHash);
  boost::json::value chain_ok = nullptr;  // unknown: seq - 1 is not stored
  if (expected) {
    chain_ok = *expected == r.prev_hash;
    if (*expected != r.prev_hash) {
      problems.push_back({{"code", "reordered"},
                          {"seq", r.seq},
                          {"message", "prev_hash is not the record_hash stored for seq " +
                                          std::to_string(r.seq - 1)}});
    }
  }
  std::string why_unknown;
  const auto hash_ok = recomputed_hash_check(r, station_id, problems, why_unknown);
  const bool ok = signature_ok && (!expected || *expected == r.prev_hash) && hash_ok != false;
  boost::json::object report{{"seq", r.seq},
                             {"ok", ok},
                             {"signature_ok", signature_ok},
                             {"chain_ok", chain_ok},
                             {"hash_ok", hash_ok},
                             {"hash_verified_on_arrival", r.verified_on_arrival},
                             {"prev_hash", r.prev_hash},
                             {"record_hash", r.record_hash},
                             {"problems", std::move(problems)}};
  if (hash_ok.is_null()) report["hash_unknown_reason"] = why_unknown;
  return report;
}

}  // namespace

int run_records_verify(const std::string& dsn, const std::string& station_id, std::uint64_t seq,
                       const base::Console& console) {
  constexpr std::string_view kCommand = "records verify";
  if (!valid_station_id(station_id)) return bad_station_id(console, kCommand, station_id);
  if (seq == 0) {
    console.err << "weighlink-backend: records verify: --seq must be 1 or more\n";
    return kExitUsage;
  }
  pg::PgConnection db(dsn);
  if (auto connected = db.ensure_connected(); !connected) {
    return fail(console, kCommand, "cannot verify", db, connected.error());
  }
  auto found = db.exec(
      "SELECT coalesce(m.prev_hash, ''), coalesce(m.record_hash, ''), coalesce(m.signature, ''), "
      "m.signature_verified, encode(s.signing_key, 'hex'), p.record_hash, m.kind, "
      "m.idempotency_key, m.payload_text, m.payload::text, "
      "coalesce((extract(epoch FROM m.created_at) * 1000)::bigint, 0) "
      "FROM mutation_log m JOIN stations s ON s.id = m.station_id "
      "LEFT JOIN mutation_log p ON p.station_id = m.station_id AND p.seq = m.seq - 1 "
      "WHERE m.station_id = $1 AND m.seq = $2",
      {station_id, std::to_string(seq)});
  if (!found) return fail(console, kCommand, "cannot read the record", db, found.error());
  if (found->rows() == 0) {
    console.err << "weighlink-backend: records verify: station \"" << station_id
                << "\" has no record with seq " << seq << " here\n";
    return kExitFailure;
  }
  if (found->is_null(0, 4)) {
    console.err << "weighlink-backend: records verify: station \"" << station_id
                << "\" has no registered key; register it with `weighlink-backend station "
                   "set-key`\n";
    return kExitFailure;
  }
  const auto key = base::from_hex(found->get(0, 4));
  StoredRecord stored;
  stored.seq = seq;
  stored.prev_hash = std::string(found->get(0, 0));
  stored.record_hash = std::string(found->get(0, 1));
  stored.signature = std::string(found->get(0, 2));
  stored.verified_on_arrival = found->get(0, 3) == "t";
  if (!found->is_null(0, 5)) stored.previous_hash = std::string(found->get(0, 5));
  stored.kind = std::string(found->get(0, 6));
  stored.idempotency_key = std::string(found->get(0, 7));
  if (!found->is_null(0, 8)) stored.payload_text = std::string(found->get(0, 8));
  stored.payload_jsonb = std::string(found->get(0, 9));
  stored.created_at_ms = pg::to_int<std::int64_t>(found->get(0, 10));
  auto report = stored_record_check(stored, station_id, key ? *key : std::vector<unsigned char>{});
  report["station_id"] = station_id;
  report["kind"] = stored.kind;
  report["idempotency_key"] = stored.idempotency_key;
  console.out << boost::json::serialize(report) << "\n";
  return report.at("ok").as_bool() ? kExitOk : 3;
}

}  // namespace weighlink::service
