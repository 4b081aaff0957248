#include "weighlink/scale/record.hpp"

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <fstream>
#include <thread>

#include "sim_net.hpp"
#include "weighlink/base/host_port.hpp"
#include "weighlink/scale/capture.hpp"
#include "weighlink/scale/reading.hpp"

namespace weighlink::scale {
namespace {

using Clock = std::chrono::steady_clock;

boost::system::result<std::unique_ptr<ByteSource>> open_source(const RecordConfig& config) {
  if (!config.tcp.empty()) {
    const auto address = base::parse_host_port(config.tcp);
    if (!address) return make_error_code(boost::system::errc::invalid_argument);
    return detail::connect_tcp(address->host, address->port, std::chrono::seconds(5));
  }
  return open_serial(SerialSource{config.port, config.serial});
}

}  // namespace

RecordResult run_record(const RecordConfig& config, const std::atomic<bool>& stop,
                        const std::function<void(const std::string&)>& on_ready) {
  if (config.port.empty() == config.tcp.empty()) {
    return {2, "record needs exactly one of --port DEV or --tcp HOST:PORT"};
  }
  const std::string what = config.tcp.empty() ? config.port : config.tcp;
  auto source = open_source(config);
  if (!source) {
    return {1, "cannot open " + what + ": " + source.error().message() +
                   "; check the device or address and that nothing else holds it"};
  }
  std::ofstream file(config.out, std::ios::binary | std::ios::trunc);
  if (!file) {
    return {1, "cannot create " + config.out.string() + "; check the directory is writable"};
  }
  boost::json::object header;
  header["source"] = (*source)->describe();
  header["started"] = format_timestamp(std::chrono::system_clock::now());
  header["tool"] = "weighlink-scale record";
  file << encode_capture_header(boost::json::serialize(header));
  file.flush();
  if (on_ready) on_ready((*source)->describe());

  RecordResult result;
  const auto start = Clock::now();
  const auto end = config.duration ? start + *config.duration : Clock::time_point::max();
  std::vector<char> buffer(4096);
  while (!stop && Clock::now() < end) {
    const auto n = (*source)->read(buffer, std::chrono::milliseconds(50));
    if (!n) {
      if (!config.tcp.empty()) break;  // the server closed: the recording is complete
      // An unplugged adapter: keep the file and try again, as the agent would.
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
      if (auto again = open_source(config)) *source = std::move(*again);
      continue;
    }
    if (*n == 0) continue;
    const auto offset = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start);
    file << encode_capture_record(offset, std::string_view(buffer.data(), *n));
    // Flushed per chunk: a recorder killed at a site still leaves a usable file.
    file.flush();
    result.bytes += *n;
    ++result.records;
  }
  if (!file) {
    result.exit_code = 1;
    result.message = "writing " + config.out.string() + " failed; check free disk space";
  }
  return result;
}

}  // namespace weighlink::scale
