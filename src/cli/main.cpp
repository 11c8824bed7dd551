// `gannet`: the command-line front end of the embedded database.
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <string>
#include <vector>

#include "cli/cli.h"

namespace gannet::cli {

void PrintHelp(std::ostream& out) {
  out << "gannet - a search database on an object store\n"
         "\n"
         "usage: gannet [--data DIR] COMMAND [ARGS...]\n"
         "\n"
         "Commands:\n"
         "  write NS [FILE|-|JSON]    write a JSON write request, or import JSONL documents\n"
         "        --batch-rows N        JSONL: documents per committed batch (default 1000)\n"
         "        --distance-metric M   JSONL: cosine_distance or euclidean_squared\n"
         "        --progress            JSONL: report progress on stderr (default: if a TTY)\n"
         "  query NS [JSON|-]         run a query request (default: read stdin) [--pretty]\n"
         "  get NS ID...              documents by id (digits are uint ids) [--pretty]\n"
         "  ns list                   list namespaces [--prefix P] [--page-size N]\n"
         "  ns info NS                namespace metadata as JSON [--pretty]\n"
         "  ns delete NS              delete a namespace and all its objects\n"
         "  index NS                  fold the WAL tail into a segment now\n"
         "  compact NS                merge segments now\n"
         "  gc NS                     delete unreferenced objects past the grace period\n"
         "  inspect PATH_OR_KEY       decode a stored object (WAL entry, manifest, segment,\n"
         "                            deletion vector) [--full] [--limit N]\n"
         "  shell                     interactive session reading commands from stdin\n"
         "  serve                     HTTP server (turbopuffer v2 API) [--listen HOST:PORT]\n"
         "  help                      this text\n"
         "  version                   print the version\n"
         "\n"
         "Global options:\n"
         "  --data DIR    data directory (default $GANNET_DATA, else ./gannet-data), or a\n"
         "                bucket: s3://bucket/prefix\n"
         "\n"
         "Environment:\n"
         "  AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION,\n"
         "  AWS_ENDPOINT_URL    credentials and endpoint for s3:// data\n"
         "  GANNET_S3_PATH_STYLE  1 or 0 (default 1 when AWS_ENDPOINT_URL is set)\n"
         "  GANNET_CACHE_DIR    disk cache of a bucket's segments (default ~/.cache/gannet;\n"
         "                      off disables it); GANNET_CACHE_BYTES its budget (10 GiB)\n"
         "  GANNET_S3_HEDGE_MS  resend bucket GETs unanswered after this many ms (off)\n"
         "  GANNET_MEMORY_BYTES memory for decoded namespaces (default half of RAM)\n"
         "  GANNET_INDEXED_VECTORS  memory (default) or ranged: vectors of indexed segments\n"
         "                      are read by byte range to re-rank, not kept in memory\n"
         "  GANNET_COLD_LOAD_BYTES  indexed segments this large (default 64 MiB; 0 or off:\n"
         "                      none) load by range first, whole in the background\n"
         "\n"
         "Output is JSON on stdout; errors go to stderr as 'error: <Code>: message'.\n"
         "Exit codes: 0 success, 1 error, 2 usage error.\n";
}

int RunCommand(Context& ctx, std::string_view name, const Args& args) {
  struct Entry {
    std::string_view name;
    CommandFn fn;
  };
  static constexpr Entry kCommands[] = {
      {"write", CmdWrite}, {"query", CmdQuery},     {"get", CmdGet}, {"ns", CmdNs},
      {"index", CmdIndex}, {"compact", CmdCompact}, {"gc", CmdGc},   {"inspect", CmdInspect},
      {"shell", CmdShell}, {"serve", CmdServe},
  };
  if (name == "help") {
    PrintHelp(std::cout);
    return kExitOk;
  }
  if (name == "version") {
    std::cout << "gannet " << kVersion << "\n";
    return kExitOk;
  }
  for (const Entry& e : kCommands) {
    if (e.name == name) {
      if (args.Flag("help")) {
        PrintHelp(std::cout);
        return kExitOk;
      }
      return e.fn(ctx, args);
    }
  }
  if (ctx.in_shell()) {
    std::cerr << "error: unknown command '" << name << "' (type 'help')\n";
    return kExitUsage;
  }
  return UsageError("unknown command '" + std::string(name) + "'", "gannet [--data DIR] COMMAND");
}

namespace {

int Main(int argc, char** argv) {
  std::ios::sync_with_stdio(false);
  std::vector<std::string> words(argv + 1, argv + argc);
  Args args;
  std::string error;
  if (!ParseArgs(words, &args, &error)) return UsageError(error, "gannet [--data DIR] COMMAND");
  if (args.positional.empty()) {
    if (args.Flag("help")) {
      PrintHelp(std::cout);
      return kExitOk;
    }
    if (args.Flag("version")) {
      std::cout << "gannet " << kVersion << "\n";
      return kExitOk;
    }
    PrintHelp(std::cerr);
    return kExitUsage;
  }
  std::string command = args.positional.front();
  args.positional.erase(args.positional.begin());

  std::string data_dir(kDefaultDataDir);
  if (const char* env = std::getenv("GANNET_DATA"); env != nullptr && *env != '\0') {
    data_dir = env;
  }
  if (auto d = args.Option("data")) {
    if (d->empty()) return UsageError("option --data needs a non-empty directory", "");
    data_dir = *d;
  }
  Context ctx(data_dir, /*in_shell=*/false);
  int rc = RunCommand(ctx, command, args);
  ctx.Close();
  return rc;
}

}  // namespace
}  // namespace gannet::cli

int main(int argc, char** argv) {
  try {
    return gannet::cli::Main(argc, argv);
  } catch (const std::exception& e) {
    std::cout.flush();
    std::cerr << "error: Internal: " << e.what() << "\n";
  } catch (...) {
    std::cout.flush();
    std::cerr << "error: Internal: unknown exception\n";
  }
  return gannet::cli::kExitError;
}
