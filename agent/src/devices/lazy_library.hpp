#pragma once
// Shared libraries opened at their first use instead of at the agent's start. FFmpeg's (the RTSP
// camera) and libcups (CUPS printers) bring about 130 libraries with them; linked as usual, every
// agent mapped and relocated all of them at start, about 20 MB of its resident memory on a
// station with neither device (docs/performance.md, "Issue 21: agent memory"). On Windows they
// are linked as usual and this is not used.
//
// Threading: open() from any thread (the users call it once, from a function-local static);
// the functions resolve() finds may be called from any thread.

#include <optional>
#include <string>
#include <vector>

#include "weighlink/base/error.hpp"

namespace weighlink::agent::devices {

class LazyLibraries {
 public:
  // Opens `sonames` in this order (dlopen; they stay loaded until the process exits). `feature`
  // ("RTSP camera stills") and `install` (the packages that provide them) go into the errors,
  // which say which library could not be opened, why, and what to install.
  [[nodiscard]] static base::Expected<LazyLibraries> open(const std::vector<std::string>& sonames,
                                                          std::string feature, std::string install);

  // Sets `fn` to the function `name` of the first library that has it; when none has it, `fn`
  // stays null and missing() reports it.
  template <class F>
  void resolve(F& fn, const char* name) {
    fn = reinterpret_cast<F>(symbol(name));  // NOLINT: dlsym's object pointer to a function's
    if (fn == nullptr && !missing_) missing_ = name;
  }

  // The first function resolve() did not find, as an error; nothing when every one was found.
  [[nodiscard]] std::optional<base::Error> missing() const;

 private:
  LazyLibraries(std::string feature, std::string install)
      : feature_(std::move(feature)), install_(std::move(install)) {}
  [[nodiscard]] void* symbol(const char* name) const;

  std::string feature_;
  std::string install_;
  std::vector<void*> handles_;
  const char* missing_ = nullptr;
};

}  // namespace weighlink::agent::devices
