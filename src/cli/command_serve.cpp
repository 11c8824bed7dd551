// `gannet serve`: hands over to the HTTP server (src/server/serve.h).
#include <iostream>

#include "cli/cli.h"
#include "server/serve.h"

namespace gannet::cli {

int CmdServe(Context& ctx, const Args& args) {
  const std::string_view usage = "gannet serve [--listen HOST:PORT] [--config FILE] ...";
  if (ctx.in_shell()) return UsageError("serve cannot run inside the shell", usage);
  if (!args.positional.empty()) return UsageError("serve takes no arguments", usage);
  if (std::string bad =
          CheckAllowed(args, {"listen", "config", "api-keys-file", "io-threads", "worker-threads",
                              "max-request-bytes", "insecure-no-auth", "no-access-log"});
      !bad.empty()) {
    std::cerr << "error: " << bad << "\n" << server::ServeUsage();
    return kExitUsage;
  }
  server::ServeArgs serve;
  serve.options.insert(args.options.begin(), args.options.end());
  serve.flags.insert(args.flags.begin(), args.flags.end());
  serve.default_data_dir = ctx.data_dir();
  return server::RunServe(serve);
}

}  // namespace gannet::cli
