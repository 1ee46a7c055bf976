# Shared build helpers: dependencies are found once here, components call
# syncline_add_library() / syncline_add_test() (absl_cc_library shape).
include_guard(GLOBAL)

find_package(cppzmq REQUIRED)
find_package(msgpack-cxx QUIET)
if(NOT TARGET msgpack-cxx)
  find_package(msgpackc-cxx REQUIRED CONFIG NAMES msgpackc-cxx msgpack)
endif()
find_package(RocksDB REQUIRED CONFIG)
find_package(Boost REQUIRED COMPONENTS program_options)
find_package(nlohmann_json REQUIRED)
find_package(SQLite3 REQUIRED)
find_package(Threads REQUIRED)
# One switch per target that needs an external client library (docs/targets/README.md "Build
# switches"). OFF leaves the kind out of the registry (a URI of that kind is refused naming its
# switch) and its package out of the build: with all OFF a build needs only the core packages
# below (ZeroMQ, RocksDB, SQLite, Boost.Program_options, nlohmann-json, simdjson, Lua, OpenSSL,
# cpp-httplib). Capture reads PostgreSQL, so it comes with SYNCLINE_WITH_POSTGRES.
option(SYNCLINE_WITH_POSTGRES "postgresql:// target and PostgreSQL change capture (libpq)" ON)
option(SYNCLINE_WITH_MYSQL "mysql:// and mariadb:// target (libmariadb)" ON)
option(SYNCLINE_WITH_REDIS "redis:// target (hiredis)" ON)
option(SYNCLINE_WITH_NATS "nats:// target (libnats)" ON)
option(SYNCLINE_WITH_AMQP "amqp:// target (librabbitmq)" ON)
option(SYNCLINE_WITH_HTTP "http(s)://, smtp(s)://, fcm:// and apns:// targets (libcurl)" ON)
# The switches as 0/1 compile definitions, for the few sources that list the kinds
# (targets/target.cc, the capture commands of cli/): `#if SYNCLINE_WITH_REDIS`.
set(SYNCLINE_SWITCH_DEFINITIONS)
foreach(kind POSTGRES MYSQL REDIS NATS AMQP HTTP)
  if(SYNCLINE_WITH_${kind})
    list(APPEND SYNCLINE_SWITCH_DEFINITIONS SYNCLINE_WITH_${kind}=1)
  else()
    list(APPEND SYNCLINE_SWITCH_DEFINITIONS SYNCLINE_WITH_${kind}=0)
  endif()
endforeach()

