# Install libpintdiff, its headers, the command, and a CMake package (find_package(pintdiff)).
include(CMakePackageConfigHelpers)

install(TARGETS pintdiff EXPORT pintdiffTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
if(PD_CUDA_SIM) # a test build: libpintdiff needs its simulated device beside it
  install(TARGETS pd_cudasim EXPORT pintdiffTargets LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
endif()
install(TARGETS pintdiff_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY include/pintdiff DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/include/pintdiff/version.h
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/pintdiff)
install(EXPORT pintdiffTargets NAMESPACE pintdiff::
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/pintdiff)
configure_package_config_file(cmake/pintdiffConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/pintdiffConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/pintdiff)
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/pintdiffConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/pintdiffConfig.cmake
              ${CMAKE_CURRENT_BINARY_DIR}/pintdiffConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/pintdiff)
