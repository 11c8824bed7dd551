// Command-line argument parsing for the `gannet` tool.
//
// Options may appear anywhere after the command name: `--name value`, `--name=value`, or
// a bare `--flag`. "--" ends option parsing; "-" alone is a positional (stdin).
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace gannet::cli {

struct Args {
  std::vector<std::string> positional;
  std::map<std::string, std::string, std::less<>> options;  // --name value
  std::set<std::string, std::less<>> flags;                 // --name

  bool Flag(std::string_view name) const { return flags.count(name) > 0; }
  std::optional<std::string> Option(std::string_view name) const;
};

// Options that take a value (everything else starting with "--" is a flag).
bool OptionTakesValue(std::string_view name);

// Splits `argv` into positionals, options and flags. On error returns false and sets
// `*error` to a message naming the problem ("option --data needs a value").
bool ParseArgs(const std::vector<std::string>& argv, Args* args, std::string* error);

// Checks that `args` uses only `allowed` option/flag names (plus the global ones).
// Returns "" or a message naming the first unknown option.
std::string CheckAllowed(const Args& args, std::initializer_list<std::string_view> allowed);

// Parses a non-negative decimal integer; nullopt if `text` is not one.
std::optional<uint64_t> ParseUint(std::string_view text);

// Splits a shell line into words: whitespace separates; a word starting with '{' or '['
// takes the rest of the line (JSON); single and double quotes group.
std::vector<std::string> SplitShellLine(std::string_view line, std::string* error);

}  // namespace gannet::cli
