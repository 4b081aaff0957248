#pragma once
// The operator page's parts, one raw string per asset, joined by operator_page_html(). Each
// literal stays below 16 KB: MSVC (the Windows build) refuses longer string literals (C2026).

#include <string_view>

namespace weighlink::agent::page {

[[nodiscard]] std::string_view style_css();
// The script, in parts joined in order (one literal would pass MSVC's limit).
[[nodiscard]] std::string_view script_js_core();
[[nodiscard]] std::string_view script_js_actions();
// Origin pairing: the pending requests with Allow / Deny, the decided origins with Revoke.
[[nodiscard]] std::string_view script_js_origins();

}  // namespace weighlink::agent::page
