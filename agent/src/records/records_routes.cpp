// The records routes of the local API (records.hpp): retrieval by seq from the outbox or its
// evidence archive, verification of one record and of the whole chain, and the archive's state
// in /v1/status and /metrics.
#include <spdlog/spdlog.h>

#include <boost/json.hpp>
#include <boost/url/parse.hpp>
#include <charconv>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "core/api_common.hpp"
#include "records/record_json.hpp"
#include "weighlink/agent/api.hpp"
#include "weighlink/agent/config.hpp"
#include "weighlink/agent/records.hpp"
#include "weighlink/sync/evidence_check.hpp"

namespace weighlink::agent {
namespace {

namespace json = boost::json;
using api::json_response;

constexpr std::string_view kRecordsPrefix = "/v1/records/";
constexpr std::string_view kVerifySuffix = "/verify";
constexpr std::size_t kDefaultPage = 100;
constexpr std::size_t kMaxPage = 500;
// Whole-chain checks waiting for the verifier thread; more get 503.
constexpr std::size_t kMaxQueued = 4;
constexpr std::uint64_t kAlarmPercent = 80;

std::optional<std::uint64_t> parse_seq(std::string_view text) {
  std::uint64_t v = 0;
  const auto* end = text.data() + text.size();
  auto [p, ec] = std::from_chars(text.data(), end, v);
  if (text.empty() || ec != std::errc() || p != end) return std::nullopt;
  return v;
}

// One thread that runs whole-chain checks one after another, off the io thread.
class Verifier {
 public:
  Verifier() : thread_([this] { loop(); }) {}
  ~Verifier() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  // False when kMaxQueued checks are waiting already.
  bool submit(std::function<void()> job) {
    std::lock_guard lock(mu_);
    if (jobs_.size() >= kMaxQueued) return false;
    jobs_.push_back(std::move(job));
    cv_.notify_one();
    return true;
  }

 private:
  void loop() {
    while (true) {
      std::function<void()> job;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return stop_ || !jobs_.empty(); });
        if (stop_) return;
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
      job();
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  bool stop_ = false;
  std::thread thread_;
};

class RecordsRoutes final : public ApiRoutes {
 public:
  RecordsRoutes(const AgentConfig& config, std::vector<unsigned char> key, const ApiContext& ctx)
      : station_id_(config.station_id),
        evidence_(config.evidence),
        data_dir_(config.data_dir),
        blobs_(config.data_dir / "blobs"),
        key_(std::move(key)),
        outbox_(ctx.outbox),
        post_(ctx.post) {}

  bool handle(const HttpRequest& request, const std::string& path,
              const std::string& correlation_id, Respond& respond) override {
    const bool records = path == "/v1/records" || path.starts_with(kRecordsPrefix);
    if (!records && path != "/v1/evidence") return false;
    if (request.method != "GET") return false;  // the core answers 405
    if (path == "/v1/evidence") {
      evidence(correlation_id, respond);
    } else if (path == "/v1/records") {
      list(request, correlation_id, respond);
    } else {
      auto rest = std::string_view(path).substr(kRecordsPrefix.size());
      const bool verify = rest.ends_with(kVerifySuffix);
      if (verify) rest.remove_suffix(kVerifySuffix.size());
      const auto seq = parse_seq(rest);
      if (!seq || *seq == 0) {
        respond(error_response(
            404, "not_found",
            "no such resource: " + path + " (records are /v1/records/{seq}, seq a positive number)",
            correlation_id));
      } else {
        one(*seq, verify, correlation_id, respond);
      }
    }
    return true;
  }

  void status(json::object& status) const override { status["evidence"] = evidence_status(); }

  void metrics(std::string& out) const override {
    const auto st = outbox_->stats();
    auto gauge = [&out](const char* name, const char* help, std::uint64_t value,
                        const char* type = "gauge") {
      out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
      out += std::string(name) + " " + std::to_string(value) + "\n";
    };
    gauge("weighlink_agent_evidence_archived_records",
          "Records pruned from the outbox and kept in the evidence archive.", st.archived_rows);
    gauge("weighlink_agent_evidence_archive_bytes",
          "Bytes of the evidence archive's records (what evidence.max_archive_mb caps).",
          st.archive_bytes);
    gauge("weighlink_agent_evidence_archive_max_bytes", "The evidence archive's cap.",
          st.archive_max_bytes);
    gauge("weighlink_agent_evidence_alarm",
          "1 while the evidence archive uses 80 % or more of its cap.", alarm(st) ? 1 : 0);
    gauge("weighlink_agent_record_readback_failures_total",
          "Records whose row read back after the commit differed from what was written.",
          st.readback_failures, "counter");
  }

 private:
  static bool alarm(const sync::OutboxStats& st) {
    return st.archive_max_bytes > 0 &&
           st.archive_bytes * 100 >= st.archive_max_bytes * kAlarmPercent;
  }

