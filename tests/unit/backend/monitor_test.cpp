// The monitor's pure helpers: the recovered database's name, the EnvironmentFile rewrite and its
// quoting, and the DSN descriptions its log lines use.
#include "weighlink/recovery/monitor.hpp"

#include <doctest/doctest.h>

#include "weighlink/pg/pg.hpp"

using namespace weighlink::pg;
using namespace weighlink::recovery;

TEST_CASE("monitor: the recovered database is named after the UTC time") {
  CHECK(recovered_database_name(1795230007) == "weighlink_recovered_20261121_030007");
  CHECK(recovered_database_name(0) == "weighlink_recovered_19700101_000000");
  CHECK(fresh_database_name(1795230007) == "weighlink_reset_20261121_030007");
}

TEST_CASE("monitor: environment file values are quoted only when they must be") {
  CHECK(env_file_value("postgresql://wl@db.example:5432/weighlink") ==
        "postgresql://wl@db.example:5432/weighlink");
  CHECK(env_file_value("host='127.0.0.1' dbname='w'") == "\"host='127.0.0.1' dbname='w'\"");
  CHECK(env_file_value(R"(password='a\'b"c$d`e')") == R"("password='a\\'b\"c\$d\`e'")");
  CHECK(env_file_value("") == "\"\"");
}

TEST_CASE("monitor: the rewrite replaces the assignment and keeps every other line") {
  const std::string before =
      "# backend\nWEIGHLINK_LOG=info\n  WEIGHLINK_DSN=old\nOTHER=1\nWEIGHLINK_DSN=older\n";
  const auto after = repoint_env_file(before, "WEIGHLINK_DSN", "dbname=new", "at t");
  CHECK(after ==
        "# backend\nWEIGHLINK_LOG=info\n# repointed by weighlink-backend monitor: at t\n"
        "WEIGHLINK_DSN=dbname=new\nOTHER=1\n");
  // A second rewrite leaves one comment, one assignment.
  CHECK(repoint_env_file(after, "WEIGHLINK_DSN", "dbname=newer", "at u") ==
        "# backend\nWEIGHLINK_LOG=info\n# repointed by weighlink-backend monitor: at u\n"
        "WEIGHLINK_DSN=dbname=newer\nOTHER=1\n");
  // A look-alike variable is not it; no assignment (or no file): appended.
  CHECK(repoint_env_file("WEIGHLINK_DSN_OLD=x\nA=1", "WEIGHLINK_DSN", "v", "c") ==
        "WEIGHLINK_DSN_OLD=x\nA=1\n# repointed by weighlink-backend monitor: c\nWEIGHLINK_DSN=v\n");
  CHECK(repoint_env_file("", "WEIGHLINK_DSN", "v", "c") ==
        "# repointed by weighlink-backend monitor: c\nWEIGHLINK_DSN=v\n");
}

TEST_CASE("monitor: DSN targets never show the password") {
  CHECK(dsn_target("host=10.0.0.5 port=5433 user=wl password=secret dbname=weighlink") ==
        "10.0.0.5:5433/weighlink");
  CHECK(dsn_target("postgresql://wl:secret@db.example/weighlink") == "db.example:5432/weighlink");
  CHECK(dsn_target("host=/run/postgresql dbname=w port=5432") == "local:5432/w");
  CHECK(dsn_target("nonsense") == "an unparsable DSN");
  CHECK(dsn_with_parameters("postgresql://wl:secret@db.example/weighlink?connect_timeout=10",
                            {{"connect_timeout", "2"}, {"application_name", "m"}}) ==
        "user='wl' password='secret' dbname='weighlink' host='db.example' connect_timeout='2' "
        "application_name='m'");
  CHECK(dsn_with_database("host=h dbname=a", "b") == "host='h' dbname='b'");
}

TEST_CASE("pg: a client program gets the DSN without its password, and the password apart") {
  const auto keyword =
      dsn_for_tool("host=db.example port=5432 user=wl password='s3 cr\\'et' dbname=wl");
  CHECK(keyword.dsn.find("s3") == std::string::npos);
  CHECK(keyword.dsn.find("password") == std::string::npos);
  CHECK(keyword.dsn.find("host='db.example'") != std::string::npos);
  CHECK(keyword.dsn.find("dbname='wl'") != std::string::npos);
  REQUIRE(keyword.environment.size() == 1);
  CHECK(keyword.environment[0] == "PGPASSWORD=s3 cr'et");

  const auto uri = dsn_for_tool("postgresql://wl:hunter2@127.0.0.1:5433/weighlink");
  CHECK(uri.dsn.find("hunter2") == std::string::npos);
  CHECK(uri.dsn.find("port='5433'") != std::string::npos);
  REQUIRE(uri.environment.size() == 1);
  CHECK(uri.environment[0] == "PGPASSWORD=hunter2");

  // No password: the DSN unchanged, nothing in the environment.
  const auto none = dsn_for_tool("host=/tmp/wl-scratch.x user=postgres dbname=postgres");
  CHECK(none.dsn == "host=/tmp/wl-scratch.x user=postgres dbname=postgres");
  CHECK(none.environment.empty());
}
