#pragma once
// What a disposable cluster must have to restore a dump: a PostgreSQL major no older than the
// dump's, and the extensions it uses. Pure rules for verify-backup's messages: the major of a
// version string, the Debian package of an extension, the extension a failed restore names.

#include <optional>
#include <string>
#include <string_view>

namespace weighlink::recovery {

// 15 from "15.4 (Debian 15.4-1.pgdg120+1)" or "15devel"; 9 from "9.6.24"; nullopt when it does
// not start with a number.
[[nodiscard]] std::optional<int> postgres_major(std::string_view version);

// What to install for `extension` on Debian with PostgreSQL `major`: "apt-get install
// postgresql-15-postgis-3" for the ones known, else where its control file must go.
[[nodiscard]] std::string extension_install_hint(std::string_view extension, int major);

// The extension a restore's stderr says the server lacks ("could not open extension control file
// \".../NAME.control\"", "extension \"NAME\" is not available"); nullopt when it says no such
// thing.
[[nodiscard]] std::optional<std::string> missing_extension(std::string_view errors);

}  // namespace weighlink::recovery
