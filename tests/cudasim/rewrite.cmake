# cudasim: a .cu file as C++ for the CPU (cmake -DIN=file.cu -DOUT=file.cc -P rewrite.cmake).
# Every launch `kernel<<<config>>>(args)` becomes
#   pd_sim_launch("kernel", pd_sim_config(config), [](auto... a_) { kernel(a_...); }, args)
# (cudasim_kernel.h): the call in the lambda deduces a template kernel's arguments as the launch does.
# #line keeps compiler messages on the .cu file's own lines.
file(READ "${IN}" src)
string(REGEX REPLACE "([A-Za-z_][A-Za-z0-9_]*(<[^<>;]*>)?)[ \t\r\n]*<<<([^;]*)>>>[ \t\r\n]*\\("
       "pd_sim_launch(\"\\1\", pd_sim_config(\\3), [](auto... a_) { \\1(a_...); }, " src "${src}")
if(src MATCHES "<<<|>>>")
  message(FATAL_ERROR "cudasim: ${IN}: a kernel launch the rewrite does not understand is left")
endif()
file(WRITE "${OUT}.tmp" "#include \"cudasim_kernel.h\"\n#line 1 \"${IN}\"\n${src}")
file(COPY_FILE "${OUT}.tmp" "${OUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUT}.tmp")
