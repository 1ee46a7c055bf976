# The Debian package (CPack DEB): `cmake --build build --target package` writes
# build/syncline_<version>_amd64.deb. Contents (docs/operations.md, "Running as a service"):
#   /usr/bin/syncline*                          every program (syncline_add_executable installs it)
#   /lib/systemd/system/syncline-*.service      deploy/systemd/ units
#   /usr/share/doc/syncline/                    --help of every program and subcommand, docs, example INI
#   /usr/share/syncline/{grafana,prometheus}/   the dashboard and the alert rules
# Dependencies are the shared-library packages dpkg-shlibdeps finds for the binaries (libzmq5,
# librocksdb7.8, ...), never -dev packages. Maintainer scripts (deploy/debian/) create and remove
# the `syncline` system user.
include_guard(GLOBAL)
include(GNUInstallDirs)

set(SYNCLINE_DOC_DIR share/doc/syncline)

# --help text of every installed program, generated from the built binaries.
get_property(syncline_programs GLOBAL PROPERTY SYNCLINE_EXECUTABLES)
set(help_dir ${CMAKE_BINARY_DIR}/help)
set(help_files)
foreach(program IN LISTS syncline_programs)
  list(APPEND help_files ${help_dir}/${program}.txt)
endforeach()
string(REPLACE ";" "\\;" programs_arg "${syncline_programs}")
add_custom_command(OUTPUT ${help_files}
  COMMAND ${CMAKE_COMMAND} -DBIN_DIR=${CMAKE_RUNTIME_OUTPUT_DIRECTORY} -DOUT_DIR=${help_dir}
          "-DPROGRAMS=${programs_arg}" -P ${PROJECT_SOURCE_DIR}/cmake/help_docs.cmake
  DEPENDS ${syncline_programs} ${PROJECT_SOURCE_DIR}/cmake/help_docs.cmake
  COMMENT "Writing --help of ${syncline_programs} into ${help_dir}")
add_custom_target(syncline_help_docs ALL DEPENDS ${help_files})
install(FILES ${help_files} DESTINATION ${SYNCLINE_DOC_DIR}/help)

install(FILES README.md docs/operations.md docs/architecture.md docs/recovery.md docs/security.md
        DESTINATION ${SYNCLINE_DOC_DIR})
install(FILES deploy/debian/copyright DESTINATION ${SYNCLINE_DOC_DIR})
install(FILES deploy/etc/example.ini DESTINATION ${SYNCLINE_DOC_DIR}/examples)
install(DIRECTORY examples/ DESTINATION ${SYNCLINE_DOC_DIR}/examples FILES_MATCHING PATTERN "*.ini")
# Debian 12 units live in /lib/systemd/system (absolute: not under the install prefix).
install(FILES deploy/systemd/syncline-pipeline@.service deploy/systemd/syncline-gateway.service
              deploy/systemd/syncline-capture@.service
        DESTINATION /lib/systemd/system)
install(DIRECTORY deploy/grafana deploy/prometheus DESTINATION share/syncline OPTIONAL)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME syncline)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "data-sync engine: a durable change log delivered to targets by supervised workers")
set(CPACK_PACKAGE_DESCRIPTION "syncline tails a RocksDB change log and delivers every change to a target
(SQLite, PostgreSQL, MariaDB, Redis, RocksDB, webhooks, email, push, NATS, RabbitMQ, JSON Lines)
through stateless ZeroMQ workers, with committed offsets, fencing and dead letters.
The package ships the programs, systemd units (syncline-pipeline@.service), a Grafana dashboard
and Prometheus alert rules.")
set(CPACK_PACKAGE_CONTACT "syncline maintainers <syncline@localhost>")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES TRUE)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # syncline_<version>_<arch>.deb
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# The maintainer scripts use useradd/groupadd/userdel (passwd).
set(CPACK_DEBIAN_PACKAGE_DEPENDS "passwd")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${PROJECT_SOURCE_DIR}/deploy/debian/postinst ${PROJECT_SOURCE_DIR}/deploy/debian/prerm
    ${PROJECT_SOURCE_DIR}/deploy/debian/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)
set(CPACK_DEBIAN_COMPRESSION_TYPE gzip)  # Fast to build in the test; xz saves little on stripped binaries.
include(CPack)
