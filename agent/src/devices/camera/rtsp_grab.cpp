// grab_rtsp_jpeg (rtsp_grab.hpp): FFmpeg's libraries, the one place the agent uses them. RTSP over
// TCP (interleaved: one connection, no UDP ports to open at the camera or the firewall), the
// deadline enforced by FFmpeg's interrupt callback (checked by its network code while it waits,
// so a camera that accepts and never answers is given up at the deadline), the first picture the
// decoder returns (it returns none before a key frame), scaled to full-range 4:2:0 (yuvj420p)
// and encoded by FFmpeg's mjpeg encoder. On Linux the libraries are opened at the first grab
// (devices/lazy_library.hpp), not at the agent's start: a station without an RTSP camera never
// maps them.

#include "devices/camera/rtsp_grab.hpp"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavcodec/version.h>
#include <libavformat/avformat.h>
#include <libavformat/version.h>
#include <libavutil/error.h>
#include <libavutil/imgutils.h>
#include <libavutil/log.h>
#include <libavutil/version.h>
#include <libswscale/swscale.h>
#include <libswscale/version.h>
}

#include <memory>
#include <mutex>

#include "devices/lazy_library.hpp"

namespace weighlink::agent::camera {

namespace {

// Every FFmpeg function this file calls.
// clang-format off
#define WEIGHLINK_FFMPEG_FUNCTIONS(X) \
  X(avformat_alloc_context) X(avformat_open_input) X(avformat_close_input) \
  X(av_find_best_stream) X(av_read_frame) X(av_dict_set) X(av_dict_free) \
  X(avcodec_alloc_context3) X(avcodec_free_context) X(avcodec_parameters_to_context) \
  X(avcodec_open2) X(avcodec_find_encoder) X(avcodec_send_packet) X(avcodec_receive_frame) \
  X(avcodec_send_frame) X(avcodec_receive_packet) X(av_packet_alloc) X(av_packet_free) \
  X(av_packet_unref) X(av_frame_alloc) X(av_frame_free) X(av_frame_get_buffer) X(av_strerror) \
  X(av_log_set_level) X(sws_getContext) X(sws_scale) X(sws_freeContext)
// clang-format on

// Pointers to them, with their own types, filled once by ffmpeg().
struct Ffmpeg {
#define WEIGHLINK_FFMPEG_POINTER(f) decltype(&::f) f = nullptr;
  WEIGHLINK_FFMPEG_FUNCTIONS(WEIGHLINK_FFMPEG_POINTER)
#undef WEIGHLINK_FFMPEG_POINTER
};

// "libavformat.so.59": the libraries of the major versions this file was compiled against (the
// Debian package depends on the packages of those, installers/linux/build-deb.sh).
#define WEIGHLINK_TEXT(x) #x
#define WEIGHLINK_SONAME(library, major) library ".so." WEIGHLINK_TEXT(major)

// FFmpeg's functions: on Linux from those libraries, opened at the first call; the error says
// what to install. FFmpeg's log is quietened then: it writes to stderr by default, and the caller
// reports what failed.
const base::Expected<Ffmpeg>& ffmpeg() {
  static const base::Expected<Ffmpeg> loaded = []() -> base::Expected<Ffmpeg> {
    Ffmpeg api;
#ifdef _WIN32
#define WEIGHLINK_FFMPEG_RESOLVE(f) api.f = &::f;
    WEIGHLINK_FFMPEG_FUNCTIONS(WEIGHLINK_FFMPEG_RESOLVE)
#else
    auto libraries = devices::LazyLibraries::open(
        {WEIGHLINK_SONAME("libavutil", LIBAVUTIL_VERSION_MAJOR),
         WEIGHLINK_SONAME("libswscale", LIBSWSCALE_VERSION_MAJOR),
         WEIGHLINK_SONAME("libavcodec", LIBAVCODEC_VERSION_MAJOR),
         WEIGHLINK_SONAME("libavformat", LIBAVFORMAT_VERSION_MAJOR)},
        "RTSP camera stills", "FFmpeg's libraries (Debian: apt-get install libavformat59)");
    if (!libraries) return libraries.error();
#define WEIGHLINK_FFMPEG_RESOLVE(f) libraries->resolve(api.f, #f);
    WEIGHLINK_FFMPEG_FUNCTIONS(WEIGHLINK_FFMPEG_RESOLVE)
    if (auto missing = libraries->missing()) return *missing;
#endif
#undef WEIGHLINK_FFMPEG_RESOLVE
    api.av_log_set_level(AV_LOG_FATAL);
    return api;
  }();
  return loaded;
}

// The functions, once ffmpeg() succeeded (grab_rtsp_jpeg checks before anything else runs).
const Ffmpeg& av() { return *ffmpeg(); }

using Clock = std::chrono::steady_clock;

struct FormatClose {
  void operator()(AVFormatContext* p) const { av().avformat_close_input(&p); }
};
struct CodecFree {
  void operator()(AVCodecContext* p) const { av().avcodec_free_context(&p); }
};
struct PacketFree {
  void operator()(AVPacket* p) const { av().av_packet_free(&p); }
};
struct FrameFree {
  void operator()(AVFrame* p) const { av().av_frame_free(&p); }
};
struct SwsFree {
  void operator()(SwsContext* p) const { av().sws_freeContext(p); }
};
using Format = std::unique_ptr<AVFormatContext, FormatClose>;
using Codec = std::unique_ptr<AVCodecContext, CodecFree>;
using Packet = std::unique_ptr<AVPacket, PacketFree>;
using Frame = std::unique_ptr<AVFrame, FrameFree>;
using Sws = std::unique_ptr<SwsContext, SwsFree>;

struct Deadline {
  Clock::time_point at;
};

bool passed(const Deadline& deadline) { return Clock::now() >= deadline.at; }

int interrupt(void* opaque) { return passed(*static_cast<const Deadline*>(opaque)) ? 1 : 0; }

// The URL without its user and password, for messages and logs.
std::string without_credentials(const std::string& url) {
  const auto scheme = url.find("://");
  if (scheme == std::string::npos) return url;
  const auto host = scheme + 3;
  const auto at = url.find('@', host);
  const auto slash = url.find('/', host);
  if (at == std::string::npos || (slash != std::string::npos && at > slash)) return url;
  return url.substr(0, host) + url.substr(at + 1);
}

class Grab {
 public:
  Grab(const std::string& url, std::chrono::milliseconds budget)
      : url_(without_credentials(url)), budget_(budget), deadline_{Clock::now() + budget} {}

