#include "common/cpus.h"

#include <sched.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <string>
#include <thread>

namespace gannet {

namespace {

std::optional<int64_t> ParseInt(std::string_view s) {
  int64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

std::optional<std::string> ReadLine(const char* path) {
  std::ifstream in(path);
  std::string line;
  if (!in || !std::getline(in, line)) return std::nullopt;
  return line;
}

unsigned ComputeUsableCores() {
  unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    const int allowed = CPU_COUNT(&set);
    if (allowed > 0) cores = std::min(cores, static_cast<unsigned>(allowed));
  }
  std::optional<unsigned> quota;
  if (std::optional<std::string> v2 = ReadLine("/sys/fs/cgroup/cpu.max")) {
    quota = CoresOfCpuMax(*v2);
  } else {
    const std::optional<std::string> q = ReadLine("/sys/fs/cgroup/cpu/cpu.cfs_quota_us");
    const std::optional<std::string> p = ReadLine("/sys/fs/cgroup/cpu/cpu.cfs_period_us");
    if (q && p) {
      const std::optional<int64_t> qv = ParseInt(*q), pv = ParseInt(*p);
      if (qv && pv) quota = CoresOfCfsQuota(*qv, *pv);
    }
  }
  if (quota) cores = std::min(cores, *quota);
  return std::max(1u, cores);
}

}  // namespace

std::optional<unsigned> CoresOfCfsQuota(int64_t quota_us, int64_t period_us) {
  if (quota_us <= 0 || period_us <= 0) return std::nullopt;
  const int64_t cores = (quota_us + period_us - 1) / period_us;
  return static_cast<unsigned>(std::clamp<int64_t>(cores, 1, 1 << 16));
}

std::optional<unsigned> CoresOfCpuMax(std::string_view line) {
  while (!line.empty() && (line.back() == '\n' || line.back() == ' ')) line.remove_suffix(1);
  const size_t space = line.find(' ');
  if (space == std::string_view::npos) return std::nullopt;
  const std::optional<int64_t> quota = ParseInt(line.substr(0, space));  // "max": none
  const std::optional<int64_t> period = ParseInt(line.substr(space + 1));
  if (!quota || !period) return std::nullopt;
  return CoresOfCfsQuota(*quota, *period);
}

unsigned UsableCores() {
  static const unsigned cores = ComputeUsableCores();
  return cores;
}

}  // namespace gannet
