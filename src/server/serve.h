// `gannet serve`: the HTTP server speaking turbopuffer's v2 API (docs/openapi.yaml).
//
// The only header of src/server/ meant for other layers (the CLI). It carries no Boost:
// Beast and Asio stay inside src/server/http.cpp.
#pragma once

#include <map>
#include <set>
#include <string>

namespace gannet::server {

// The serve command's arguments as the CLI parsed them: --name value options and bare
// --flags (without the dashes), plus the data directory to use when neither --data nor
// the config file names one.
struct ServeArgs {
  std::map<std::string, std::string, std::less<>> options;
  std::set<std::string, std::less<>> flags;
  std::string default_data_dir;
};

// Option names of `gannet serve` that take a value.
inline constexpr const char* kServeValueOptions[] = {
    "listen", "config", "api-keys-file", "io-threads", "worker-threads", "max-request-bytes"};

// Usage text of `gannet serve`.
const char* ServeUsage();

// Runs the server until SIGTERM/SIGINT, then drains and closes the database. Returns a
// process exit code (0 after a clean shutdown, 1 on a startup error, 2 on bad usage),
// having printed errors to stderr.
int RunServe(const ServeArgs& args);

}  // namespace gannet::server
