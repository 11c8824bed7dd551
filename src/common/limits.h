// What the process may use: cores and memory, for sizing thread pools and the memory
// budget.
//
// std::thread::hardware_concurrency() and the physical memory describe the machine. In a
// container with a CPU quota or a memory limit (Kubernetes' `limits`, `docker run
// --cpus/--memory`, systemd's CPUQuota=/MemoryMax=), or with a narrowed affinity mask
// (`taskset`, cpusets), the process gets less, and sizing to the machine only contends for
// the quota or invites the OOM killer. The limits are read from the cgroup the process
// is in (/proc/self/cgroup) and every one of its ancestors: a limit set on a parent (a
// pod) binds the child too.
//
// Thread safety: every function may be called from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gannet {

// The fewest of: the machine's cores, the CPUs in the affinity mask, and the cgroup CPU
// quotas rounded up (cgroup v2 `cpu.max`, v1 `cpu.cfs_quota_us` / `cpu.cfs_period_us`).
// At least 1. Read once, on the first call.
unsigned UsableCores();
// The least of the physical memory and the cgroup memory limits (v2 `memory.max`, v1
// `memory.limit_in_bytes`). Read on every call.
uint64_t UsableMemoryBytes();

// The cores a cgroup v2 `cpu.max` line allows: ceil(quota / period) of "200000 100000";
// nullopt for "max 100000" (no quota) and for anything that does not parse.
std::optional<unsigned> CoresOfCpuMax(std::string_view line);
// The same for cgroup v1's quota and period in microseconds (a quota of -1: none).
std::optional<unsigned> CoresOfCfsQuota(int64_t quota_us, int64_t period_us);

// The cgroup directories whose limits apply to a process, given the text of its
// /proc/self/cgroup, innermost first, each followed by its ancestors up to the
// hierarchy's root: for the v2 hierarchy ("0::/a/b") under `root` ("/sys/fs/cgroup"), or
// with `v1_controller` (e.g. "memory") the v1 hierarchy holding that controller
// ("4:memory:/a/b", or "2:cpu,cpuacct:/a") under root/<its controllers>. Empty when
// there is no such line.
std::vector<std::string> CgroupDirs(std::string_view proc_self_cgroup, std::string_view root,
                                    std::string_view v1_controller = {});

}  // namespace gannet
