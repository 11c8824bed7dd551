#include "cli/args.h"

#include <cctype>

namespace gannet::cli {

std::optional<std::string> Args::Option(std::string_view name) const {
  auto it = options.find(name);
  if (it == options.end()) return std::nullopt;
  return it->second;
}

bool OptionTakesValue(std::string_view name) {
  static const std::set<std::string_view> kValueOptions = {
      "data", "batch-rows", "distance-metric", "prefix", "page-size", "limit",
      // gannet serve (server/serve.h kServeValueOptions)
      "listen", "config", "api-keys-file", "io-threads", "worker-threads", "max-request-bytes"};
  return kValueOptions.count(name) > 0;
}

bool ParseArgs(const std::vector<std::string>& argv, Args* args, std::string* error) {
  bool options_done = false;
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (options_done || a.size() < 2 || a[0] != '-') {
      args->positional.push_back(a);
      continue;
    }
    if (a == "--") {
      options_done = true;
      continue;
    }
    if (a == "-h") {
      args->flags.insert("help");
      continue;
    }
    if (a.rfind("--", 0) != 0) {
      // "-5" style text is a positional (e.g. a negative number); "-x" is unknown.
      if (std::isdigit(static_cast<unsigned char>(a[1]))) {
        args->positional.push_back(a);
        continue;
      }
      *error = "unknown option " + a;
      return false;
    }
    std::string name = a.substr(2);
    std::optional<std::string> value;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.resize(eq);
    }
    if (name.empty()) {
      *error = "malformed option " + a;
      return false;
    }
    if (OptionTakesValue(name)) {
      if (!value) {
        if (i + 1 >= argv.size()) {
          *error = "option --" + name + " needs a value";
          return false;
        }
        value = argv[++i];
      }
      args->options[name] = *value;
    } else {
      if (value) {
        *error = "option --" + name + " does not take a value";
        return false;
      }
      args->flags.insert(name);
    }
  }
  return true;
}

std::string CheckAllowed(const Args& args, std::initializer_list<std::string_view> allowed) {
  auto ok = [&](std::string_view name) {
    if (name == "data" || name == "help") return true;
    for (std::string_view a : allowed) {
      if (a == name) return true;
    }
    return false;
  };
  for (const auto& [name, value] : args.options) {
    if (!ok(name)) return "unknown option --" + name;
  }
  for (const std::string& name : args.flags) {
    if (!ok(name)) return "unknown option --" + name;
  }
  return "";
}

std::optional<uint64_t> ParseUint(std::string_view text) {
  if (text.empty() || text.size() > 20) return std::nullopt;
  uint64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return std::nullopt;
    v = v * 10 + d;
  }
  return v;
}

std::vector<std::string> SplitShellLine(std::string_view line, std::string* error) {
  std::vector<std::string> words;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && std::isspace(static_cast<unsigned char>(line[i]))) ++i;
    if (i >= line.size()) break;
    char c = line[i];
    if (c == '{' || c == '[') {
      std::string_view rest = line.substr(i);
      while (!rest.empty() && std::isspace(static_cast<unsigned char>(rest.back()))) {
        rest.remove_suffix(1);
      }
      words.emplace_back(rest);
      break;
    }
    std::string word;
    while (i < line.size() && !std::isspace(static_cast<unsigned char>(line[i]))) {
      if (line[i] == '"' || line[i] == '\'') {
        char q = line[i++];
        size_t end = line.find(q, i);
        if (end == std::string_view::npos) {
          *error = std::string("unterminated ") + q + " quote";
          return {};
        }
        word.append(line.substr(i, end - i));
        i = end + 1;
      } else {
        word.push_back(line[i++]);
      }
    }
    words.push_back(std::move(word));
  }
  return words;
}

}  // namespace gannet::cli
