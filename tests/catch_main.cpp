// The one Catch2 main of the unit and integration test binaries (kept in its
// own file: it is the slowest file to compile).
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
