# -- sanitizers ----------------------------------------------------------------
# Two builds instrument every target compiled here (third-party libraries stay
# as Debian built them):
#   OPTISCHEMA_SANITIZE=address,undefined   the whole suite (make test-asan,
#                                           build-asan/, scripts/test-asan.sh)
#   OPTISCHEMA_FUZZ=ON                      the libFuzzer targets (clang,
#                                           build-fuzz/, scripts/fuzz.sh)
# Both keep assert() on (no NDEBUG; the scripts set the build type's flags):
# RapidJSON's asserts then stop a GetString() on a value that is not a string,
# which a release build silently turns into a wild read.

if(OPTISCHEMA_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR
      "OPTISCHEMA_FUZZ needs clang for libFuzzer: configure with "
      "CC=clang-14 CXX=clang++-14, as scripts/fuzz.sh does")
  endif()
  set(OPTISCHEMA_SANITIZE "address,undefined")
  # Coverage feedback for libFuzzer in our code; only the fuzz targets
  # themselves link libFuzzer's main (-fsanitize=fuzzer, fuzz/CMakeLists.txt).
  # RapidJSON 1.1's iterators trip clang's C++20 reversed-operator warning
  # in every file that walks a document; noise, not a finding.
  add_compile_options(-fsanitize=fuzzer-no-link
                      -Wno-ambiguous-reversed-operator)
endif()

if(OPTISCHEMA_SANITIZE)
  set(_optischema_sanitize ${OPTISCHEMA_SANITIZE})
  # GCC leaves float-cast-overflow out of "undefined" (clang has it): a double
  # from outside (a plan's "Plan Width", a duration of 1e300h) cast to an
  # integer is exactly the undefined behaviour we look for.
  if(_optischema_sanitize MATCHES "undefined")
    string(APPEND _optischema_sanitize ",float-cast-overflow")
  endif()
  # Every report stops the process (UBSAN_OPTIONS halt_on_error as well),
  # except pointer-overflow: RapidJSON 1.1 trips it in a header, and only a
  # recoverable check can be suppressed (scripts/sanitizers/ubsan.supp).
  add_compile_options(-fsanitize=${_optischema_sanitize}
                      -fno-sanitize-recover=all
                      -fsanitize-recover=pointer-overflow
                      -fno-omit-frame-pointer)
  add_link_options(-fsanitize=${_optischema_sanitize})
endif()
