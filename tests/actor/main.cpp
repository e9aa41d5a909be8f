// The CAF test runner's main, in exactly one translation unit; the suites
// are in the other files of this directory (one ctest per CAF_SUITE).
#include <caf/test/unit_test_impl.hpp>
