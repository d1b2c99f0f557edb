# FrayFuzz.cmake: session-aware fuzz targets for your own handler, installed
# with fray and included by find_package(fray).
#
#   find_package(fray REQUIRED)
#   fray_add_fuzz_target(fuzz_kv SOURCES kv.c SEEDS tests/kv.fray)
#   # ./fuzz_kv -dict=fuzz_kv.fuzz/fuzz.dict fuzz_kv.fuzz/corpus fuzz_kv.fuzz/seeds
#
# fray_add_fuzz_target(NAME SOURCES src...
#                      [HANDLER symbol] [ENGINE libfuzzer|afl]
#                      [SEEDS script.fray...] [LINK_LIBRARIES lib...])
#
# NAME is an executable whose every input is a whole session (fray/fuzz.h):
# which client sends what, cut into which reads, merged how. It runs under
# fray's fuzz driver twice whole and once under the input's cuts, merges
# and short writes; different transcripts, a bound exceeded or a sanitizer
# report is a crash. That is the oracle of fray's own handler targets
# (targets/session_target.h, installed beside this file).
#
#   SOURCES    the handler's sources, compiled with coverage instrumentation
#              and ASan+UBSan: the code under test, and the only code the
#              fuzzer learns from (fray's runtime and the driver are linked
#              from fray::fray_static as installed, uninstrumented)
#   HANDLER    the name of a `const fray_handler_t` object in SOURCES;
#              without it the target calls the plugin entry point
#              fray_plugin_handler(FRAY_HANDLER_ABI), so the sources of a
#              `fray replay --plugin` shared object build a target unchanged
#   ENGINE     libfuzzer (default; needs clang with libFuzzer, Debian package
#              libclang-rt-14-dev) or afl (needs CMAKE_C_COMPILER
#              afl-clang-fast: AFL++ persistent mode, and the same binary
#              replays files given as arguments); default afl when the
#              compiler is afl-clang-*
#   SEEDS      .fray scripts: `fray fuzz --prepare` encodes each into
#              <build>/NAME.fuzz/seeds/ and mines <build>/NAME.fuzz/fuzz.dict
#              from their sends, at build time (target NAME_seeds, which NAME
#              depends on). The target's properties FRAY_FUZZ_SEEDS and
#              FRAY_FUZZ_DICT name the two.
#   LINK_LIBRARIES  what the handler itself needs
#
# Under OSS-Fuzz and ClusterFuzzLite (the build.sh `fray ci init` writes
# passes -DLIB_FUZZING_ENGINE=...) the builder decides instead of ENGINE:
# its CFLAGS carry the sanitizer and coverage flags, LIB_FUZZING_ENGINE is
# the engine, linked last; the driver gets no coverage (driver.ignorelist)
# and SEEDS are left to the seed corpora `fray ci init` zipped.
#
# The installed libfray must not have been built with gcc's sanitizers
# (FRAY_ENABLE_ASAN with gcc): their runtime cannot be linked with clang's.
include_guard(GLOBAL)
include(CheckCSourceCompiles)

# The engine's flags: _fray_fuzz_cover for the code under test, _fray_fuzz_link
# for the executable; both on the caller's scope.
macro(_fray_fuzz_engine_flags name engine)
  set(_fray_fuzz_san -fsanitize=address,undefined -fno-sanitize-recover=all
      -fno-omit-frame-pointer)
  if("${engine}" STREQUAL "libfuzzer")
    if(NOT CMAKE_C_COMPILER_ID STREQUAL "Clang")
      message(FATAL_ERROR "fray_add_fuzz_target(${name}): ENGINE libfuzzer needs clang "
                          "(-DCMAKE_C_COMPILER=clang), not ${CMAKE_C_COMPILER_ID}")
    endif()
    if(NOT DEFINED FRAY_FUZZ_HAVE_LIBFUZZER)
      set(CMAKE_REQUIRED_FLAGS -fsanitize=fuzzer)
      check_c_source_compiles(
        "#include <stddef.h>\nint LLVMFuzzerTestOneInput(const unsigned char *d, size_t n) { return (int)n + (d != 0); }"
        FRAY_FUZZ_HAVE_LIBFUZZER)
      unset(CMAKE_REQUIRED_FLAGS)
    endif()
    if(NOT FRAY_FUZZ_HAVE_LIBFUZZER)
      message(FATAL_ERROR "fray_add_fuzz_target(${name}): clang cannot link -fsanitize=fuzzer "
                          "(libFuzzer is missing: install libclang-rt-14-dev, or your clang's "
                          "compiler-rt)")
    endif()
    set(_fray_fuzz_cover ${_fray_fuzz_san} -fsanitize=fuzzer-no-link)
    set(_fray_fuzz_link -fsanitize=fuzzer,address,undefined)
  elseif("${engine}" STREQUAL "afl")
    if(NOT CMAKE_C_COMPILER MATCHES "afl-clang")
      message(FATAL_ERROR "fray_add_fuzz_target(${name}): ENGINE afl needs "
                          "-DCMAKE_C_COMPILER=afl-clang-fast (or afl-clang-lto)")
    endif()
    set(_fray_fuzz_cover ${_fray_fuzz_san})
    set(_fray_fuzz_link -fsanitize=address,undefined)
  elseif("${engine}" STREQUAL "external")
    set(_fray_fuzz_san "")
    set(_fray_fuzz_cover "")
    set(_fray_fuzz_link "")
  else()
    message(FATAL_ERROR "fray_add_fuzz_target(${name}): ENGINE must be libfuzzer or afl, "
                        "not '${engine}'")
  endif()
