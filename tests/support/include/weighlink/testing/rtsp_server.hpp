#pragma once
// A loopback RTSP server for the camera's RTSP still (agent/src/devices/camera/rtsp_grab.cpp),
// over TCP only (interleaved RTP, as the agent asks for). FFmpeg 5.1 can push a stream to an RTSP
// server (ANNOUNCE/RECORD) but cannot serve one to a player, and Debian 12 packages no small RTSP
// server, so this one relays: `ffmpeg ... -f rtsp -rtsp_transport tcp <url()>` publishes, and
// each player's DESCRIBE gets the publisher's SDP, its SETUP the same interleaved channels, and
// after PLAY every RTP/RTCP packet the publisher sends from then on. docs/devices.md, "Testing".
//
// Mode::silent accepts connections, reads and never answers: a camera that hangs.
//
// Threading: a thread to accept and one per connection (blocking sockets polled with a short
// timeout so the destructor can stop them); every public member is thread-safe.

#include <cstddef>
#include <memory>
#include <string>

namespace weighlink::testing {

class RtspServer {
 public:
  enum class Mode { relay, silent };
  explicit RtspServer(Mode mode = Mode::relay);  // on 127.0.0.1, a free port
  ~RtspServer();                                 // closes every connection, joins
  RtspServer(const RtspServer&) = delete;
  RtspServer& operator=(const RtspServer&) = delete;

  [[nodiscard]] std::string address() const;  // "127.0.0.1:PORT"
  // "rtsp://127.0.0.1:PORT/<path>"
  [[nodiscard]] std::string url(const std::string& path = "cam") const;
  // RTP packets received from a publisher after its RECORD: the stream is up.
  [[nodiscard]] std::size_t published_packets() const;
  [[nodiscard]] std::size_t connections() const;  // accepted so far

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace weighlink::testing
