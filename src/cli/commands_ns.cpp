// `gannet ns list|info|delete`.
#include <iostream>
#include <string>

#include "cli/cli.h"
#include "cli/info_json.h"

namespace gannet::cli {
namespace {

constexpr std::string_view kUsage =
    "gannet ns list [--prefix P] [--page-size N] | ns info NS | ns delete NS";

int NsList(Context& ctx, const Args& args) {
  if (std::string e = CheckAllowed(args, {"prefix", "page-size", "pretty"}); !e.empty()) {
    return UsageError(e, kUsage);
  }
  if (args.positional.size() > 1) {
    return UsageError("ns list: unexpected argument '" + args.positional[1] + "'", kUsage);
  }
  size_t page_size = 100;
  if (auto v = args.Option("page-size")) {
    auto n = ParseUint(*v);
    if (!n || *n == 0 || *n > 1000) {
      return UsageError("--page-size: expected an integer in 1..1000, got '" + *v + "'", kUsage);
    }
    page_size = *n;
  }
  std::string prefix = args.Option("prefix").value_or("");
  Result<Database*> db = ctx.db();
  if (!db.ok()) return ReportError(db.status());
  nlohmann::ordered_json names = nlohmann::ordered_json::array();
  std::string cursor;
  for (;;) {
    Result<NamespaceList> page = (*db)->ListNamespaces(prefix, cursor, page_size);
    if (!page.ok()) return ReportError(page.status());
    for (const std::string& n : page->names) names.push_back(n);
    if (!page->next_cursor || *page->next_cursor == cursor) break;
    cursor = *page->next_cursor;
  }
  nlohmann::ordered_json out;
  out["namespaces"] = std::move(names);
  PrintJson(out, args.Flag("pretty"));
  return kExitOk;
}

int NsInfo(Context& ctx, const Args& args) {
  if (std::string e = CheckAllowed(args, {"pretty"}); !e.empty()) return UsageError(e, kUsage);
  if (args.positional.size() != 2) return UsageError("ns info: expected one namespace", kUsage);
  const std::string& name = args.positional[1];
  if (Status s = ValidateNamespaceName(name); !s.ok()) return ReportError(s);
  Result<Database*> db = ctx.db();
  if (!db.ok()) return ReportError(db.status());
  Result<std::shared_ptr<Namespace>> ns = (*db)->OpenNamespace(name);
  if (!ns.ok()) return ReportError(ns.status());
  Result<NamespaceInfo> info = (*ns)->Info();
  if (!info.ok()) return ReportError(info.status());
  PrintJson(NamespaceInfoJson(*info), args.Flag("pretty"));
  return kExitOk;
}

int NsDelete(Context& ctx, const Args& args) {
  if (std::string e = CheckAllowed(args, {}); !e.empty()) return UsageError(e, kUsage);
  if (args.positional.size() != 2) return UsageError("ns delete: expected one namespace", kUsage);
  const std::string& name = args.positional[1];
  Result<Database*> db = ctx.db();
  if (!db.ok()) return ReportError(db.status());
  if (Status s = (*db)->DeleteNamespace(name); !s.ok()) return ReportError(s);
  nlohmann::ordered_json out;
  out["deleted"] = name;
  PrintJson(out, false);
  return kExitOk;
}

}  // namespace

int CmdNs(Context& ctx, const Args& args) {
  if (args.positional.empty())
    return UsageError("ns: missing subcommand (list, info, delete)", kUsage);
  const std::string& sub = args.positional[0];
  if (sub == "list") return NsList(ctx, args);
  if (sub == "info") return NsInfo(ctx, args);
  if (sub == "delete") return NsDelete(ctx, args);
  return UsageError("ns: unknown subcommand '" + sub + "' (expected list, info or delete)", kUsage);
}

}  // namespace gannet::cli
