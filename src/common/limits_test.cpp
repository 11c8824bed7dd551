#include "common/limits.h"

#include <gtest/gtest.h>
#include <sched.h>
#include <unistd.h>

#include <string>
#include <thread>
#include <vector>

namespace gannet {
namespace {

TEST(LimitsTest, CgroupQuotasRoundUpToWholeCores) {
  EXPECT_EQ(CoresOfCpuMax("200000 100000"), 2u);
  EXPECT_EQ(CoresOfCpuMax("150000 100000\n"), 2u);  // 1.5 CPUs: two threads can use it
  EXPECT_EQ(CoresOfCpuMax("50000 100000"), 1u);
  EXPECT_EQ(CoresOfCpuMax("max 100000"), std::nullopt);  // no quota
  EXPECT_EQ(CoresOfCpuMax(""), std::nullopt);
  EXPECT_EQ(CoresOfCpuMax("200000"), std::nullopt);
  EXPECT_EQ(CoresOfCpuMax("2e5 100000"), std::nullopt);
  EXPECT_EQ(CoresOfCpuMax("200000 0"), std::nullopt);
  EXPECT_EQ(CoresOfCfsQuota(-1, 100000), std::nullopt);  // v1: no quota
  EXPECT_EQ(CoresOfCfsQuota(400000, 100000), 4u);
  EXPECT_EQ(CoresOfCfsQuota(1, 100000), 1u);
}

// The cgroup directories of a process, innermost first, with every ancestor (a limit
// on a parent, such as a Kubernetes pod's, binds its children).
TEST(LimitsTest, CgroupDirsListTheProcessCgroupAndItsAncestors) {
  const std::string_view v2 = "0::/kubepods/pod1/ctr\n";
  EXPECT_EQ(
      CgroupDirs(v2, "/sys/fs/cgroup"),
      (std::vector<std::string>{"/sys/fs/cgroup/kubepods/pod1/ctr", "/sys/fs/cgroup/kubepods/pod1",
                                "/sys/fs/cgroup/kubepods", "/sys/fs/cgroup"}));
  EXPECT_EQ(CgroupDirs("0::/\n", "/r"), (std::vector<std::string>{"/r"}));  // a namespace
  EXPECT_TRUE(CgroupDirs(v2, "/r", "memory").empty());                      // no v1 line
  const std::string_view v1 =
      "9:name=systemd:/\n4:memory:/process_api/abc\n2:cpu,cpuacct:/x/\n0::/\n";
  EXPECT_EQ(CgroupDirs(v1, "/r", "memory"),
            (std::vector<std::string>{"/r/memory/process_api/abc", "/r/memory/process_api",
                                      "/r/memory"}));
  EXPECT_EQ(CgroupDirs(v1, "/r", "cpu"),
            (std::vector<std::string>{"/r/cpu,cpuacct/x", "/r/cpu,cpuacct"}));
  EXPECT_EQ(CgroupDirs(v1, "/r"), (std::vector<std::string>{"/r"}));
  EXPECT_TRUE(CgroupDirs(v1, "/r", "pids").empty());
  EXPECT_TRUE(CgroupDirs("garbage\n::\n1:cpu:relative\n", "/r", "cpu").empty());
  EXPECT_TRUE(CgroupDirs("", "/r").empty());
}

TEST(LimitsTest, UsableMemoryIsAtMostThePhysicalMemory) {
  const uint64_t bytes = UsableMemoryBytes();
  EXPECT_GT(bytes, 0u);
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  if (pages > 0 && page > 0) {
    EXPECT_LE(bytes, static_cast<uint64_t>(pages) * page);
  }
}

TEST(LimitsTest, UsableCoresIsWithinTheMachineAndTheAffinityMask) {
  const unsigned cores = UsableCores();
  EXPECT_GE(cores, 1u);
  EXPECT_LE(cores, std::max(1u, std::thread::hardware_concurrency()));
  cpu_set_t set;
  ASSERT_EQ(sched_getaffinity(0, sizeof(set), &set), 0);
  EXPECT_LE(cores, static_cast<unsigned>(CPU_COUNT(&set)));
  EXPECT_EQ(UsableCores(), cores);  // read once
}

}  // namespace
}  // namespace gannet
