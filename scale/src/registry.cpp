#include <array>

#include "parsers.hpp"
#include "weighlink/scale/parser.hpp"

namespace weighlink::scale {
namespace {

using Factory = std::unique_ptr<Parser> (*)(const ParserOptions&);

struct Entry {
  ProtocolInfo info;
  Factory make;
};

// A plain array so that adding a protocol is one entry, with no count to keep in step.
constexpr Entry kEntries[] = {
    {{"mt-continuous",
      "Mettler Toledo standard continuous output (STX SWA SWB SWC W6 T6 CR [CHK]); checksum "
      "auto-detected, parity bit masked"},
     &detail::make_mt_continuous_parser},
    {{"sma", "SMA / SCP-01 standard reply (LF s r n m f weight[10] unit[3] CR)"},
     &detail::make_sma_parser},
    {{"mt-sics",
      "Mettler Toledo MT-SICS replies (S S / S D weight unit, S +, S -), polled with SI"},
     &detail::make_mt_sics_parser},
    {{"cardinal-sb400",
      "Cardinal SB-400 computer format (s xxxxxx[.] uu G/N cc CR), ENQ-polled or continuous; "
      "SB-200 scoreboard variant"},
     &detail::make_cardinal_sb400_parser},
    {{"rice-lake", "Rice Lake RLWS stream (STX pol w7 L/K/T/G/O G/N status CR[LF]), also IQ355"},
     &detail::make_rice_lake_parser},
    {{"rinstrum", "Rinstrum AUTO output FMT_1..FMT_5, variant recognised per frame"},
     &detail::make_rinstrum_parser},
    {{"ad-stgs", "A&D / PAW family (ST,GS,+0001234kg; US motion, OL overload, NT net)"},
     &detail::make_ad_stgs_parser},
    {{"xk3190-tf0",
      "Yaohua XK3190 tF=0 12-byte frame (STX sign d6 dp xor ETX), XOR checked; no motion flag, "
      "unit from config"},
     &detail::make_xk3190_tf0_parser},
    {{"xk3190-a12e", "Yaohua XK3190-A12E (WG w7 kg xor CR LF, XOR checked) and A12 ww/wn/wt lines"},
     &detail::make_xk3190_a12e_parser},
    {{"yaohua-reverse",
      "\"=\" stream, 7 weight characters least significant first, then sign; no motion flag, "
      "unit from config"},
     &detail::make_yaohua_reverse_parser},
    {{"zm",
      "Avery Weigh-Tronix ZM (GS/GU/NT/TR/OL lines), Zedem 510 multi-deck CSV (a total that is "
      "not the sum of the decks is flagged), legacy W-query reply (one weight per deck)"},
     &detail::make_zm_parser},
    {{"cardinal-deck",
      "Cardinal multi-deck lines (D1:  1250 kg S ... GVW: 5190 kg S) and the legacy Z1G 2 "
      "layout; one reading per frame"},
     &detail::make_cardinal_deck_parser},
    {{"i1310",
      "1310 multi-scale (Scale No: 1  Weight: 1250 kg Stable ... Total Weight), short 1: form and "
      "legacy two-line form; one reading per frame"},
     &detail::make_i1310_parser},
    {{"mcgs", "MCGS mobile axle weigher (=SG+0000123kR), cumulative; no motion flag"},
     &detail::make_mcgs_parser},
    {{"giropes", "Giropes GI620 mobile axle weigher ($ gross net 830, LF CR); no motion flag"},
     &detail::make_giropes_parser},
    {{"custom", "regex with named groups from configuration (custom_pattern)"},
     &detail::make_custom_parser},
};

constexpr std::array<ProtocolInfo, std::size(kEntries)> kInfos = [] {
  std::array<ProtocolInfo, std::size(kEntries)> infos{};
  for (std::size_t i = 0; i < std::size(kEntries); ++i) infos[i] = kEntries[i].info;
  return infos;
}();

}  // namespace

std::span<const ProtocolInfo> protocols() { return kInfos; }

std::unique_ptr<Parser> make_parser(std::string_view protocol_id, const ParserOptions& options) {
  for (const auto& entry : kEntries) {
    if (entry.info.id == protocol_id) return entry.make(options);
  }
  return nullptr;
}

}  // namespace weighlink::scale
