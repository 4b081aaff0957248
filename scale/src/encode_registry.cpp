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
    EncoderEntry{"mt-sics", &encode_mt_sics},
    EncoderEntry{"cardinal-sb400", &encode_cardinal_sb400},
    EncoderEntry{"rice-lake", &encode_rice_lake},
    EncoderEntry{"rinstrum", &encode_rinstrum},
    EncoderEntry{"ad-stgs", &encode_ad_stgs},
    EncoderEntry{"xk3190-tf0", &encode_xk3190_tf0},
    EncoderEntry{"xk3190-a12e", &encode_xk3190_a12e},
    EncoderEntry{"yaohua-reverse", &encode_yaohua_reverse},
    EncoderEntry{"zm", &encode_zm},
    EncoderEntry{"cardinal-deck", &encode_cardinal_deck},
    EncoderEntry{"i1310", &encode_i1310},
    EncoderEntry{"mcgs", &encode_mcgs},
    EncoderEntry{"giropes", &encode_giropes},
};

}  // namespace

std::optional<std::string> encode_frame(std::string_view protocol, const DisplayState& state) {
  for (const auto& e : kEncoders) {
    if (e.protocol == protocol) return e.encode(state);
  }
  return std::nullopt;
}

}  // namespace weighlink::scale
