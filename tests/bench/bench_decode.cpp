// Decode throughput per protocol: a large buffer of encoded frames (the "truck" simulation, 3
// decks for multi-deck formats) fed to the parser in 64 KiB chunks, as `weighlink-scale decode`
// and the reader do. The baseline is a memchr scan for the frame terminator (or start byte) over
// the same bytes: the cost floor of any parser that must look at every byte.
// Usage: bench_decode [--json FILE] [--frames N] [--min-seconds S]

#include <algorithm>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "bench_util.hpp"
#include "weighlink/scale/encode.hpp"
#include "weighlink/scale/parser.hpp"
#include "weighlink/scale/simulate.hpp"
#include "weighlink/scale/simulator.hpp"

namespace {

namespace scale = weighlink::scale;
using weighlink::bench::Clock;

struct Result {
  std::string protocol;
  std::size_t frames = 0;  // per pass
  std::size_t bytes = 0;   // per pass
  double ns_per_frame = 0;
  double frames_per_s = 0;
  double mb_per_s = 0;
  double baseline_mb_per_s = 0;
};

// Runs `pass` until `min_seconds` elapsed (at least 3 passes); returns seconds per pass.
template <class F>
double time_passes(F&& pass, double min_seconds) {
  int passes = 0;
  const auto start = Clock::now();
  double elapsed = 0;
  do {
    pass();
    ++passes;
    elapsed = weighlink::bench::seconds_since(start);
  } while (elapsed < min_seconds || passes < 3);
  return elapsed / passes;
}

volatile std::size_t g_sink = 0;  // keeps the optimiser from deleting the measured work

struct Options {
  std::string json_path;
  std::size_t frame_count = 20000;
  double min_seconds = 0.5;
};

Options parse(int argc, char** argv) {
  Options o;
  weighlink::bench::Flags flags;
  flags.values = {
      {"--json", [&](const std::string& v) { o.json_path = v; }},
      {"--frames", [&](const std::string& v) { o.frame_count = std::stoul(v); }},
      {"--min-seconds", [&](const std::string& v) { o.min_seconds = std::stod(v); }},
  };
  weighlink::bench::parse_flags(argc, argv, flags,
                                "usage: bench_decode [--json FILE] [--frames N] [--min-seconds S]");
  return o;
}

int run(const Options& options) {
  const auto& json_path = options.json_path;
  const auto frame_count = options.frame_count;
  const auto min_seconds = options.min_seconds;

  std::vector<Result> results;
  std::printf("%-16s %8s %10s %12s %12s %10s %14s %8s\n", "protocol", "frames", "bytes", "frames/s",
              "ns/frame", "MB/s", "baseline MB/s", "x floor");
  for (const auto& info : scale::protocols()) {
    const auto encode = scale::make_encoder(info.id, true);
    if (!encode) continue;
    scale::SimProfileOptions options;
    options.decks = scale::encoder_has_decks(info.id) ? 3 : 0;
    const auto profile = scale::make_sim_profile("truck", options);
    std::string buffer;
    for (std::size_t i = 0; i < frame_count; ++i) {
      buffer += encode(profile->at(std::chrono::milliseconds(i * 100)));
    }
    // The byte the baseline scans for: the frame's terminator (CR, LF, ETX) when it ends in a
    // control byte, else its start byte ("=" streams have no terminator).
    const std::string one = encode(profile->at(std::chrono::milliseconds(0)));
    const char last = one.empty() ? '\r' : one.back();
    const char terminator =
        static_cast<unsigned char>(last) < 0x20 || one.empty() ? last : one.front();

    std::size_t decoded = 0;
    const double parse_s = time_passes(
        [&] {
          auto parser = scale::make_parser(info.id);
          std::vector<scale::Reading> readings;
          readings.reserve(4096);
          decoded = 0;
          constexpr std::size_t kChunk = std::size_t{64} * 1024;
          for (std::size_t at = 0; at < buffer.size(); at += kChunk) {
            parser->put(std::string_view(buffer).substr(at, kChunk), readings);
            decoded += readings.size();
            readings.clear();
          }
          parser->finish(readings);
          decoded += readings.size();
        },
        min_seconds);
    const double scan_s = time_passes(
        [&] {
          std::size_t n = 0;
          const char* p = buffer.data();
          const char* end = p + buffer.size();
          while ((p = static_cast<const char*>(std::memchr(p, terminator, end - p))) != nullptr) {
            ++n;
            ++p;
          }
          g_sink = g_sink + n;
        },
        min_seconds / 5);

    Result r;
    r.protocol = std::string(info.id);
    r.frames = decoded;
    r.bytes = buffer.size();
    const double mb = static_cast<double>(buffer.size()) / 1e6;
    r.ns_per_frame = decoded ? parse_s * 1e9 / static_cast<double>(decoded) : 0;
    r.frames_per_s = static_cast<double>(decoded) / parse_s;
    r.mb_per_s = mb / parse_s;
    r.baseline_mb_per_s = mb / scan_s;
    std::printf("%-16s %8zu %10zu %12.0f %12.1f %10.1f %14.1f %8.1f\n", r.protocol.c_str(),
                r.frames, r.bytes, r.frames_per_s, r.ns_per_frame, r.mb_per_s, r.baseline_mb_per_s,
                r.baseline_mb_per_s / std::max(r.mb_per_s, 1e-9));
    if (decoded < frame_count) {
      std::printf("  note: %zu of %zu encoded frames decoded\n", decoded, frame_count);
    }
    results.push_back(r);
  }

  if (!json_path.empty()) {
    boost::json::array rows;
    for (const auto& r : results) {
      rows.push_back(boost::json::object{{"protocol", r.protocol},
                                         {"frames", r.frames},
                                         {"bytes", r.bytes},
                                         {"frames_per_s", r.frames_per_s},
                                         {"ns_per_frame", r.ns_per_frame},
                                         {"mb_per_s", r.mb_per_s},
                                         {"baseline_memchr_mb_per_s", r.baseline_mb_per_s}});
    }
    boost::json::object root{{"benchmark", "decode"},
                             {"chunk_bytes", 65536},
                             {"profile", "truck"},
                             {"results", std::move(rows)}};
    if (!weighlink::bench::write_json(json_path, root)) {
      std::fprintf(stderr, "bench_decode: cannot write %s\n", json_path.c_str());
      return 1;
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return weighlink::bench::bench_main("bench_decode", argc, argv, parse, run);
}
