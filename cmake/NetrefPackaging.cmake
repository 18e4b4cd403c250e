# CPack: `cpack -G DEB` in a build tree makes one Debian package of what `cmake --install`
# puts in place: the layer libraries, the headers (with netref/version.hpp), the CMake package
# and netref.pc, and the netref and netref_registry programs when they were built.
# scripts/package-test.sh builds it, checks its contents and builds a consumer against it.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME libnetref-dev)
set(CPACK_PACKAGE_VENDOR netref)
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${PROJECT_DESCRIPTION}")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_PACKAGE_CONTACT "netref maintainers <netref@localhost>")
set(CPACK_RESOURCE_FILE_LICENSE ${PROJECT_SOURCE_DIR}/LICENSE)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # libnetref-dev_0.1.0_amd64.deb
set(CPACK_DEBIAN_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_COMPRESSION_TYPE gzip)  # xz takes minutes over static libraries with debug info
# Runtime libraries for the programs (and a shared netref), development packages for the
# headers (cereal's) and for find_dependency(OpenSSL/ZLIB) and static linking.
set(NETREF_DEB_DEPENDS "libc6, libstdc++6, libgcc-s1, libssl3, zlib1g, libcereal-dev, libssl-dev, zlib1g-dev")
if(NETREF_WITH_ETCD)  # find_package(netref) looks for them when netref::etcd is in the package
  string(APPEND NETREF_DEB_DEPENDS ", libcurl4-openssl-dev, nlohmann-json3-dev")
endif()
if(NETREF_WITH_METRICS)  # and for cpp-httplib, through pkg-config, when netref::metrics is
  string(APPEND NETREF_DEB_DEPENDS ", libcpp-httplib-dev, pkg-config")
endif()
set(CPACK_DEBIAN_PACKAGE_DEPENDS "${NETREF_DEB_DEPENDS}")
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION  # CPack puts the summary first and indents each line
"netref is a C++20 framework for transparent remote objects, wire-compatible with
Python's rpyc 5.x and 6.x. This package holds the libraries, headers, CMake package
(find_package(netref)) and pkg-config file, and the netref and netref_registry programs.")
include(CPack)
