// open_source(): one entry point over every transport adapter, so the reader does not care what
// kind of source it has.

#include "weighlink/scale/source.hpp"

namespace weighlink::scale {
namespace {

constexpr std::chrono::milliseconds kConnectTimeout{3000};

}  // namespace

boost::system::result<std::unique_ptr<ByteSource>> open_source(const SourceSpec& spec,
                                                               std::string_view protocol,
                                                               std::string* detail) {
  if (const auto* s = std::get_if<SerialSource>(&spec)) return open_serial(*s, detail);
  if (const auto* s = std::get_if<TcpSource>(&spec)) return open_tcp(*s, kConnectTimeout);
  if (const auto* s = std::get_if<UdpSource>(&spec)) return open_udp(*s);
  return open_sim(std::get<SimSource>(spec), protocol, detail);
}

}  // namespace weighlink::scale
