// The evidence chain (evidence.hpp): SHA-256 links, HMAC-SHA256 signatures, the verifier.
#include "weighlink/record/evidence.hpp"

#ifndef _WIN32
#include <fcntl.h>
#include <unistd.h>
#endif

#include <algorithm>
#include <array>
#include <boost/json.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "weighlink/base/hash.hpp"

namespace weighlink::record {
namespace {

// "<length>:<bytes>;" so no field can run into the next.
void field(std::string& out, std::string_view value) {
  out += std::to_string(value.size());
  out += ':';
  out += value;
  out += ';';
}

}  // namespace

std::string chain_hash(std::string_view prev_hash, const EvidenceFields& f) {
  std::string message;
  message.reserve(f.payload_json.size() + f.idempotency_key.size() + 256);
  field(message, "weighlink-evidence-v1");
  field(message, f.station_id);
  field(message, std::to_string(f.seq));
  field(message, f.idempotency_key);
  field(message, f.kind);
  field(message, std::to_string(f.created_at_ms));
  field(message, f.payload_json);
  field(message, prev_hash);
  return base::sha256_hex(message);
}

std::string sign_record(std::span<const unsigned char> key, std::string_view hash) {
  return base::hmac_hex(key, std::string("record:") + std::string(hash));
}

std::string sign_point(std::span<const unsigned char> key, std::string_view what, std::uint64_t seq,
                       std::string_view hash) {
  return base::hmac_hex(key,
                        std::string(what) + ":" + std::to_string(seq) + ":" + std::string(hash));
}

bool same_signature(std::string_view a, std::string_view b) {
  return base::constant_time_equal(a, b);
}

std::string_view to_string(EvidenceProblemCode code) {
  switch (code) {
    case EvidenceProblemCode::altered:
      return "altered";
    case EvidenceProblemCode::bad_signature:
      return "bad_signature";
    case EvidenceProblemCode::removed:
      return "removed";
    case EvidenceProblemCode::reordered:
      return "reordered";
    case EvidenceProblemCode::bad_anchor:
      return "bad_anchor";
    case EvidenceProblemCode::bad_head:
      return "bad_head";
    case EvidenceProblemCode::attachment_missing:
      return "attachment_missing";
    case EvidenceProblemCode::attachment_altered:
      return "attachment_altered";
  }
  return "altered";
}

ChainVerifier::ChainVerifier(const ChainPoint& anchor, std::string station_id,
                             std::vector<unsigned char> key, std::size_t max_problems,
                             std::string_view anchor_kind)
    : station_id_(std::move(station_id)),
      key_(std::move(key)),
      max_problems_(max_problems),
      expected_prev_(anchor.hash),
      expected_seq_(anchor.seq + 1) {
  const bool genesis = anchor.seq == 0 && anchor.hash == kGenesisHash;
  if (!genesis &&
      !same_signature(sign_point(key_, anchor_kind, anchor.seq, anchor.hash), anchor.signature)) {
    problem(EvidenceProblemCode::bad_anchor, anchor.seq,
            "the chain's anchor (seq " + std::to_string(anchor.seq) +
                ") is not signed by this station key: records before it may have been removed "
                "without pruning");
  }
}

void ChainVerifier::problem(EvidenceProblemCode code, std::uint64_t seq, std::string message) {
  if (report_.problems.size() < max_problems_) {
    report_.problems.push_back({code, seq, std::move(message)});
  }
}

void ChainVerifier::add(const EvidenceRecord& r) {
  ++report_.records;
  if (report_.records == 1) report_.first_seq = r.seq;
  report_.last_seq = r.seq;
  const auto recomputed =
      chain_hash(r.prev_hash, EvidenceFields{station_id_, r.seq, r.idempotency_key, r.kind,
                                             r.created_at_ms, r.payload_json});
  if (recomputed != r.hash) {
    problem(EvidenceProblemCode::altered, r.seq,
            "record seq " + std::to_string(r.seq) + " (key " + r.idempotency_key +
                ") was changed after it was recorded: its content does not match its hash");
  } else if (!same_signature(sign_record(key_, r.hash), r.signature)) {
    problem(EvidenceProblemCode::bad_signature, r.seq,
            "record seq " + std::to_string(r.seq) + " (key " + r.idempotency_key +
                ") is not signed by this station key: it was rewritten or comes from another "
                "station");
  }
  // A broken link is classified at the end, once every hash is known: a record that follows one
  // found elsewhere was reordered, otherwise records are missing.
  if (r.prev_hash != expected_prev_) broken_.push_back({r.seq, expected_seq_, r.prev_hash});
  hashes_.emplace_back(r.hash.substr(0, 16), r.seq);
  expected_prev_ = r.hash;
  expected_seq_ = r.seq + 1;
}

EvidenceReport ChainVerifier::finish(const std::optional<ChainPoint>& head) {
  std::sort(hashes_.begin(), hashes_.end());
  for (const auto& b : broken_) {
    const auto prefix = b.prev_hash.substr(0, 16);
    const auto it = std::lower_bound(hashes_.begin(), hashes_.end(),
                                     std::pair<std::string, std::uint64_t>{prefix, 0});
    if (it != hashes_.end() && it->first == prefix) {
      problem(EvidenceProblemCode::reordered, b.seq,
              "record seq " + std::to_string(b.seq) + " belongs after record seq " +
                  std::to_string(it->second) + ", which is elsewhere in the chain");
    } else if (b.seq > b.expected_seq) {
      problem(EvidenceProblemCode::removed, b.seq,
              "records are missing before seq " + std::to_string(b.seq) + " (expected seq " +
                  std::to_string(b.expected_seq) + " next)");
    } else {
      problem(EvidenceProblemCode::reordered, b.seq,
              "record seq " + std::to_string(b.seq) +
                  " does not follow the record before it (expected seq " +
                  std::to_string(b.expected_seq) + ")");
    }
  }
  if (head) {
    const auto last = expected_seq_ - 1;
    if (!same_signature(sign_point(key_, "head", head->seq, head->hash), head->signature)) {
      problem(EvidenceProblemCode::bad_head, head->seq,
              "the chain head (seq " + std::to_string(head->seq) +
                  ") is not signed by this station key");
    } else if (head->seq != last || head->hash != expected_prev_) {
      if (head->seq > last) {
        problem(EvidenceProblemCode::removed, head->seq,
                "the newest records are missing: the chain ends at seq " + std::to_string(last) +
                    " but the signed head is seq " + std::to_string(head->seq));
      } else {
        problem(EvidenceProblemCode::bad_head, head->seq,
                "the signed head (seq " + std::to_string(head->seq) +
                    ") is not the last record of the chain (seq " + std::to_string(last) + ")");
      }
    }
  }
  std::stable_sort(report_.problems.begin(), report_.problems.end(),
                   [](const auto& a, const auto& b) { return a.seq < b.seq; });
  return std::move(report_);
}

EvidenceReport verify_chain(std::span<const EvidenceRecord> records, const ChainPoint& anchor,
                            const std::optional<ChainPoint>& head, std::string_view station_id,
                            std::span<const unsigned char> key, std::size_t max_problems) {
  ChainVerifier verifier(anchor, std::string(station_id),
                         std::vector<unsigned char>(key.begin(), key.end()), max_problems);
  for (const auto& r : records) verifier.add(r);
  return verifier.finish(head);
}

namespace {

std::uint64_t u64_at(const boost::json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  if (!v) throw std::runtime_error("missing '" + std::string(key) + "'");
  return v->to_number<std::uint64_t>();
}

std::string text_at(const boost::json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  if (!v || !v->is_string()) throw std::runtime_error("missing text '" + std::string(key) + "'");
  return std::string(v->get_string());
}

ChainPoint point_at(const boost::json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  if (!v || !v->is_object()) throw std::runtime_error("missing '" + std::string(key) + "'");
  const auto& p = v->get_object();
  return ChainPoint{u64_at(p, "seq"), text_at(p, "hash"), text_at(p, "signature")};
}

boost::json::object object_line(const std::string& line) {
  boost::system::error_code ec;
  auto v = boost::json::parse(line, ec);
  if (ec) throw std::runtime_error("not JSON (" + ec.message() + ")");
  if (!v.is_object()) throw std::runtime_error("not a JSON object");
  return std::move(v.get_object());
}

}  // namespace

ExportCheck verify_export(std::istream& in, std::span<const unsigned char> key) {
  std::string line;
  std::size_t line_no = 1;
  try {
    if (!std::getline(in, line)) throw std::runtime_error("the file is empty");
    const auto header = object_line(line);
    const auto* type = header.if_contains("type");
    if (!type || *type != "weighlink-outbox-export") {
      throw std::runtime_error(
          "not a weighlink outbox export (write one with 'weighlink-agent outbox export')");
    }
    ExportCheck check;
    check.station_id = text_at(header, "station_id");
    check.anchor = point_at(header, "anchor");
    if (header.contains("head")) check.head = point_at(header, "head");
    ChainVerifier verifier(check.anchor, check.station_id,
                           std::vector<unsigned char>(key.begin(), key.end()));
    while (std::getline(in, line)) {
      ++line_no;
      if (line.empty()) continue;
      const auto o = object_line(line);
      const auto* created = o.if_contains("created_at_ms");
      if (!created) throw std::runtime_error("missing 'created_at_ms'");
      verifier.add(EvidenceRecord{u64_at(o, "seq"), text_at(o, "idempotency_key"),
                                  text_at(o, "kind"), created->to_number<std::int64_t>(),
                                  text_at(o, "payload_json"), text_at(o, "prev_hash"),
                                  text_at(o, "hash"), text_at(o, "signature")});
    }
    check.report = verifier.finish(check.head);
    return check;
  } catch (const std::exception& e) {
    throw std::runtime_error("line " + std::to_string(line_no) + ": " + e.what());
  }
}

base::Expected<std::vector<unsigned char>> read_station_key(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int e = errno;
    return base::errno_error(e,
                             "cannot read the station key file " + path + ": " + std::strerror(e));
  }
  std::ostringstream text;
  text << in.rdbuf();
  std::string hex = text.str();
  const auto first = hex.find_first_not_of(" \t\r\n");
  const auto last = hex.find_last_not_of(" \t\r\n");
  hex = first == std::string::npos ? std::string() : hex.substr(first, last - first + 1);
  if (hex.size() < 64 || hex.size() % 2 != 0) {
    return base::invalid_argument("the station key file " + path +
                                  " must hold one key of at least 64 hex digits (32 bytes); it "
                                  "holds " +
                                  std::to_string(hex.size()) + " characters");
  }
  auto key = base::from_hex(hex);
  if (!key) {
    return base::invalid_argument("the station key file " + path +
                                  " holds a character that is not a hex digit; it must hold the "
                                  "key exactly as the agent wrote it");
  }
  return std::move(*key);
}

