# netref_add_layer(<name> SOURCES ... PUBLIC_DEPS ... PRIVATE_DEPS ...)
# One library per layer (static, or shared with NETREF_BUILD_SHARED), aliased as
# netref::<name>, headers under <name>/include. A shared layer exports only what its public
# headers mark NETREF_API (netref/export.hpp); everything else stays hidden.
function(netref_add_layer name)
  cmake_parse_arguments(ARG "" "" "SOURCES;PUBLIC_DEPS;PRIVATE_DEPS" ${ARGN})
  if(NETREF_BUILD_SHARED)
    add_library(netref_${name} SHARED ${ARG_SOURCES})
    set_target_properties(netref_${name} PROPERTIES
      CXX_VISIBILITY_PRESET hidden
      VISIBILITY_INLINES_HIDDEN ON
      VERSION ${PROJECT_VERSION}
      SOVERSION ${PROJECT_VERSION_MAJOR}.${PROJECT_VERSION_MINOR})  # 0.x: each minor may break the ABI
    target_compile_definitions(netref_${name} PRIVATE NETREF_BUILDING_SHARED)
  else()
    add_library(netref_${name} STATIC ${ARG_SOURCES})
  endif()
  add_library(netref::${name} ALIAS netref_${name})
  set_target_properties(netref_${name} PROPERTIES EXPORT_NAME ${name})
  target_include_directories(netref_${name} PUBLIC
    $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include>
    $<BUILD_INTERFACE:${NETREF_GENERATED_INCLUDE_DIR}>
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
