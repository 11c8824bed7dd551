#include "common/limits.h"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <sstream>
#include <thread>

namespace gannet {

namespace {

constexpr std::string_view kCgroupRoot = "/sys/fs/cgroup";

std::optional<int64_t> ParseInt(std::string_view s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.remove_suffix(1);
  int64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

std::optional<std::string> ReadLine(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  if (!in || !std::getline(in, line)) return std::nullopt;
  return line;
}

std::string ProcSelfCgroup() {
  std::ifstream in("/proc/self/cgroup");
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

unsigned ComputeUsableCores() {
  unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    const int allowed = CPU_COUNT(&set);
    if (allowed > 0) cores = std::min(cores, static_cast<unsigned>(allowed));
  }
  const std::string cgroup = ProcSelfCgroup();
  for (const std::string& dir : CgroupDirs(cgroup, kCgroupRoot)) {
    if (std::optional<std::string> line = ReadLine(dir + "/cpu.max")) {
      if (std::optional<unsigned> quota = CoresOfCpuMax(*line)) cores = std::min(cores, *quota);
    }
  }
  for (const std::string& dir : CgroupDirs(cgroup, kCgroupRoot, "cpu")) {
    const std::optional<std::string> q = ReadLine(dir + "/cpu.cfs_quota_us");
    const std::optional<std::string> p = ReadLine(dir + "/cpu.cfs_period_us");
    if (!q || !p) continue;
    const std::optional<int64_t> qv = ParseInt(*q), pv = ParseInt(*p);
    if (!qv || !pv) continue;
    if (std::optional<unsigned> quota = CoresOfCfsQuota(*qv, *pv)) cores = std::min(cores, *quota);
  }
  return std::max(1u, cores);
}

}  // namespace

std::optional<unsigned> CoresOfCfsQuota(int64_t quota_us, int64_t period_us) {
  if (quota_us <= 0 || period_us <= 0) return std::nullopt;
  const int64_t cores = (quota_us + period_us - 1) / period_us;
  return static_cast<unsigned>(std::clamp<int64_t>(cores, 1, 1 << 16));
}

std::optional<unsigned> CoresOfCpuMax(std::string_view line) {
  const size_t space = line.find(' ');
  if (space == std::string_view::npos) return std::nullopt;
  const std::optional<int64_t> quota = ParseInt(line.substr(0, space));    // "max": none
  const std::optional<int64_t> period = ParseInt(line.substr(space + 1));  // trims "\n"
  if (!quota || !period) return std::nullopt;
  return CoresOfCfsQuota(*quota, *period);
}

std::vector<std::string> CgroupDirs(std::string_view proc_self_cgroup, std::string_view root,
                                    std::string_view v1_controller) {
  // Lines are "hierarchy-id:controllers:path"; v2's is "0::path".
  while (!proc_self_cgroup.empty()) {
    const size_t eol = std::min(proc_self_cgroup.find('\n'), proc_self_cgroup.size());
    const std::string_view line = proc_self_cgroup.substr(0, eol);
    proc_self_cgroup.remove_prefix(std::min(eol + 1, proc_self_cgroup.size()));
    const size_t c1 = line.find(':');
    const size_t c2 = c1 == std::string_view::npos ? c1 : line.find(':', c1 + 1);
    if (c2 == std::string_view::npos) continue;
    const std::string_view controllers = line.substr(c1 + 1, c2 - c1 - 1);
    std::string_view path = line.substr(c2 + 1);
    if (path.empty() || path.front() != '/') continue;
    std::string base(root);
    if (v1_controller.empty()) {
      if (line.substr(0, c1) != "0" || !controllers.empty()) continue;
    } else {
      bool has = false;
      for (std::string_view rest = controllers; !rest.empty();) {
        const size_t comma = std::min(rest.find(','), rest.size());
        has = has || rest.substr(0, comma) == v1_controller;
        rest.remove_prefix(std::min(comma + 1, rest.size()));
      }
      if (!has) continue;
      base += "/";
      base += controllers;
    }
    std::vector<std::string> dirs;
    while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
    for (;;) {
      dirs.push_back(path == "/" ? base : base + std::string(path));
      if (path == "/") break;
      const size_t slash = path.rfind('/');
      path = slash == 0 ? std::string_view("/") : path.substr(0, slash);
    }
    return dirs;
  }
  return {};
}

unsigned UsableCores() {
  static const unsigned cores = ComputeUsableCores();
  return cores;
}

uint64_t UsableMemoryBytes() {
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  uint64_t bytes = pages > 0 && page > 0 ? static_cast<uint64_t>(pages) * page : 16ull << 30;
  const std::string cgroup = ProcSelfCgroup();
  auto limit = [&](const std::string& path) {
    if (std::optional<std::string> line = ReadLine(path)) {
      // "max" (no limit) does not parse; v1 writes a huge number instead.
      if (std::optional<int64_t> v = ParseInt(*line); v && *v > 0) {
        bytes = std::min<uint64_t>(bytes, static_cast<uint64_t>(*v));
      }
    }
  };
  for (const std::string& dir : CgroupDirs(cgroup, kCgroupRoot)) limit(dir + "/memory.max");
  for (const std::string& dir : CgroupDirs(cgroup, kCgroupRoot, "memory")) {
    limit(dir + "/memory.limit_in_bytes");
  }
  return bytes;
}

}  // namespace gannet