endmacro()

function(fray_add_fuzz_target name)
  cmake_parse_arguments(PARSE_ARGV 1 A "" "HANDLER;ENGINE" "SOURCES;SEEDS;LINK_LIBRARIES")
  if(A_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "fray_add_fuzz_target(${name}): unknown arguments ${A_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT A_SOURCES)
    message(FATAL_ERROR "fray_add_fuzz_target(${name}): SOURCES names no handler source")
  endif()
  if(NOT A_ENGINE)
    set(A_ENGINE libfuzzer)
    if(CMAKE_C_COMPILER MATCHES "afl-clang")
      set(A_ENGINE afl)
    endif()
  endif()
  if(DEFINED LIB_FUZZING_ENGINE)
    set(A_ENGINE external)
  endif()
  _fray_fuzz_engine_flags(${name} ${A_ENGINE})

  # The driver: sanitized like everything else, never instrumented.
  set(drv ${name}_fray_driver)
  add_library(${drv} OBJECT ${FRAY_FUZZ_DATADIR}/fray_fuzz_main.c)
  target_include_directories(${drv} PRIVATE ${FRAY_FUZZ_DATADIR})
  target_link_libraries(${drv} PRIVATE fray::fray_static)
  target_compile_options(${drv} PRIVATE ${_fray_fuzz_san})
  if(A_HANDLER)
    target_compile_definitions(${drv} PRIVATE FRAY_FUZZ_HANDLER=${A_HANDLER})
  endif()
  if(A_ENGINE STREQUAL "external" AND CMAKE_C_COMPILER_ID STREQUAL "Clang")
    # The builder's CFLAGS instrument everything; the ignore list exempts it.
    target_compile_options(${drv} PRIVATE
      -fsanitize-coverage-ignorelist=${FRAY_FUZZ_DATADIR}/driver.ignorelist)
  endif()
  if(CMAKE_C_COMPILER MATCHES "afl-")
    set_target_properties(${drv} PROPERTIES C_COMPILER_LAUNCHER
      "env;AFL_LLVM_DENYLIST=${FRAY_FUZZ_DATADIR}/driver.ignorelist")
  endif()
  if(A_ENGINE STREQUAL "afl")
    # Our own main: persistent mode with shared-memory inputs, or replay.
    target_sources(${drv} PRIVATE ${FRAY_FUZZ_DATADIR}/standalone_main.c)
  endif()

  add_executable(${name} ${A_SOURCES} $<TARGET_OBJECTS:${drv}>)
  target_compile_options(${name} PRIVATE ${_fray_fuzz_cover})
  target_compile_definitions(${name} PRIVATE FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION=1)
  target_link_options(${name} PRIVATE ${_fray_fuzz_link})
  target_link_libraries(${name} PRIVATE fray::fray_static ${A_LINK_LIBRARIES})
  if(A_ENGINE STREQUAL "external")
    separate_arguments(_fray_fuzz_engine UNIX_COMMAND "${LIB_FUZZING_ENGINE}")
    target_link_libraries(${name} PRIVATE ${_fray_fuzz_engine}) # last, after libfray
  endif()

  set(work ${CMAKE_CURRENT_BINARY_DIR}/${name}.fuzz)
  set_target_properties(${name} PROPERTIES FRAY_FUZZ_SEEDS ${work}/seeds FRAY_FUZZ_DICT
    ${work}/fuzz.dict)
  if(A_SEEDS AND NOT A_ENGINE STREQUAL "external")
    if(NOT EXISTS "${FRAY_EXECUTABLE}")
      message(FATAL_ERROR "fray_add_fuzz_target(${name}): SEEDS need the fray command, "
                          "not installed at ${FRAY_EXECUTABLE}")
    endif()
    set(scripts "")
    foreach(s ${A_SEEDS})
      get_filename_component(s ${s} ABSOLUTE)
      list(APPEND scripts ${s})
    endforeach()
    add_custom_command(OUTPUT ${work}/fuzz.dict
      COMMAND ${FRAY_EXECUTABLE} fuzz --prepare --out ${work} ${scripts}
      DEPENDS ${scripts} VERBATIM
      COMMENT "fray: seeds and dictionary for ${name}")
    add_custom_target(${name}_seeds DEPENDS ${work}/fuzz.dict)
    add_dependencies(${name} ${name}_seeds)
  endif()
endfunction()