  base::Expected<std::string> run(const std::string& url) {
    step_ = "connecting";
    AVFormatContext* raw = av().avformat_alloc_context();
    if (raw == nullptr) return fail(AVERROR(ENOMEM));
    raw->interrupt_callback = AVIOInterruptCB{&interrupt, &deadline_};
    AVDictionary* options = nullptr;
    av().av_dict_set(&options, "rtsp_transport", "tcp", 0);
    // The socket's own timeout as a second guard (microseconds).
    av().av_dict_set(&options, "timeout", std::to_string(budget_.count() * 1000).c_str(), 0);
    const int opened = av().avformat_open_input(&raw, url.c_str(), nullptr, &options);
    av().av_dict_free(&options);
    if (opened < 0) return fail(opened);  // avformat_open_input frees `raw` on failure
    Format format(raw);

    step_ = "reading the stream's description";
    const AVCodec* decoder = nullptr;
    const int stream =
        av().av_find_best_stream(format.get(), AVMEDIA_TYPE_VIDEO, -1, -1, &decoder, 0);
    if (stream < 0 || decoder == nullptr) {
      return base::Error{std::make_error_code(std::errc::protocol_not_supported),
                         url_ + ": no video stream this build can decode"};
    }
    Codec dec(av().avcodec_alloc_context3(decoder));
    if (!dec) return fail(AVERROR(ENOMEM));
    if (const int r =
            av().avcodec_parameters_to_context(dec.get(), format->streams[stream]->codecpar);
        r < 0) {
      return fail(r);
    }
    dec->thread_count = 1;  // frame threads would hold the first picture back
    if (const int r = av().avcodec_open2(dec.get(), decoder, nullptr); r < 0) return fail(r);

    step_ = "waiting for the first picture";
    Packet packet(av().av_packet_alloc());
    Frame frame(av().av_frame_alloc());
    if (!packet || !frame) return fail(AVERROR(ENOMEM));
    while (true) {
      if (const int r = av().av_read_frame(format.get(), packet.get()); r < 0) return fail(r);
      const bool ours = packet->stream_index == stream;
      const int sent = ours ? av().avcodec_send_packet(dec.get(), packet.get()) : 0;
      av().av_packet_unref(packet.get());
      if (sent < 0 && sent != AVERROR_INVALIDDATA) return fail(sent);
      const int got = av().avcodec_receive_frame(dec.get(), frame.get());
      if (got == 0) break;
      if (got != AVERROR(EAGAIN)) return fail(got);
      if (passed(deadline_)) return fail(AVERROR_EXIT);
    }
    step_ = "encoding the picture";
    return encode(*frame);
  }

