# Dependencies, found with CMake's own modules where they exist (PLATFORM.md §2).

find_package(MPI REQUIRED COMPONENTS C)

set(HDF5_PREFER_PARALLEL ON)
find_package(HDF5 REQUIRED COMPONENTS C)
if(NOT HDF5_IS_PARALLEL)
  message(FATAL_ERROR "found serial HDF5 (${HDF5_INCLUDE_DIRS}); pintdiff needs parallel HDF5 "
                      "(Debian: libhdf5-openmpi-dev)")
endif()

find_package(PkgConfig REQUIRED)
pkg_check_modules(YAML REQUIRED IMPORTED_TARGET yaml-0.1)   # libyaml: the YAML parser
find_package(PNG REQUIRED)
find_package(ZLIB REQUIRED)

# Random123 (Philox4x32-10): header-only, usable from C and CUDA
find_path(RANDOM123_INCLUDE_DIR Random123/philox.h REQUIRED)
add_library(Random123::Random123 INTERFACE IMPORTED)
set_target_properties(Random123::Random123 PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${RANDOM123_INCLUDE_DIR}")

# BLAS with the C interface (dgemm for the dataset denoiser). OpenBLAS from Debian.
set(BLA_VENDOR OpenBLAS)
find_package(BLAS REQUIRED)
find_path(CBLAS_INCLUDE_DIR cblas.h REQUIRED
          PATHS /usr/include/x86_64-linux-gnu/openblas-pthread /usr/include/openblas /usr/include)
add_library(PD::BLAS INTERFACE IMPORTED)
set_target_properties(PD::BLAS PROPERTIES INTERFACE_LINK_LIBRARIES "${BLAS_LIBRARIES}"
                      INTERFACE_INCLUDE_DIRECTORIES "${CBLAS_INCLUDE_DIR}")
include(CheckSymbolExists)
set(CMAKE_REQUIRED_LIBRARIES ${BLAS_LIBRARIES})
check_symbol_exists(openblas_set_num_threads "${CBLAS_INCLUDE_DIR}/cblas.h" PD_HAVE_OPENBLAS_THREADS)
unset(CMAKE_REQUIRED_LIBRARIES)

# CUDA: AUTO builds it when nvcc is found, ON requires it, OFF skips it, SIM builds it for the CPU
# against cudasim (tests/cudasim: the GPU code paths and tests run without a GPU; no nvcc needed).
set(PD_HAVE_CUDA OFF)
set(PD_CUDA_SIM OFF)
if(PINTDIFF_CUDA STREQUAL "SIM")
  enable_language(CXX)
  add_subdirectory(${CMAKE_CURRENT_LIST_DIR}/../tests/cudasim ${CMAKE_BINARY_DIR}/cudasim)
  set(PD_HAVE_CUDA ON)
  set(PD_CUDA_SIM ON)
elseif(NOT PINTDIFF_CUDA STREQUAL "OFF")
  include(CheckLanguage)
  if(NOT CMAKE_CUDA_COMPILER AND EXISTS /usr/local/cuda/bin/nvcc)
    set(CMAKE_CUDA_COMPILER /usr/local/cuda/bin/nvcc)
  endif()
  check_language(CUDA)
  if(PINTDIFF_CUDA STREQUAL "ON" AND NOT CMAKE_CUDA_COMPILER)
    message(FATAL_ERROR "PINTDIFF_CUDA=ON but no CUDA compiler found (set CMAKE_CUDA_COMPILER)")
  endif()
  if(CMAKE_CUDA_COMPILER)
    if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
      set(CMAKE_CUDA_ARCHITECTURES 80 90)   # A100, H100/H200
    endif()
    set(CMAKE_CUDA_RUNTIME_LIBRARY Shared)  # else cudart_static and libcudart.so both link
    set(CMAKE_CUDA_STANDARD 17)
    enable_language(CUDA)
    find_package(CUDAToolkit REQUIRED)
    find_path(NCCL_INCLUDE_DIR nccl.h REQUIRED HINTS ${CUDAToolkit_INCLUDE_DIRS} ENV NCCL_HOME
              PATH_SUFFIXES include)
    find_library(NCCL_LIBRARY nccl REQUIRED HINTS ${CUDAToolkit_LIBRARY_DIR} ENV NCCL_HOME
                 PATH_SUFFIXES lib lib64)
    add_library(NCCL::nccl UNKNOWN IMPORTED)
    set_target_properties(NCCL::nccl PROPERTIES IMPORTED_LOCATION "${NCCL_LIBRARY}"
                          INTERFACE_INCLUDE_DIRECTORIES "${NCCL_INCLUDE_DIR}")
    set(PD_HAVE_CUDA ON)
  endif()
endif()
message(STATUS "pintdiff: CUDA backend ${PD_HAVE_CUDA} (simulated: ${PD_CUDA_SIM}), HDF5 ${HDF5_VERSION} (parallel), BLAS ${BLAS_LIBRARIES}")