base::Expected<void> create_station_key(const std::string& path) {
  const auto key = base::random_bytes(32);
  if (!key) {
    return base::Error{std::make_error_code(std::errc::io_error),
                       "cannot draw a random station key (OpenSSL RAND_bytes failed)"};
  }
  const std::string text = base::to_hex(*key) + "\n";
#ifdef _WIN32
  // "x": never overwrite a key; the data directory's ACL keeps it private on Windows.
  std::FILE* f = std::fopen(path.c_str(), "wx");
#else
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  std::FILE* f = fd >= 0 ? ::fdopen(fd, "w") : nullptr;
#endif
  if (!f) {
    const int e = errno;
#ifndef _WIN32
    if (fd >= 0) ::close(fd);
#endif
    return base::errno_error(
        e, "cannot create the station key file " + path + ": " + std::strerror(e));
  }
  bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size() && std::fflush(f) == 0;
#ifndef _WIN32
  ok = ok && ::fsync(fd) == 0;
#endif
  int e = ok ? 0 : errno;
  if (std::fclose(f) != 0 && ok) {
    ok = false;
    e = errno;
  }
  if (!ok) {
    std::remove(path.c_str());
    return base::errno_error(e,
                             "cannot write the station key file " + path + ": " + std::strerror(e));
  }
  return {};
}

}  // namespace weighlink::record