 private:
  base::Expected<std::string> encode(const AVFrame& picture) {
    const AVCodec* mjpeg = av().avcodec_find_encoder(AV_CODEC_ID_MJPEG);
    if (mjpeg == nullptr) {
      return base::Error{std::make_error_code(std::errc::function_not_supported),
                         "this build's FFmpeg has no mjpeg encoder"};
    }
    Codec enc(av().avcodec_alloc_context3(mjpeg));
    Frame out(av().av_frame_alloc());
    Packet jpeg(av().av_packet_alloc());
    if (!enc || !out || !jpeg) return fail(AVERROR(ENOMEM));
    enc->width = picture.width;
    enc->height = picture.height;
    enc->pix_fmt = AV_PIX_FMT_YUVJ420P;
    enc->time_base = AVRational{1, 25};
    enc->flags |= AV_CODEC_FLAG_QSCALE;
    enc->global_quality = FF_QP2LAMBDA * 3;  // visually lossless evidence, ~1/10 of raw
    if (const int r = av().avcodec_open2(enc.get(), mjpeg, nullptr); r < 0) return fail(r);

    out->format = AV_PIX_FMT_YUVJ420P;
    out->width = picture.width;
    out->height = picture.height;
    out->quality = enc->global_quality;
    if (const int r = av().av_frame_get_buffer(out.get(), 0); r < 0) return fail(r);
    Sws sws(av().sws_getContext(
        picture.width, picture.height, static_cast<AVPixelFormat>(picture.format), picture.width,
        picture.height, AV_PIX_FMT_YUVJ420P, SWS_BICUBIC, nullptr, nullptr, nullptr));
    if (!sws) {
      return base::Error{std::make_error_code(std::errc::not_supported),
                         url_ + ": cannot convert the camera's pixel format to JPEG's"};
    }
    av().sws_scale(sws.get(), picture.data, picture.linesize, 0, picture.height, out->data,
                   out->linesize);
    if (const int r = av().avcodec_send_frame(enc.get(), out.get()); r < 0) return fail(r);
    if (const int r = av().avcodec_receive_packet(enc.get(), jpeg.get()); r < 0) return fail(r);
    return std::string(reinterpret_cast<const char*>(jpeg->data),
                       static_cast<std::size_t>(jpeg->size));
  }

  base::Error fail(int averror) const {
    if (averror == AVERROR_EXIT || passed(deadline_)) {
      return base::Error{
          std::make_error_code(std::errc::timed_out),
          url_ + ": deadline of " + std::to_string(budget_.count()) + " ms passed while " + step_};
    }
    char text[AV_ERROR_MAX_STRING_SIZE] = {};
    av().av_strerror(averror, text, sizeof text);
    std::error_code code = std::make_error_code(std::errc::io_error);
    if (averror < 0 && averror > -4096) code = std::error_code(-averror, std::generic_category());
    return base::Error{code, url_ + ": " + text + " while " + step_};
  }

  std::string url_;
  std::chrono::milliseconds budget_;
  Deadline deadline_;
  const char* step_ = "starting";
};

}  // namespace

base::Expected<std::string> grab_rtsp_jpeg(const std::string& url,
                                           std::chrono::milliseconds deadline) {
  if (const auto& loaded = ffmpeg(); !loaded) return loaded.error();
  return Grab(url, deadline).run(url);
}

}  // namespace weighlink::agent::camera
