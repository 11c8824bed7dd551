#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include "cli/cli.h"
#include "gannet/types.h"

namespace gannet::cli {

Result<Database*> Context::db() {
  if (!db_) {
    auto opened = Database::OpenPath(data_dir_);
    if (!opened.ok()) return opened.status().WithContext("opening " + data_dir_);
    db_ = std::move(opened).value();
  }
  return db_.get();
}

void Context::Close() {
  if (db_) {
    db_->Close();
    db_.reset();
  }
}

int ReportError(const Status& status) {
  std::cout.flush();
  std::cerr << "error: " << StatusCodeName(status.code()) << ": " << status.message() << "\n";
  return kExitError;
}

int UsageError(std::string_view message, std::string_view usage) {
  std::cout.flush();
  std::cerr << "error: " << message << "\n";
  if (!usage.empty()) std::cerr << "usage: " << usage << "\n";
  std::cerr << "run 'gannet help' for more\n";
  return kExitUsage;
}

nlohmann::ordered_json ToTree(std::string_view json) {
  return nlohmann::ordered_json::parse(json, nullptr, /*allow_exceptions=*/false);
}

void PrintJsonText(std::string_view json, bool pretty) {
  if (pretty) {
    nlohmann::ordered_json tree = ToTree(json);
    if (!tree.is_discarded()) {
      PrintJson(tree, true);
      return;
    }
  }
  std::cout << json << "\n";
  std::cout.flush();
}

void PrintJson(const nlohmann::ordered_json& json, bool pretty) {
  std::cout << json.dump(pretty ? 2 : -1, ' ', false, nlohmann::json::error_handler_t::replace)
            << "\n";
  std::cout.flush();
}

Result<std::string> ReadInputArgument(const Context& ctx, std::string_view arg) {
  if (!arg.empty() && (arg.front() == '{' || arg.front() == '[')) return std::string(arg);
  if (arg == "-") {
    if (ctx.in_shell()) {
      return Status::InvalidArgument("cannot read stdin inside the shell; give the JSON inline");
    }
    std::ostringstream ss;
    ss << std::cin.rdbuf();
    return ss.str();
  }
  std::ifstream f{std::string(arg), std::ios::binary};
  if (!f) return Status::NotFound("cannot open file '" + std::string(arg) + "'");
  std::string data((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  if (f.bad()) return Status::IOError("reading '" + std::string(arg) + "' failed");
  return data;
}

nlohmann::ordered_json TimeJson(int64_t ms) {
  if (ms == 0) return nullptr;
  return Datetime{ms}.ToString();
}

}  // namespace gannet::cli
