#include "common/cpus.h"

#include <gtest/gtest.h>
#include <sched.h>

#include <thread>

namespace gannet {
namespace {

TEST(CpusTest, CgroupQuotasRoundUpToWholeCores) {
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

TEST(CpusTest, UsableCoresIsWithinTheMachineAndTheAffinityMask) {
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
