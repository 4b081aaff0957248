#pragma once
// Files that must be whole or absent after a crash or a power cut (the backup toolchain, the
// ready files of the agent and the backend, the local offsite store).
//
// Threading: free functions, safe from any thread.

#include <sys/types.h>

#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>

#include "weighlink/base/error.hpp"

namespace weighlink::base {

// fsync of a file, or of a folder (so that a rename in it is durable).
[[nodiscard]] std::error_code fsync_path(const std::filesystem::path& path, bool directory = false);

// Writes `text` to `path` atomically: a sibling `.partial` with the mode (and, as root, the owner)
// of the file it replaces, or `new_file_mode` less the umask when there is none, fsynced, renamed
// into place, the folder fsynced. Nothing, or why it failed (the errno; the file as it was).
[[nodiscard]] Expected<void> write_file_atomically(const std::filesystem::path& path,
                                                   std::string_view text, mode_t new_file_mode);

}  // namespace weighlink::base
