// Helpers the vector benchmarks share (ann_bench, ann_engine_bench): the raw files
// bench/ann/gen.py writes, this process's resident memory, and writing the result.
#pragma once

#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

namespace gannet::bench {

// `count` little-endian items of T from `path`; exits with a message naming `tool` when
// the file is missing or short.
template <typename T, typename Vector = std::vector<T>>
Vector ReadRaw(const char* tool, const std::string& path, size_t count) {
  Vector v(count);
  std::ifstream f(path, std::ios::binary);
  if (!f.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(count * sizeof(T)))) {
    std::fprintf(stderr, "%s: cannot read %zu items from %s\n", tool, count, path.c_str());
    std::exit(2);
  }
  return v;
}

// VmRSS of this process in MiB (0 when /proc is not there).
inline double RssMb() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  }
  return 0;
}

// Writes the result `text` to stdout (out empty) or to the file `out`. Returns the exit
// code: 0, or 1 with a message naming `tool` when the file cannot be written.
inline int WriteResult(const char* tool, const std::string& text, const std::string& out) {
  if (out.empty()) {
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fputc('\n', stdout);
    return 0;
  }
  std::ofstream f(out);
  if (!(f << text << "\n") || !f.flush()) {
    std::fprintf(stderr, "%s: cannot write %s\n", tool, out.c_str());
    return 1;
  }
  return 0;
}

}  // namespace gannet::bench
