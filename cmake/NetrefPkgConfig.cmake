# netref.pc: `pkg-config --cflags --libs netref` for builds without CMake. Relocatable: the
# prefix is found from the file's own place (${pcfiledir}), so an install moved elsewhere (a
# DESTDIR, a .deb unpacked into a scratch root) still points at its own headers and libraries.
# Libs lists every layer library, the highest first, as a linker needs them.
set(netref_pc_libs "")
set(netref_layers_reversed ${NETREF_LAYERS})
list(REVERSE netref_layers_reversed)
foreach(layer IN LISTS netref_layers_reversed)
  if(TARGET netref_${layer})
    string(APPEND netref_pc_libs " -lnetref_${layer}")
  endif()
endforeach()
string(STRIP "${netref_pc_libs}" NETREF_PC_LIBS)

# OpenSSL and zlib are private to the stream and channel layers. A shared netref carries them
# itself (Requires.private); a static one needs them on every link line (Requires).
if(NETREF_BUILD_SHARED)
  set(NETREF_PC_REQUIRES "")
  set(NETREF_PC_REQUIRES_PRIVATE "openssl zlib")
  set(NETREF_PC_LIBS_PRIVATE "-pthread")
else()
  set(NETREF_PC_REQUIRES "openssl zlib")
  set(NETREF_PC_REQUIRES_PRIVATE "")
  string(APPEND NETREF_PC_LIBS " -pthread")
  set(NETREF_PC_LIBS_PRIVATE "")
endif()

# From <libdir>/pkgconfig back to the prefix: one ".." per path component.
set(netref_pc_dir ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
if(IS_ABSOLUTE "${netref_pc_dir}")
  set(NETREF_PC_TO_PREFIX "")
  set(NETREF_PC_INCLUDEDIR "${CMAKE_INSTALL_FULL_INCLUDEDIR}")
  set(NETREF_PC_LIBDIR "${CMAKE_INSTALL_FULL_LIBDIR}")
else()
  string(REGEX REPLACE "[^/]+" ".." NETREF_PC_TO_PREFIX "${netref_pc_dir}")
  set(NETREF_PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
  set(NETREF_PC_LIBDIR "\${prefix}/${CMAKE_INSTALL_LIBDIR}")
endif()
configure_file(${CMAKE_CURRENT_LIST_DIR}/netref.pc.in ${PROJECT_BINARY_DIR}/netref.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/netref.pc DESTINATION ${netref_pc_dir})