# Core: HTTP endpoints (metrics, gateway) and HMAC/ECDSA (webhook signatures, the gateway).
find_package(OpenSSL REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(HTTPLIB REQUIRED IMPORTED_TARGET cpp-httplib)
if(SYNCLINE_WITH_POSTGRES)
  find_package(PostgreSQL REQUIRED)
endif()
if(SYNCLINE_WITH_HTTP)
  find_package(CURL REQUIRED)
endif()
if(SYNCLINE_WITH_REDIS)
  pkg_check_modules(HIREDIS REQUIRED IMPORTED_TARGET hiredis)
endif()
if(SYNCLINE_WITH_MYSQL)
  pkg_check_modules(MARIADB REQUIRED IMPORTED_TARGET libmariadb)
endif()
if(SYNCLINE_WITH_NATS)
  pkg_check_modules(NATS REQUIRED IMPORTED_TARGET libnats)
endif()
if(SYNCLINE_WITH_AMQP)
  pkg_check_modules(RABBITMQ REQUIRED IMPORTED_TARGET librabbitmq)
endif()
pkg_check_modules(LUA REQUIRED IMPORTED_TARGET lua5.4)
# The ingest path's JSON (gateway/json_records.h): simdjson.
find_package(simdjson REQUIRED CONFIG)
if(SYNCLINE_BUILD_TESTS)
  find_package(GTest REQUIRED)
  include(GoogleTest)
  enable_testing()
endif()

if(TARGET msgpack-cxx)
  set(SYNCLINE_MSGPACK msgpack-cxx)
else()
  set(SYNCLINE_MSGPACK msgpackc-cxx)
endif()

# ccache when installed (scripts/setup.sh installs it): CCACHE_BASEDIR makes paths relative to the
# checkout, so a fresh clone in another directory hits the same cache (docs/operations.md, "CI").
# An explicit -DCMAKE_CXX_COMPILER_LAUNCHER wins; -DSYNCLINE_CCACHE=OFF turns it off.
option(SYNCLINE_CCACHE "Compile through ccache when it is installed" ON)
if(SYNCLINE_CCACHE AND NOT CMAKE_CXX_COMPILER_LAUNCHER)
  find_program(SYNCLINE_CCACHE_PROGRAM ccache)
  if(SYNCLINE_CCACHE_PROGRAM)
    set(CMAKE_CXX_COMPILER_LAUNCHER ${CMAKE_COMMAND} -E env CCACHE_BASEDIR=${PROJECT_SOURCE_DIR}
        CCACHE_NOHASHDIR=1 ${SYNCLINE_CCACHE_PROGRAM})
  endif()
endif()

set(SYNCLINE_WARNINGS -Wall -Wextra)
if(SYNCLINE_WERROR)
  list(APPEND SYNCLINE_WARNINGS -Werror)
endif()
if(SYNCLINE_SANITIZE)
  # Any finding fails the test that hit it, rather than printing and carrying on.
  add_compile_options(-fsanitize=${SYNCLINE_SANITIZE} -fno-sanitize-recover=all -fno-omit-frame-pointer)
  # g++ 12 reports false maybe-uninitialized warnings inside libstdc++ (std::regex, std::function)
  # when sanitizers instrument them; the plain build keeps the warning.
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    add_compile_options(-Wno-maybe-uninitialized)
  endif()
  add_link_options(-fsanitize=${SYNCLINE_SANITIZE})
  # Lean: the sanitizer build exists to run the suite, not to debug in; -O1 with line tables
  # (-g1, enough for symbolized reports) compiles and links much faster than -O2 -g.
  if(CMAKE_BUILD_TYPE STREQUAL "RelWithDebInfo" AND CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    set(CMAKE_CXX_FLAGS_RELWITHDEBINFO "-O1 -g1 -DNDEBUG")
  endif()
endif()

# Sanitized processes run 2-5x slower: every test deadline (tests/support/harness.h time_factor)
# and every ctest TIMEOUT is multiplied by this one factor. SYNCLINE_TEST_TIME_FACTOR in the
# environment overrides the deadlines at run time (e.g. on a machine shared with other builds).
if(SYNCLINE_SANITIZE)
  set(SYNCLINE_TEST_TIME_FACTOR 3 CACHE STRING "Whole-number multiplier for test deadlines and ctest timeouts")
else()
  set(SYNCLINE_TEST_TIME_FACTOR 1 CACHE STRING "Whole-number multiplier for test deadlines and ctest timeouts")
endif()

# syncline_add_library(NAME n SRCS ... [DEPS public...] [PRIVATE_DEPS ...])
# creates syncline_<n> with alias syncline::<n>; include dir is the repo root.
function(syncline_add_library)
  cmake_parse_arguments(A "" "NAME" "SRCS;DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(syncline_${A_NAME} STATIC ${A_SRCS})
  add_library(syncline::${A_NAME} ALIAS syncline_${A_NAME})
  target_include_directories(syncline_${A_NAME} PUBLIC ${PROJECT_SOURCE_DIR})
  target_compile_options(syncline_${A_NAME} PRIVATE ${SYNCLINE_WARNINGS})
  target_link_libraries(syncline_${A_NAME} PUBLIC ${A_DEPS} PRIVATE ${A_PRIVATE_DEPS})
endfunction()

# syncline_add_executable(NAME n SRCS ... DEPS ...): a thin main linked to its library.
function(syncline_add_executable)
  cmake_parse_arguments(A "" "NAME" "SRCS;DEPS" ${ARGN})
  add_executable(${A_NAME} ${A_SRCS})
  target_compile_options(${A_NAME} PRIVATE ${SYNCLINE_WARNINGS})
  target_link_libraries(${A_NAME} PRIVATE ${A_DEPS})
  install(TARGETS ${A_NAME} RUNTIME DESTINATION bin)
  # The package's --help pages (cmake/packaging.cmake) cover every installed program.
  set_property(GLOBAL APPEND PROPERTY SYNCLINE_EXECUTABLES ${A_NAME})
endfunction()

# syncline_add_test(NAME n LABEL unit|integration SRCS ... DEPS ... [TIMEOUT s])
# one gtest binary, each test discovered and given a timeout.
function(syncline_add_test)
  if(NOT SYNCLINE_BUILD_TESTS)
    return()
  endif()
  cmake_parse_arguments(A "" "NAME;LABEL;TIMEOUT" "SRCS;DEPS" ${ARGN})
  if(NOT A_TIMEOUT)
    set(A_TIMEOUT 120)
  endif()
  math(EXPR A_TIMEOUT "${A_TIMEOUT} * ${SYNCLINE_TEST_TIME_FACTOR}")
  add_executable(${A_NAME} ${A_SRCS})
  target_compile_options(${A_NAME} PRIVATE ${SYNCLINE_WARNINGS})
  target_link_libraries(${A_NAME} PRIVATE ${A_DEPS} GTest::gtest GTest::gtest_main Threads::Threads)
  gtest_discover_tests(${A_NAME}
    PROPERTIES LABELS ${A_LABEL} TIMEOUT ${A_TIMEOUT}
    DISCOVERY_TIMEOUT 60)
endfunction()
