# Sourced by the benchmarks: cpu_name prints the CPU as every figure is labelled, its model name with the family
# and model numbers (a VM often reports only "AMD EPYC" or "Intel Xeon Processor", which names no generation), and
# which CPUs share a core as the machine reports it: two threads of one core split its units and caches, which
# changes how batch 1 (one clip split over both) compares with larger batches (a clip per thread).
cpu_name() {
  local name family model
  name=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
  family=$(sed -n 's/^cpu family[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
  model=$(sed -n 's/^model[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
  local siblings
  siblings=$(sort -u /sys/devices/system/cpu/cpu*/topology/thread_siblings_list 2>/dev/null | grep -E '[,-]' | paste -sd ' ' || true)
  echo "${name:-unknown CPU} (family ${family:-?} model ${model:-?}; CPUs sharing a core: ${siblings:-none})"
}
