# What `cmake --install` puts under the prefix, and how other projects find it:
#   bin/annals
#   lib/libannals_{proto,core,netif,dns,storage,net,p2p,actors}.a
#   include/annals/*.hpp (the public API: include/annals/ of the source tree, no more)
#   lib/cmake/annals/  annalsConfig.cmake, annalsConfigVersion.cmake,
#                      annalsTargets*.cmake, FindCAF.cmake
#   lib/pkgconfig/annals.pc
# Included from the top CMakeLists.txt once every target exists. bench/ and
# tests/ code is not installed.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

# Dependency order (a library before the ones that use it).
set(ANNALS_INSTALL_LIBRARIES)
foreach(lib annals_proto annals_core annals_netif annals_dns annals_storage annals_net annals_p2p annals_actors)
  if(TARGET ${lib})
    list(APPEND ANNALS_INSTALL_LIBRARIES ${lib})
  endif()
endforeach()
set(ANNALS_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/annals)
set(ANNALS_INSTALL_HEADERDIR ${CMAKE_INSTALL_INCLUDEDIR}/annals)

# annals::core, annals::actors, ... for consumers; the same names in this tree.
foreach(lib IN LISTS ANNALS_INSTALL_LIBRARIES)
  string(REGEX REPLACE "^annals_" "" name ${lib})
  set_target_properties(${lib} PROPERTIES EXPORT_NAME ${name})
  add_library(annals::${name} ALIAS ${lib})
endforeach()

# annals::annals: every library (the executable already owns the name annals).
add_library(annals_all INTERFACE)
set_target_properties(annals_all PROPERTIES EXPORT_NAME annals)
target_link_libraries(annals_all INTERFACE ${ANNALS_INSTALL_LIBRARIES})
target_compile_features(annals_all INTERFACE cxx_std_17)
add_library(annals::annals ALIAS annals_all)

# Everything the install copies; the embedding test builds it first.
add_custom_target(annals_installables)
add_dependencies(annals_installables annals ${ANNALS_INSTALL_LIBRARIES})

install(TARGETS annals RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
# Only the public API is installed: a host includes <annals/node.hpp> and
# friends; the actors' state structs, the stores and the codecs stay private.
install(TARGETS ${ANNALS_INSTALL_LIBRARIES} annals_all EXPORT annalsTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
# Read at install time, so a header added later is installed without a reconfigure.
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/annals
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  FILES_MATCHING PATTERN "*.hpp")

# --- CMake package: find_package(annals) -------------------------------------
install(EXPORT annalsTargets NAMESPACE annals:: DESTINATION ${ANNALS_INSTALL_CMAKEDIR})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/annalsConfig.cmake.in
  ${PROJECT_BINARY_DIR}/annalsConfig.cmake
  INSTALL_DESTINATION ${ANNALS_INSTALL_CMAKEDIR})
# 0.x: a minor version may break the API.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/annalsConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES
    ${PROJECT_BINARY_DIR}/annalsConfig.cmake
    ${PROJECT_BINARY_DIR}/annalsConfigVersion.cmake
    ${PROJECT_SOURCE_DIR}/cmake/FindCAF.cmake
  DESTINATION ${ANNALS_INSTALL_CMAKEDIR})

# --- pkg-config: annals.pc ---------------------------------------------------
# Relocatable: paths are relative to the .pc file, so `--prefix` at install time
# and DESTDIR work.
file(RELATIVE_PATH ANNALS_PC_PREFIX
  ${CMAKE_INSTALL_FULL_LIBDIR}/pkgconfig ${CMAKE_INSTALL_PREFIX})
string(REGEX REPLACE "/$" "" ANNALS_PC_PREFIX "${ANNALS_PC_PREFIX}")
# Our libraries, users first.
set(ANNALS_PC_LIBS)
foreach(lib IN LISTS ANNALS_INSTALL_LIBRARIES)
  set(ANNALS_PC_LIBS "-l${lib} ${ANNALS_PC_LIBS}")
endforeach()
# CAF has no .pc file; name its library (and its folder when not a default one).
get_filename_component(caf_libdir ${CAF_CORE_LIBRARY} DIRECTORY)
if(NOT caf_libdir IN_LIST CMAKE_CXX_IMPLICIT_LINK_DIRECTORIES)
  set(ANNALS_PC_LIBS "${ANNALS_PC_LIBS}-L${caf_libdir} ")
endif()
configure_file(${PROJECT_SOURCE_DIR}/cmake/annals.pc.in ${PROJECT_BINARY_DIR}/annals.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/annals.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
