// weighlink-agent outbox ... and verify-evidence (tools.hpp).
#include "weighlink/agent/tools.hpp"

#include <boost/json.hpp>
#include <charconv>
#include <chrono>
#include <fstream>
#include <iomanip>

#include "records/record_json.hpp"
#include "weighlink/agent/agent.hpp"
#include "weighlink/agent/records.hpp"
#include "weighlink/record/evidence.hpp"
#include "weighlink/record/exact_json.hpp"
#include "weighlink/record/mutation_rules.hpp"
#include "weighlink/scale/reading.hpp"
#include "weighlink/sync/evidence_check.hpp"
#include "weighlink/sync/outbox.hpp"

namespace weighlink::agent {
namespace {

namespace json = boost::json;

constexpr int kOk = 0;
constexpr int kFailed = 1;
constexpr int kUsage = 2;
constexpr int kBroken = 3;

std::unique_ptr<sync::Outbox> open_existing(const AgentConfig& config, std::ostream& err) {
  sync::OutboxOptions options;
  options.create_if_missing = false;
  options.check_integrity = false;
  options.station_id = config.station_id;
  options.max_rows = config.outbox_max_rows;
  apply_evidence_options(config.evidence, options);
  // Only needed if the file must be upgraded from an older schema (its rows are signed then).
  if (auto key = record::read_station_key(station_key_path(config).string())) {
    options.signing_key = std::move(*key);
  }
  auto opened = sync::Outbox::open(outbox_path(config), options);
  if (!opened) {
    err << "weighlink-agent: " << opened.error().message << "\n";
    return nullptr;
  }
  return std::move(*opened);
}

std::string format_ms(std::int64_t ms) {
  return scale::format_timestamp(
      std::chrono::system_clock::time_point(std::chrono::milliseconds(ms)));
}

// A stored payload as JSON, its numbers as they were written (sync/exact_json.hpp); a payload
// an older agent stored that the exact reader refuses is shown as Boost.JSON reads it, and text
// that is no JSON at all as a string.
json::value parse_or_text(const std::string& text) {
  if (auto exact = record::parse_exact(text); !exact.refusal) return std::move(exact.value);
  boost::system::error_code ec;
  auto v = json::parse(text, ec);
  return ec ? json::value(text) : v;
}

json::object row_json(const sync::OutboxRow& r, bool with_evidence) {
  json::object o{{"seq", r.seq},
                 {"idempotency_key", r.idempotency_key},
                 {"kind", r.kind},
                 {"state", sync::to_string(r.state)},
                 {"created_at", format_ms(r.created_at_ms)},
                 {"attempts", r.attempts},
                 {"last_error", r.last_error},
                 {"outcome", r.outcome}};
  if (r.acknowledged_at_ms) o["acknowledged_at"] = format_ms(r.acknowledged_at_ms);
  if (r.state == sync::MutationState::discarded) {
    o["discard_reason"] = r.discard_reason;
    o["discarded_at"] = format_ms(r.discarded_at_ms);
  }
  o["payload"] = parse_or_text(r.payload_json);
  if (with_evidence) {
    o["evidence"] = json::object{
        {"prev_hash", r.prev_hash}, {"hash", r.record_hash}, {"signature", r.signature}};
  }
  return o;
}

// "42" -> seq 42; anything else is an idempotency key.
std::optional<sync::OutboxRow> find_row(sync::Outbox& outbox, const std::string& target) {
  if (auto row = outbox.find(target)) return row;
  std::uint64_t seq = 0;
  const auto* end = target.data() + target.size();
  if (auto [p, ec] = std::from_chars(target.data(), end, seq);
      ec == std::errc() && p == end && seq > 0) {
    auto rows = outbox.list(std::nullopt, seq - 1, 1);
    if (!rows.empty() && rows.front().seq == seq) return rows.front();
  }
  return std::nullopt;
}

int list(sync::Outbox& outbox, const OutboxCommand& c, std::ostream& out, std::ostream& err) {
  std::optional<sync::MutationState> state;
  if (c.state) {
    state = sync::parse_state(*c.state);
    if (!state) {
      err << "weighlink-agent outbox list: --state must be pending, acknowledged, dead or "
             "discarded\n";
      return kUsage;
    }
  }
  const auto rows = outbox.list(state, c.after, c.limit);
  if (c.json) {
    for (const auto& r : rows) out << record::serialize_exact(row_json(r, false)) << "\n";
    return kOk;
  }
  out << std::left << std::setw(8) << "SEQ" << std::setw(13) << "STATE" << std::setw(20) << "KIND"
      << std::setw(26) << "CREATED" << std::setw(9) << "ATTEMPTS"
      << "KEY / LAST ERROR\n";
  for (const auto& r : rows) {
    out << std::left << std::setw(8) << r.seq << std::setw(13) << sync::to_string(r.state)
        << std::setw(20) << r.kind << std::setw(26) << format_ms(r.created_at_ms) << std::setw(9)
        << r.attempts << r.idempotency_key;
    if (!r.last_error.empty()) out << "  (" << r.last_error << ")";
    out << "\n";
  }
  const auto st = outbox.stats();
  out << rows.size() << " shown; outbox: " << st.pending << " pending, " << st.acknowledged
      << " acknowledged, " << st.dead << " dead, " << st.discarded << " discarded, last seq "
      << st.last_seq << "\n";
  return kOk;
}

int show(sync::Outbox& outbox, const OutboxCommand& c, std::ostream& out, std::ostream& err) {
  int rc = kOk;
  for (const auto& target : c.targets) {
    if (auto row = find_row(outbox, target)) {
      out << record::serialize_exact(row_json(*row, true)) << "\n";
    } else {
      err << "weighlink-agent outbox show: no mutation with key or seq '" << target << "'\n";
      rc = kFailed;
    }
  }
  return rc;
}

int retry(sync::Outbox& outbox, const OutboxCommand& c, std::ostream& out, std::ostream& err) {
  std::vector<std::string> keys;
  if (c.all_dead) {
    for (const auto& r : outbox.list(sync::MutationState::dead, 0, 1'000'000)) {
      keys.push_back(r.idempotency_key);
    }
    if (keys.empty()) out << "no dead mutations\n";
  }
  int rc = kOk;
  for (const auto& target : c.targets) {
    const auto row = find_row(outbox, target);
    if (!row) {
      err << "weighlink-agent outbox retry: no mutation with key or seq '" << target << "'\n";
      rc = kFailed;
    } else if (row->state != sync::MutationState::dead) {
      err << "weighlink-agent outbox retry: mutation " << row->idempotency_key << " is "
          << sync::to_string(row->state) << ", not dead: nothing to retry\n";
      rc = kFailed;
    } else {
      keys.push_back(row->idempotency_key);
    }
  }
  for (const auto& key : keys) {
    auto r = outbox.retry_dead(key);
    if (!r) {
      err << "weighlink-agent outbox retry: " << key << ": " << r.error().message() << "\n";
      rc = kFailed;
    } else if (*r) {
      out << "released " << key << " for another delivery attempt\n";
    }
  }
  if (!keys.empty()) {
    out << "a running agent sends released mutations at its next sync (within "
           "hello_interval_ms)\n";
  }
  return rc;
}

// Ends dead letters for good: kept with the reason, exported, never sent again.
int discard(sync::Outbox& outbox, const OutboxCommand& c, std::ostream& out, std::ostream& err) {
  int rc = kOk;
  const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  for (const auto& target : c.targets) {
    const auto row = find_row(outbox, target);
    if (!row) {
      err << "weighlink-agent outbox discard: no mutation with key or seq '" << target << "'\n";
      rc = kFailed;
      continue;
    }
    if (row->state != sync::MutationState::dead) {
      err << "weighlink-agent outbox discard: mutation " << row->idempotency_key << " is "
          << sync::to_string(row->state) << ", not dead: only a dead letter can be discarded\n";
      rc = kFailed;
      continue;
    }
    auto r = outbox.discard_dead(row->idempotency_key, c.reason, now);
    if (!r) {
      err << "weighlink-agent outbox discard: " << row->idempotency_key << ": "
          << r.error().message() << "\n";
      rc = kFailed;
    } else if (*r) {
      out << "discarded " << row->idempotency_key << " (seq " << row->seq
          << "): kept with its reason, never sent again\n";
    }
  }
  return rc;
}

json::object point_json(std::uint64_t seq, const std::string& hash, const std::string& sig) {
  return json::object{{"seq", seq}, {"hash", hash}, {"signature", sig}};
}

int export_rows(sync::Outbox& outbox, const AgentConfig& config, const OutboxCommand& c,
                std::ostream& out, std::ostream& err) {
  std::ofstream file;
  std::ostream* sink = &out;
  const std::string partial = c.out_file + ".partial";
  if (!c.out_file.empty()) {
    file.open(partial, std::ios::binary | std::ios::trunc);
    if (!file) {
      err << "weighlink-agent outbox export: cannot write " << partial << "\n";
      return kFailed;
    }
    sink = &file;
  }
  // Rows first (one snapshot), then the header and the rows in order.
  std::vector<std::string> lines;
  std::uint64_t count = 0;
  sync::Outbox::Chain chain_point;
  auto chain = outbox.scan(
      [&](const sync::Outbox::Chain& c) { chain_point = c; },
      [&](const sync::OutboxRow& r) {
        json::object o{{"type", "record"},
                       {"seq", r.seq},
                       {"idempotency_key", r.idempotency_key},
                       {"kind", r.kind},
                       {"created_at_ms", r.created_at_ms},
                       {"payload_json", r.payload_json},  // the exact bytes the chain covers
                       {"prev_hash", r.prev_hash},
                       {"hash", r.record_hash},
                       {"signature", r.signature},
                       {"state", sync::to_string(r.state)},
                       {"attempts", r.attempts},
                       {"outcome", r.outcome},
                       {"last_error", r.last_error}};
        if (r.state == sync::MutationState::discarded) {
          o["discard_reason"] = r.discard_reason;
          o["discarded_at_ms"] = r.discarded_at_ms;
        }
        lines.push_back(json::serialize(o));
        ++count;
        return true;
      });
  if (!chain) {
    err << "weighlink-agent outbox export: cannot read the outbox: " << chain.error().message()
        << "\n";
    return kFailed;
  }
  json::object header{
      {"type", "weighlink-outbox-export"},
      {"version", 1},
      {"station_id", config.station_id},
      {"exported_at", format_ms(std::chrono::duration_cast<std::chrono::milliseconds>(
                                    std::chrono::system_clock::now().time_since_epoch())
                                    .count())},
      {"records", count},
      {"anchor",
       point_json(chain_point.anchor_seq, chain_point.anchor_hash, chain_point.anchor_signature)}};
  if (chain_point.head_seq) {
    header["head"] =
        point_json(*chain_point.head_seq, chain_point.head_hash, chain_point.head_signature);
  }
  *sink << json::serialize(header) << "\n";
  for (const auto& line : lines) *sink << line << "\n";
  sink->flush();
  if (!c.out_file.empty()) {
    file.close();
    if (!file) {
      err << "weighlink-agent outbox export: writing " << partial << " failed\n";
      return kFailed;
    }
    std::error_code ec;
    std::filesystem::rename(partial, c.out_file, ec);
    if (ec) {
      err << "weighlink-agent outbox export: cannot rename " << partial << ": " << ec.message()
          << "\n";
      return kFailed;
    }
    err << "exported " << count << " records to " << c.out_file << "\n";
  }
  return kOk;
}

int report(const record::EvidenceReport& r, const std::string& source, std::uint64_t anchor_seq,
           std::optional<std::uint64_t> head_seq, bool as_json, std::ostream& out) {
  if (as_json) {
    json::array problems;
    for (const auto& p : r.problems) {
      problems.push_back(json::object{
          {"code", record::to_string(p.code)}, {"seq", p.seq}, {"message", p.message}});
    }
    json::object o{{"ok", r.ok()},
                   {"source", source},
                   {"records", r.records},
                   {"first_seq", r.first_seq},
                   {"last_seq", r.last_seq},
                   {"anchor_seq", anchor_seq},
                   {"problems", std::move(problems)}};
    o["head_seq"] = head_seq ? json::value(*head_seq) : json::value(nullptr);
    out << json::serialize(o) << "\n";
  } else if (r.ok()) {
    out << "evidence intact: " << r.records << " records";
    if (r.records) out << " (seq " << r.first_seq << " to " << r.last_seq << ")";
    out << " in " << source << ", chained from seq " << anchor_seq << ", signed head matches\n";
  } else {
    out << "EVIDENCE BROKEN in " << source << ": " << r.problems.size() << " problem(s)\n";
    for (const auto& p : r.problems) {
      out << "  seq " << p.seq << ": " << record::to_string(p.code) << ": " << p.message << "\n";
    }
  }
  return r.ok() ? kOk : kBroken;
}

}  // namespace

int run_outbox_command(const AgentConfig& config, const OutboxCommand& command, std::ostream& out,
                       std::ostream& err) {
  if ((command.action == "show" && command.targets.empty()) ||
      (command.action == "retry" && command.targets.empty() && !command.all_dead)) {
    err << "weighlink-agent outbox " << command.action
        << ": name at least one idempotency key or seq"
        << (command.action == "retry" ? " (or --all-dead)" : "") << "\n";
    return kUsage;
  }
  if (command.action == "discard") {
    if (command.targets.empty() || command.reason.empty()) {
      err << "weighlink-agent outbox discard: name at least one idempotency key or seq, and say "
             "why with --reason TEXT\n";
      return kUsage;
    }
    if (auto bad = record::check_short_text("--reason", command.reason)) {
      err << "weighlink-agent outbox discard: " << bad->message << "\n";
      return kUsage;
    }
  }
  auto outbox = open_existing(config, err);
  if (!outbox) return kFailed;
  if (command.action == "discard") return discard(*outbox, command, out, err);
  if (command.action == "list") return list(*outbox, command, out, err);
  if (command.action == "show") return show(*outbox, command, out, err);
  if (command.action == "retry") return retry(*outbox, command, out, err);
  if (command.action == "export") return export_rows(*outbox, config, command, out, err);
  err << "weighlink-agent outbox: unknown action '" << command.action << "'\n";
  return kUsage;
}

int run_verify_evidence(const AgentConfig& config, const VerifyEvidenceCommand& command,
                        std::ostream& out, std::ostream& err) {
  const auto key_path = station_key_path(config);
  const auto key = record::read_station_key(key_path.string());
  if (!key) {
    err << "weighlink-agent verify-evidence: " << key.error().message
        << " (the key the agent signs with: station_key_file, or <data_dir>/station.key)\n";
    return kFailed;
  }
  if (!command.export_file.empty()) {
    std::ifstream in(command.export_file, std::ios::binary);
    if (!in) {
      err << "weighlink-agent verify-evidence: cannot read " << command.export_file << "\n";
      return kFailed;
    }
    try {
      const auto check = record::verify_export(in, *key);
      return report(check.report, command.export_file + " (station " + check.station_id + ")",
                    check.anchor.seq, check.head ? std::optional(check.head->seq) : std::nullopt,
                    command.json, out);
    } catch (const std::exception& e) {
      err << "weighlink-agent verify-evidence: " << command.export_file << ": " << e.what() << "\n";
      return kFailed;
    }
  }
  auto outbox = open_existing(config, err);
  if (!outbox) return kFailed;
  // The whole evidence held: the archive's records (pruned from the replay set), then the outbox's,
  // and the files (camera images) they list as attachments.
  const sync::BlobStore blobs(config.data_dir / "blobs");
  const auto check = sync::verify_evidence(*outbox, config.station_id, *key, 100, &blobs);
  if (!check) {
    err << "weighlink-agent verify-evidence: cannot read the outbox: " << check.error().message()
        << "\n";
    return kFailed;
  }
  return report(check->report, outbox_path(config).string(), check->chain.archive_anchor_seq,
                check->chain.head_seq, command.json, out);
}

int run_records_command(const AgentConfig& config, const RecordsCommand& command, std::ostream& out,
                        std::ostream& err) {
  if (command.from == 0 || command.to < command.from) {
    err << "weighlink-agent records: give --from N and --to M with 1 <= N <= M (seqs)\n";
    return kUsage;
  }
  std::vector<unsigned char> key;
  if (command.verify) {
    auto read = record::read_station_key(station_key_path(config).string());
    if (!read) {
      err << "weighlink-agent records --verify: " << read.error().message
          << " (the key the agent signs with: station_key_file, or <data_dir>/station.key)\n";
      return kFailed;
    }
    key = std::move(*read);
  }
  auto outbox = open_existing(config, err);
  if (!outbox) return kFailed;
  constexpr std::size_t kMaxRecords = 100'000;
  const sync::BlobStore blobs(config.data_dir / "blobs");
  const auto rows = outbox->records(command.from, command.to, kMaxRecords);
  for (const auto& r : rows) {
    std::optional<sync::RecordCheck> check;
    if (command.verify) {
      check = sync::verify_record(*outbox, r.row.seq, config.station_id, key, &blobs);
    }
    if (command.json) {
      auto o = records::record_json(r);
      if (check) o["verification"] = records::check_json(*check);
      out << record::serialize_exact(o) << "\n";
      continue;
    }
    out << std::left << std::setw(8) << r.row.seq << std::setw(26) << format_ms(r.row.created_at_ms)
        << std::setw(24) << r.row.kind << std::setw(10) << (r.archived ? "archived" : "outbox")
        << r.row.record_hash.substr(0, 16) << "  " << r.row.idempotency_key;
    if (check) out << "  " << (check->ok() ? "verified" : "NOT VERIFIED");
    if (check && !check->ok()) {
      for (const auto& p : check->problems) out << " [" << record::to_string(p.code) << "]";
    }
    out << "\n";
  }
  if (rows.size() == kMaxRecords) {
    err << "weighlink-agent records: the first " << kMaxRecords
        << " records shown; ask for a smaller range for the rest\n";
  }
  if (rows.empty()) {
    bool pruned = false;
    const auto st = outbox->stats();
    auto why = records::absent_reason(command.from, st, config.evidence.retention_days, pruned);
    err << "weighlink-agent records: no record with seq " << command.from << " to " << command.to
        << " is held";
    if (!why.empty()) err << " (" << why << ")";
    err << "\n";
    return kFailed;
  }
  return kOk;
}

}  // namespace weighlink::agent
