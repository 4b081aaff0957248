#pragma once
// Internal: the plain TCP pieces of the integrator tools (POSIX sockets; the tools are
// single-threaded loops that poll, so Asio would add nothing but compile time).
// `simulate --tcp-listen` serves frames to every client; `record --tcp` and `probe --tcp` read
// from a serial device server.

#include <boost/system/result.hpp>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "weighlink/scale/source.hpp"

namespace weighlink::scale::detail {

// The outputs of `weighlink-scale simulate`. One thread.
class FrameSink {
 public:
  virtual ~FrameSink() = default;
  // Sends to every reader. What a full buffer cannot take is dropped, as on a line nobody
  // listens to: an indicator never waits for its reader.
  [[nodiscard]] virtual boost::system::result<void> broadcast(std::string_view bytes) = 0;
  // Polled protocols: hands each reader's received bytes to `reply`, which removes what it
  // answered and returns the bytes to send back to that reader.
  [[nodiscard]] virtual boost::system::result<void> answer(
      const std::function<std::string(std::string& inbox)>& reply) = 0;
  // Connected readers, where the transport knows (TCP); -1 when it cannot tell.
  [[nodiscard]] virtual int readers() const { return -1; }
};

// One reader's turn in FrameSink::answer(): `reply` answers what the reader sent (and removes
// it); what it returns goes back. A reader that sends junk forever must not grow its inbox
// forever: past 4 KiB only the last 256 bytes are kept.
[[nodiscard]] inline std::string answer_inbox(
    std::string& inbox, const std::function<std::string(std::string& inbox)>& reply) {
  std::string out = reply(inbox);
  if (inbox.size() > 4096) inbox.erase(0, inbox.size() - 256);
  return out;
}

// Listens on HOST:PORT (port 0: any); `bound` gets "HOST:PORT" as bound.
[[nodiscard]] boost::system::result<std::unique_ptr<FrameSink>> listen_tcp(const std::string& host,
                                                                           std::uint16_t port,
                                                                           std::string& bound);

// A TCP client byte source (a serial device server). Connects once; read() returns
// connection_reset when the peer closes.
[[nodiscard]] boost::system::result<std::unique_ptr<ByteSource>> connect_tcp(
    const std::string& host, std::uint16_t port, std::chrono::milliseconds timeout);

}  // namespace weighlink::scale::detail
