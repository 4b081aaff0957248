// The encoder table behind encode_frame(): one entry per protocol that can be simulated.
#include <array>

#include "weighlink/scale/encode.hpp"

namespace weighlink::scale {
namespace {

using Encoder = std::string (*)(const DisplayState&);

struct EncoderEntry {
  std::string_view protocol;
  Encoder encode;
};

std::string mt_continuous(const DisplayState& s) { return encode_mt_continuous(s, true); }

constexpr std::array kEncoders{
    EncoderEntry{"mt-continuous", &mt_continuous},
    EncoderEntry{"sma", &encode_sma},
};

}  // namespace

std::optional<std::string> encode_frame(std::string_view protocol, const DisplayState& state) {
  for (const auto& e : kEncoders) {
    if (e.protocol == protocol) return e.encode(state);
  }
  return std::nullopt;
}

}  // namespace weighlink::scale
