#include "weighlink/base/ready_file.hpp"

#include <boost/json/serialize.hpp>
#include <fstream>
#include <system_error>

namespace weighlink::base {

Expected<void> write_ready_file(const std::filesystem::path& path,
                                const boost::json::object& content) {
  const auto tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << boost::json::serialize(content) << "\n";
    out.flush();
    if (!out)
      return Error{std::make_error_code(std::errc::io_error), "cannot write ready file " + tmp};
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return Error{ec, "cannot write ready file " + path.string() + ": " + ec.message()};
  return {};
}

}  // namespace weighlink::base
