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

constexpr std::array<Entry, 2> kEntries{{
    {{"mt-continuous",
      "Mettler Toledo standard continuous output (STX SWA SWB SWC W6 T6 CR [CHK]); checksum "
      "auto-detected, parity bit masked"},
     &detail::make_mt_continuous_parser},
    {{"sma", "SMA / SCP-01 standard reply (LF s r n m f weight[10] unit[3] CR)"},
     &detail::make_sma_parser},
}};

constexpr std::array<ProtocolInfo, kEntries.size()> kInfos = [] {
  std::array<ProtocolInfo, kEntries.size()> infos{};
  for (std::size_t i = 0; i < kEntries.size(); ++i) infos[i] = kEntries[i].info;
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
