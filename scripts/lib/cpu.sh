# Sourced by the benchmarks: cpu_name prints the CPU as every figure is labelled, its model name with the family
# and model numbers (a VM often reports only "AMD EPYC" or "Intel Xeon Processor", which names no generation).
cpu_name() {
  local name family model
  name=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
  family=$(sed -n 's/^cpu family[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
  model=$(sed -n 's/^model[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
  echo "${name:-unknown CPU} (family ${family:-?} model ${model:-?})"
}
