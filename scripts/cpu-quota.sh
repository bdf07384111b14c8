#!/usr/bin/env bash
# Under a CPU quota of one core, `bench` runs one BLAS thread and `serve` one BLAS and one decode thread, where
# the machine has more cores: with cgroup v2's cpu.max (a cgroup mount made up for the test, in a private mount
# namespace) and, where this machine has a writable cgroup v1 cpu hierarchy, in a real v1 cgroup with a quota. The
# same pinned to one CPU by its affinity (taskset, as docker's --cpuset-cpus pins), with no quota.
# Skips (and says so) what the machine does not allow; fails if a quota is not obeyed.
set -euo pipefail
cd "$(dirname "$0")/.."
if (($(nproc) < 2)); then echo "cpu-quota: one core here, nothing to bound; skipped"; exit 0; fi
swift build -c release --product r2plus1d >/dev/null
bin=$PWD/.build/release/r2plus1d
work=$(mktemp -d)
cleanup() {
  [[ -n ${server:-} ]] && kill "$server" 2>/dev/null || true
  [[ -n ${v1:-} && -d $v1 ]] && rmdir "$v1" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
threads() { "$@" bench --demo-weights --batch 1 --reps 1 | sed -n 's/.*, \([0-9]*\) threads$/\1/p'; }
fail() { echo "cpu-quota: $*" >&2; exit 1; }
# serve, started through the command given (which ends by running its arguments, so that $! is the server), must log
# one BLAS and one decode thread.
serve_runs_one_thread() {
  local what=$1
  shift
  "$@" "$bin" serve --demo-weights --host 127.0.0.1 --port 0 >"$work/serve.log" 2>&1 &
  server=$!
  for _ in $(seq 1 300); do grep -q 'blas.threads=' "$work/serve.log" && break; sleep 0.1; done
  grep -q 'blas.threads=1 .*decode.threads=1\|decode.threads=1 .*blas.threads=1' "$work/serve.log" ||
    fail "serve ignored $what: $(grep -o '[a-z]*\.threads=[0-9]*' "$work/serve.log" | tr '\n' ' ')"
  kill "$server" && wait "$server" || true
  server=""
}

[[ $(threads "$bin") == "$(nproc)" ]] || fail "without a quota bench should run $(nproc) threads"

# The affinity alone: the lowest CPU this process may use (a container's set need not hold CPU 0), no quota.
cpu=$(sed -n 's/^Cpus_allowed_list:[[:space:]]*\([0-9]*\).*/\1/p' /proc/self/status)
[[ $(threads taskset -c "$cpu" "$bin") == 1 ]] || fail "bench ignored an affinity of one CPU"
serve_runs_one_thread "an affinity of one CPU" taskset -c "$cpu"
echo "cpu-quota: an affinity of one CPU: bench and serve run 1 thread"

# cgroup v2: this process's cgroup is the mount's root, as in a container with its own cgroup namespace.
mkdir -p "$work/cgroup"
echo "100000 100000" >"$work/cgroup/cpu.max"
in_v2() { unshare -m sh -c 'mount --bind "$0" /sys/fs/cgroup && exec "$@"' "$work/cgroup" "$@"; }
if in_v2 true 2>/dev/null; then
  [[ $(threads in_v2 "$bin") == 1 ]] || fail "bench ignored cpu.max of one core"
  # Not through in_v2: a function run in the background is a subshell, and killing it would leave the server.
  serve_runs_one_thread "cpu.max of one core" unshare -m sh -c 'mount --bind "$0" /sys/fs/cgroup && exec "$@"' "$work/cgroup"
  echo "cpu-quota: cgroup v2 cpu.max of one core: bench and serve run 1 thread"
else
  echo "cpu-quota: cannot make a private mount namespace here (unshare -m); cgroup v2 case skipped"
fi

# cgroup v1, for real: the kernel's own files and this process's path in /proc/self/cgroup.
if [[ -f /sys/fs/cgroup/cpu/cpu.cfs_quota_us ]] && v1=/sys/fs/cgroup/cpu/r2plus1d-quota-$$ && mkdir "$v1" 2>/dev/null; then
  echo 100000 >"$v1/cpu.cfs_quota_us"
  [[ $(threads sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$v1" "$bin") == 1 ]] ||
    fail "bench ignored a cgroup v1 quota of one core"
  echo "cpu-quota: cgroup v1 quota of one core: bench runs 1 thread"
else
  v1=""
  echo "cpu-quota: no writable cgroup v1 cpu hierarchy here; v1 case skipped"
fi
