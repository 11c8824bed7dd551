// How many CPUs the process may keep busy, for sizing thread pools.
//
// std::thread::hardware_concurrency() counts the machine's cores. In a container with a
// CPU quota (Kubernetes' `limits.cpu`, `docker run --cpus`) or a narrowed affinity mask
// (`taskset`, cpusets) the process gets fewer, and threads sized to the host's cores only
// contend for the quota.
//
// Thread safety: every function may be called from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace gannet {

// The fewest of: the machine's cores, the CPUs in the affinity mask, and the cgroup's CPU
// quota rounded up (cgroup v2 `cpu.max`, else v1 `cpu.cfs_quota_us` / `cpu.cfs_period_us`).
// At least 1. Read once, on the first call.
unsigned UsableCores();

// The cores a cgroup v2 `cpu.max` line allows: ceil(quota / period) of "200000 100000";
// nullopt for "max 100000" (no quota) and for anything that does not parse.
std::optional<unsigned> CoresOfCpuMax(std::string_view line);
// The same for cgroup v1's quota and period in microseconds (a quota of -1: none).
std::optional<unsigned> CoresOfCfsQuota(int64_t quota_us, int64_t period_us);

}  // namespace gannet
