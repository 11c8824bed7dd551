// `gannet index|compact|gc NS`: run a maintenance step now and report what changed.
#include <string>

#include "cli/cli.h"
#include "cli/info_json.h"

namespace gannet::cli {
namespace {

// The fields of NamespaceInfo that maintenance changes, plus the namespace's objects.
Result<nlohmann::ordered_json> Snapshot(Database& db, Namespace& ns) {
  GANNET_ASSIGN_OR_RETURN(NamespaceInfo info, ns.Info());
  nlohmann::ordered_json j;
  j["wal_sequence"] = info.wal_sequence;
  j["indexed_sequence"] = info.indexed_sequence;
  j["unindexed_rows"] = info.unindexed_rows;
  j["segments"] = info.segment_count;
  j["manifest_version"] = info.manifest_version;
  j["approx_row_count"] = info.approx_row_count;
  GANNET_ASSIGN_OR_RETURN(nlohmann::ordered_json objects, NamespaceObjectsJson(db, ns.name()));
  for (auto it = objects.begin(); it != objects.end(); ++it) j[it.key()] = it.value();
  return j;
}

int RunMaintenance(Context& ctx, const Args& args, std::string_view op, Status (Namespace::*fn)()) {
  std::string usage = "gannet " + std::string(op) + " NS [--pretty]";
  if (std::string e = CheckAllowed(args, {"pretty"}); !e.empty()) return UsageError(e, usage);
  if (args.positional.size() != 1) {
    return UsageError(std::string(op) + ": expected one namespace", usage);
  }
  const std::string& name = args.positional[0];
  if (Status s = ValidateNamespaceName(name); !s.ok()) return ReportError(s);
  Result<Database*> db = ctx.db();
  if (!db.ok()) return ReportError(db.status());
  Result<std::shared_ptr<Namespace>> ns = (*db)->OpenNamespace(name);
  if (!ns.ok()) return ReportError(ns.status());
  Result<nlohmann::ordered_json> before = Snapshot(**db, **ns);
  if (!before.ok()) return ReportError(before.status());
  if (Status s = ((**ns).*fn)(); !s.ok()) return ReportError(s);
  Result<nlohmann::ordered_json> after = Snapshot(**db, **ns);
  if (!after.ok()) return ReportError(after.status());

  nlohmann::ordered_json changed = nlohmann::ordered_json::object();
  for (auto it = before->begin(); it != before->end(); ++it) {
    const auto& now = (*after)[it.key()];
    if (now != it.value()) changed[it.key()] = {{"before", it.value()}, {"after", now}};
  }
  nlohmann::ordered_json out;
  out["namespace"] = name;
  out["operation"] = op;
  out["changed"] = std::move(changed);
  out["after"] = std::move(*after);
  PrintJson(out, args.Flag("pretty"));
  return kExitOk;
}

}  // namespace

int CmdIndex(Context& ctx, const Args& args) {
  return RunMaintenance(ctx, args, "index", &Namespace::IndexNow);
}
int CmdCompact(Context& ctx, const Args& args) {
  return RunMaintenance(ctx, args, "compact", &Namespace::Compact);
}
int CmdGc(Context& ctx, const Args& args) {
  return RunMaintenance(ctx, args, "gc", &Namespace::CollectGarbage);
}

}  // namespace gannet::cli
