// bench_summary: issue 21's goal table from the JSON that make bench's benchmarks wrote in the
// same run. Prints the table, writes summary.json, appends the run to history.jsonl (one line a
// run, so docs/performance.md's three runs per row come from one file).
//
//   bench_summary [--dir build/bench] [--json FILE] [--history FILE] [--commit REV]

#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <sstream>

#include "bench_util.hpp"
#include "weighlink/bench/summary.hpp"

namespace weighlink::bench::summary {
namespace {

struct Options {
  std::string dir = "build/bench";
  std::string json_path;     // default <dir>/summary.json
  std::string history_path;  // default <dir>/history.jsonl
  std::string commit;
};

Options parse_options(int argc, char** argv) {
  Options o;
  parse_flags(argc, argv,
              {{{"--dir", [&](const std::string& v) { o.dir = v; }},
                {"--json", [&](const std::string& v) { o.json_path = v; }},
                {"--history", [&](const std::string& v) { o.history_path = v; }},
                {"--commit", [&](const std::string& v) { o.commit = v; }}},
               {}},
              "bench_summary [--dir build/bench] [--json FILE] [--history FILE] [--commit REV]");
  if (o.json_path.empty()) o.json_path = o.dir + "/summary.json";
  if (o.history_path.empty()) o.history_path = o.dir + "/history.jsonl";
  return o;
}

// A bench's report, or nothing when that bench did not run; a file that is not a JSON object is
// an error (a half-written report must not read as "not measured").
std::optional<boost::json::object> read_report(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::stringstream text;
  text << in.rdbuf();
  boost::system::error_code ec;
  auto value = boost::json::parse(text.str(), ec);
  if (ec || !value.is_object()) throw std::runtime_error(path + " is not a JSON object");
  return std::move(value.get_object());
}

std::string utc_now() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

int run(const Options& options) {
  Inputs in;
  in.live = read_report(options.dir + "/live.json");
  in.outbox = read_report(options.dir + "/outbox.json");
  in.replay = read_report(options.dir + "/replay.json");
  const auto rows = summarize(in);
  std::printf("\nIssue 21's goals, each against a baseline measured in this run of make bench:\n%s",
              format_table(rows).c_str());
  boost::json::object doc{{"benchmark", "summary"},
                          {"time", utc_now()},
                          {"commit", options.commit},
                          {"load_average", load_averages()},
                          {"rows", to_json(rows)}};
  if (!write_json(options.json_path, doc)) {
    std::fprintf(stderr, "bench_summary: cannot write %s\n", options.json_path.c_str());
    return 1;
  }
  std::ofstream history(options.history_path, std::ios::app);
  history << boost::json::serialize(doc) << '\n';
  if (!history) {
    std::fprintf(stderr, "bench_summary: cannot append to %s\n", options.history_path.c_str());
    return 1;
  }
  std::printf("written: %s; appended to %s\n", options.json_path.c_str(),
              options.history_path.c_str());
  return 0;
}

}  // namespace
}  // namespace weighlink::bench::summary

int main(int argc, char** argv) {
  namespace s = weighlink::bench::summary;
  return weighlink::bench::bench_main("bench_summary", argc, argv, s::parse_options, s::run);
}
