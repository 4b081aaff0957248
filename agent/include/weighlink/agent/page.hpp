#pragma once
// The operator page, compiled into the binary (works with no internet: no CDN).

#include <string_view>

namespace weighlink::agent {

[[nodiscard]] std::string_view operator_page_html();

}  // namespace weighlink::agent
