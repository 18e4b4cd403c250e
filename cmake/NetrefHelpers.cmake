# netref_add_layer(<name> SOURCES ... PUBLIC_DEPS ... PRIVATE_DEPS ...)
# One static library per layer, aliased as netref::<name>, headers under <name>/include.
function(netref_add_layer name)
  cmake_parse_arguments(ARG "" "" "SOURCES;PUBLIC_DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(netref_${name} ${ARG_SOURCES})
  add_library(netref::${name} ALIAS netref_${name})
  set_target_properties(netref_${name} PROPERTIES EXPORT_NAME ${name})
  target_include_directories(netref_${name} PUBLIC
    $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include>
    $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  target_compile_features(netref_${name} PUBLIC cxx_std_20)
  target_link_libraries(netref_${name} PUBLIC ${ARG_PUBLIC_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
  netref_warnings(netref_${name})
endfunction()

function(netref_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor
    -Wno-missing-field-initializers)  # designated initializers ({.port = 1}) leave the rest defaulted on purpose
  if(NETREF_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
