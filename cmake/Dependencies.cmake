# -- third-party packages (Debian 12) ------------------------------------------
# Each find step below works around a packaging quirk; see
# ../shared/research/feasibility.md (G1..G8) for why.

find_package(Threads REQUIRED)
find_package(PkgConfig REQUIRED)

# CAF 0.17.6: Debian ships neither a CMake config nor a .pc file.
find_path(CAF_INCLUDE_DIR caf/all.hpp REQUIRED)
find_library(CAF_CORE_LIB caf_core REQUIRED)
find_library(CAF_IO_LIB caf_io REQUIRED)
add_library(caf::core UNKNOWN IMPORTED)
set_target_properties(caf::core PROPERTIES
  IMPORTED_LOCATION ${CAF_CORE_LIB}
  INTERFACE_INCLUDE_DIRECTORIES ${CAF_INCLUDE_DIR}
  INTERFACE_LINK_LIBRARIES Threads::Threads)
add_library(caf::io UNKNOWN IMPORTED)
set_target_properties(caf::io PROPERTIES
  IMPORTED_LOCATION ${CAF_IO_LIB}
  INTERFACE_LINK_LIBRARIES caf::core)

# cnats: its CMake config references a missing static archive (G1).
pkg_check_modules(NATS REQUIRED IMPORTED_TARGET libnats)
# libpqxx: pkg-config only, and it does not pull libpq (G6).
pkg_check_modules(PQXX REQUIRED IMPORTED_TARGET libpqxx)
find_package(PostgreSQL REQUIRED)

# RapidJSON 1.1: a config without a target (G7).
find_package(RapidJSON CONFIG REQUIRED)
add_library(rapidjson INTERFACE IMPORTED)
set_target_properties(rapidjson PROPERTIES
  INTERFACE_INCLUDE_DIRECTORIES "${RAPIDJSON_INCLUDE_DIRS}"
  INTERFACE_COMPILE_DEFINITIONS "RAPIDJSON_HAS_STDSTRING=1")

find_package(RocksDB CONFIG REQUIRED)   # RocksDB::rocksdb-shared (G5)
find_package(fmt CONFIG REQUIRED)
find_package(spdlog CONFIG REQUIRED)    # compiled, external fmt (G8)
find_package(Boost 1.74 REQUIRED COMPONENTS system)
find_package(CLI11 CONFIG REQUIRED)
find_package(OpenSSL REQUIRED)
# The LLM client and the alert subscriber's HTTP sinks; llm/CMakeLists.txt
# fixes Debian's target (its U(x) macro, its missing OpenSSL) for both.
find_package(cpprestsdk CONFIG REQUIRED)

# libpg_query 15-4.0.0: header + library only (G6).
find_path(PG_QUERY_INCLUDE_DIR pg_query.h REQUIRED)
find_library(PG_QUERY_LIB pg_query REQUIRED)
add_library(pg_query::pg_query UNKNOWN IMPORTED)
set_target_properties(pg_query::pg_query PROPERTIES
  IMPORTED_LOCATION ${PG_QUERY_LIB}
  INTERFACE_INCLUDE_DIRECTORIES ${PG_QUERY_INCLUDE_DIR})

if(OPTISCHEMA_ENABLE_TESTS)
  find_package(Catch2 2 CONFIG REQUIRED)
endif()
