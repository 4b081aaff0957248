#pragma once
// The ready file of a daemon started with --ready-file: one JSON line with the addresses it bound,
// written once it listens, for whoever started it (tests, the drill, scripts). The one writer
// (issue 17: serve uses it; the agent's and the scale tool's move here next). Portable: the agent
// writes one on Windows too.
//
// Threading: free function, safe from any thread.

#include <boost/json/object.hpp>
#include <filesystem>

#include "weighlink/base/error.hpp"

namespace weighlink::base {

// Writes `content` and a newline to `path` through `path` + ".tmp" and a rename, so that a reader
// never sees half of it. Nothing, or what failed ("cannot write ready file ...").
[[nodiscard]] Expected<void> write_ready_file(const std::filesystem::path& path,
                                              const boost::json::object& content);

}  // namespace weighlink::base
