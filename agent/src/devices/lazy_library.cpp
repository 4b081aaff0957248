#include "devices/lazy_library.hpp"

#ifndef _WIN32
#include <dlfcn.h>
#endif

namespace weighlink::agent::devices {

base::Expected<LazyLibraries> LazyLibraries::open(const std::vector<std::string>& sonames,
                                                  std::string feature, std::string install) {
  LazyLibraries out(std::move(feature), std::move(install));
#ifndef _WIN32
  for (const auto& name : sonames) {
    // RTLD_LOCAL: their symbols stay out of the agent's own namespace.
    void* handle = ::dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
      const char* why = ::dlerror();
      // function_not_supported: a camera reports it as "not supported" (docs/devices.md).
      return base::Error{std::make_error_code(std::errc::function_not_supported),
                         out.feature_ + " need " + name + ", which cannot be loaded (" +
                             (why ? why : "unknown error") + "); install " + out.install_};
    }
    out.handles_.push_back(handle);
  }
#else
  (void)sonames;
#endif
  return out;
}

void* LazyLibraries::symbol(const char* name) const {
#ifndef _WIN32
  for (void* handle : handles_) {
    if (void* address = ::dlsym(handle, name)) return address;
  }
#else
  (void)name;
#endif
  return nullptr;
}

std::optional<base::Error> LazyLibraries::missing() const {
  if (!missing_) return std::nullopt;
  return base::Error{std::make_error_code(std::errc::function_not_supported),
                     feature_ + " need " + missing_ +
                         ", which the installed libraries do not have; install " + install_};
}

}  // namespace weighlink::agent::devices
