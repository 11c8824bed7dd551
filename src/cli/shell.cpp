// `gannet shell`: a line-oriented REPL over one open database.
#include <unistd.h>

#include <iostream>
#include <string>

#include "cli/cli.h"

namespace gannet::cli {
namespace {

void PrintShellHelp() {
  std::cout << "Commands (JSON arguments go last, unquoted, on one line):\n"
               "  write NS {json}         a write request, or one document to upsert\n"
               "  query NS {json}         run a query\n"
               "  get NS ID...            documents by id\n"
               "  ns list [--prefix P]    list namespaces\n"
               "  ns info NS              namespace metadata\n"
               "  ns delete NS            delete a namespace\n"
               "  index NS | compact NS | gc NS\n"
               "  inspect KEY             decode a stored object\n"
               "  help                    this text\n"
               "  quit                    leave (also exit, or end of input)\n"
               "Add --pretty to pretty-print JSON output.\n";
}

}  // namespace

int CmdShell(Context& ctx, const Args& args) {
  if (std::string e = CheckAllowed(args, {}); !e.empty()) return UsageError(e, "gannet shell");
  if (!args.positional.empty()) {
    return UsageError("shell: unexpected argument '" + args.positional[0] + "'", "gannet shell");
  }
  Context shell_ctx(ctx.data_dir(), /*in_shell=*/true);
  // Open eagerly so a bad data directory is reported once, up front.
  if (Result<Database*> db = shell_ctx.db(); !db.ok()) return ReportError(db.status());
  const bool interactive = isatty(STDIN_FILENO) == 1;
  std::string line;
  for (;;) {
    if (interactive) std::cout << "gannet> " << std::flush;
    if (!std::getline(std::cin, line)) break;
    std::string error;
    std::vector<std::string> words = SplitShellLine(line, &error);
    if (!error.empty()) {
      UsageError(error, "");
      continue;
    }
    if (words.empty() || words[0].front() == '#') continue;
    std::string command = words[0];
    if (command == "quit" || command == "exit") break;
    if (command == "help" || command == "?") {
      PrintShellHelp();
      continue;
    }
    if (command == "shell") {
      UsageError("already in the shell", "");
      continue;
    }
    words.erase(words.begin());
    Args cmd_args;
    if (!ParseArgs(words, &cmd_args, &error)) {
      UsageError(error, "");
      continue;
    }
    if (cmd_args.Option("data")) {
      UsageError("--data cannot be changed inside the shell", "");
      continue;
    }
    RunCommand(shell_ctx, command, cmd_args);
    std::cout.flush();
    std::cerr.flush();
  }
  if (interactive) std::cout << "\n";
  shell_ctx.Close();
  return kExitOk;
}

}  // namespace gannet::cli
