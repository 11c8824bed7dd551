// Shared plumbing of the `gannet` command: the context every command runs in, exit
// codes, error reporting and JSON output helpers.
#pragma once

#include <iosfwd>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "cli/args.h"
#include "gannet/database.h"
#include "gannet/status.h"

namespace gannet::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;
inline constexpr int kExitUsage = 2;
inline constexpr std::string_view kVersion = "0.1.0";
inline constexpr std::string_view kDefaultDataDir = "./gannet-data";

// What a command runs against. The database is opened on first use and closed by Close().
class Context {
 public:
  Context(std::string data_dir, bool in_shell)
      : data_dir_(std::move(data_dir)), in_shell_(in_shell) {}
  ~Context() { Close(); }

  const std::string& data_dir() const { return data_dir_; }
  // True inside `gannet shell`: stdin belongs to the REPL and cannot be read as input.
  bool in_shell() const { return in_shell_; }
  Result<Database*> db();
  void Close();

 private:
  std::string data_dir_;
  bool in_shell_;
  std::unique_ptr<Database> db_;
};

// A command: runs with parsed arguments (positional[0] is the first word after the
// command name) and returns an exit code, having printed its output or error.
using CommandFn = int (*)(Context& ctx, const Args& args);

// Prints "error: <StatusCodeName>: message" to stderr; returns kExitError.
int ReportError(const Status& status);
// Prints "error: <message>" and the command's usage line; returns kExitUsage.
int UsageError(std::string_view message, std::string_view usage);

// Writes JSON text (compact) or its pretty form to stdout, followed by a newline.
void PrintJsonText(std::string_view json, bool pretty);
void PrintJson(const nlohmann::ordered_json& json, bool pretty);

// Parses JSON text produced by the library's own encoders (always valid) into a tree.
nlohmann::ordered_json ToTree(std::string_view json);

// Reads a whole input: "-" is stdin (refused inside the shell), text starting with
// '{' or '[' is inline JSON, anything else a file path.
Result<std::string> ReadInputArgument(const Context& ctx, std::string_view arg);

// RFC 3339 for ms since the epoch (null for 0 / unknown).
nlohmann::ordered_json TimeJson(int64_t ms);

// Commands (defined in commands_*.cpp, command_inspect.cpp, shell.cpp).
int CmdWrite(Context& ctx, const Args& args);
int CmdQuery(Context& ctx, const Args& args);
int CmdGet(Context& ctx, const Args& args);
int CmdNs(Context& ctx, const Args& args);
int CmdIndex(Context& ctx, const Args& args);
int CmdCompact(Context& ctx, const Args& args);
int CmdGc(Context& ctx, const Args& args);
int CmdInspect(Context& ctx, const Args& args);
int CmdShell(Context& ctx, const Args& args);
int CmdServe(Context& ctx, const Args& args);  // command_serve.cpp (src/server)

// Runs one command by name (shared by main and the shell). `argv` excludes the
// command name. Returns the exit code.
int RunCommand(Context& ctx, std::string_view name, const Args& args);

// The help text.
void PrintHelp(std::ostream& out);

}  // namespace gannet::cli