  json::object evidence_status() const {
    const auto st = outbox_->stats();
    const bool raised = alarm(st);
    if (raised != alarm_.exchange(raised)) {
      if (raised) {
        spdlog::warn(
            "evidence archive at {} of {} bytes (80 % or more of evidence.max_archive_mb): at the "
            "cap, acknowledged records stay in the outbox; raise the cap or free disk space",
            st.archive_bytes, st.archive_max_bytes);
      } else {
        spdlog::info("evidence archive below 80 % of its cap again");
      }
    }
    std::error_code ec;
    const auto space = std::filesystem::space(data_dir_, ec);
    json::object o{
        {"retention_days", evidence_.retention_days},
        {"archived_records", st.archived_rows},
        {"archive_bytes", st.archive_bytes},
        {"max_archive_bytes", st.archive_max_bytes},
        {"used_percent", st.archive_max_bytes ? st.archive_bytes * 100 / st.archive_max_bytes : 0},
        {"alarm", raised},
        {"oldest_archived_seq",
         st.archive_oldest_seq ? json::value(*st.archive_oldest_seq) : json::value(nullptr)},
        {"trimmed_through_seq", st.archive_trimmed_through_seq},
        {"readback_failures", st.readback_failures},
        {"disk_free_bytes", ec ? json::value(nullptr) : json::value(space.available)}};
    return o;
  }

  void list(const HttpRequest& request, const std::string& correlation_id, const Respond& respond) {
    auto url = boost::urls::parse_origin_form(request.target);
    std::optional<std::uint64_t> from, to, limit;
    for (const auto& param : url->params()) {
      std::optional<std::uint64_t>* slot = param.key == "from"    ? &from
                                           : param.key == "to"    ? &to
                                           : param.key == "limit" ? &limit
                                                                  : nullptr;
      if (!slot) continue;
      *slot = parse_seq(param.value);
      if (!*slot || (slot == &limit && (**slot == 0 || **slot > kMaxPage))) {
        return respond(error_response(400, "invalid_" + std::string(param.key),
                                      std::string(param.key) + " must be a whole number" +
                                          (slot == &limit ? " from 1 to 500" : " (a seq)") +
                                          ", not '" + std::string(param.value) + "'",
                                      correlation_id));
      }
    }
    const std::uint64_t first = from.value_or(1);
    const std::uint64_t last = to.value_or(std::numeric_limits<std::uint64_t>::max());
    if (last < first) {
      return respond(error_response(
          400, "invalid_range",
          "to (" + std::to_string(last) + ") is below from (" + std::to_string(first) + ")",
          correlation_id));
    }
    const auto page = static_cast<std::size_t>(limit.value_or(kDefaultPage));
    const auto rows = outbox_->records(first, last, page + 1);
    json::array items;
    for (std::size_t i = 0; i < rows.size() && i < page; ++i) {
      items.push_back(records::record_json(rows[i]));
    }
    const auto st = outbox_->stats();
    json::value next = nullptr;
    if (rows.size() > page) next = rows[page].row.seq;
    respond(json_response(200, json::object{{"items", std::move(items)},
                                            {"next_from", next},
                                            {"trimmed_through_seq", st.archive_trimmed_through_seq},
                                            {"last_seq", st.last_seq}}));
  }

  void one(std::uint64_t seq, bool verify, const std::string& correlation_id,
           const Respond& respond) {
    if (verify) {
      if (auto check = sync::verify_record(*outbox_, seq, station_id_, key_, &blobs_)) {
        return respond(json_response(200, records::check_json(*check)));
      }
    } else if (auto rows = outbox_->records(seq, seq, 1); !rows.empty()) {
      return respond(json_response(200, records::record_json(rows.front())));
    }
    bool pruned = false;
    auto why = records::absent_reason(seq, outbox_->stats(), evidence_.retention_days, pruned);
    if (why.empty()) why = "no record " + std::to_string(seq) + " is held at this station";
    respond(
        error_response(404, pruned ? "record_pruned" : "record_not_found", why, correlation_id));
  }

  void evidence(const std::string& correlation_id, const Respond& respond) {
    auto job = [this, correlation_id, respond] {
      auto check = sync::verify_evidence(*outbox_, station_id_, key_, 100, &blobs_);
      HttpResponse r =
          check ? json_response(200, records::evidence_json(*check))
                : error_response(500, "outbox_error",
                                 "cannot read the outbox to verify it: " + check.error().message(),
                                 correlation_id);
      post_([respond, r = std::move(r)] { respond(r); });
    };
    if (!verifier_.submit(std::move(job))) {
      auto r = error_response(503, "verifier_busy",
                              "the whole chain is being verified for other requests; retry in a "
                              "few seconds",
                              correlation_id);
      r.headers.emplace_back("Retry-After", "5");
      respond(std::move(r));
    }
  }

  std::string station_id_;
  EvidenceConfig evidence_;
  std::filesystem::path data_dir_;
  sync::BlobStore blobs_;  // the records' attachment files (camera images)
  std::vector<unsigned char> key_;
  sync::Outbox* outbox_;
  std::function<void(std::function<void()>)> post_;
  mutable std::atomic<bool> alarm_{false};
  Verifier verifier_;  // last: stopped (and joined) before the rest goes
};

}  // namespace

void apply_evidence_options(const EvidenceConfig& config, sync::OutboxOptions& options) {
  options.evidence_retention_ms = std::int64_t{config.retention_days} * 24 * 3600 * 1000;
  options.archive_max_bytes = config.max_archive_mb * 1024 * 1024;
}

std::unique_ptr<ApiRoutes> make_records_routes(const AgentConfig& config,
                                               std::vector<unsigned char> key,
                                               const ApiContext& ctx) {
  return std::make_unique<RecordsRoutes>(config, std::move(key), ctx);
}

}  // namespace weighlink::agent
