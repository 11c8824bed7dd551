// `gannet query NS [JSON|-]` and `gannet get NS ID...`.
#include <iostream>
#include <string>
#include <vector>

#include "cli/cli.h"
#include "gannet/json.h"

namespace gannet::cli {
namespace {

constexpr std::string_view kQueryUsage = "gannet query NS [JSON|FILE|-] [--pretty]";
constexpr std::string_view kGetUsage = "gannet get NS ID... [--pretty]";

// Interprets a command-line id using the namespace's id type when it is known; otherwise
// digits are a uint id and anything else a string id.
Result<Id> ParseIdArg(std::string_view text, std::optional<ScalarType> id_type) {
  if (id_type == ScalarType::kString) return Id(std::string(text));
  if (id_type == ScalarType::kUuid) {
    Result<Uuid> u = Uuid::Parse(text);
    if (!u.ok()) return u.status().WithContext("id '" + std::string(text) + "'");
    return Id(*u);
  }
  if (auto n = ParseUint(text)) return Id(*n);
  if (id_type == ScalarType::kUint) {
    return Status::InvalidArgument("id '" + std::string(text) +
                                   "': the namespace has uint ids, expected digits");
  }
  if (text.size() > Id::kMaxStringBytes) {
    return Status::InvalidArgument("id '" + std::string(text.substr(0, 16)) + "...': longer than " +
                                   std::to_string(Id::kMaxStringBytes) + " bytes");
  }
  return Id(std::string(text));
}

}  // namespace

int CmdQuery(Context& ctx, const Args& args) {
  if (std::string e = CheckAllowed(args, {"pretty"}); !e.empty()) return UsageError(e, kQueryUsage);
  if (args.positional.empty()) return UsageError("query: missing namespace", kQueryUsage);
  if (args.positional.size() > 2) {
    return UsageError(
        "query: unexpected argument '" + args.positional[2] + "' (quote the JSON as one argument)",
        kQueryUsage);
  }
  if (args.positional.size() < 2 && ctx.in_shell()) {
    return UsageError("query: missing the query JSON", "query NS {json}");
  }
  const std::string& ns_name = args.positional[0];
  if (Status s = ValidateNamespaceName(ns_name); !s.ok()) return ReportError(s);
  Result<std::string> text =
      ReadInputArgument(ctx, args.positional.size() > 1 ? args.positional[1] : "-");
  if (!text.ok()) return ReportError(text.status());
  Result<QueryRequest> req = ParseQueryRequest(*text);
  if (!req.ok()) return ReportError(req.status());
  Result<Database*> db = ctx.db();
  if (!db.ok()) return ReportError(db.status());
  Result<std::shared_ptr<Namespace>> ns = (*db)->OpenNamespace(ns_name);
  if (!ns.ok()) return ReportError(ns.status());
  Result<QueryResponse> resp = (*ns)->Query(*req);
  if (!resp.ok()) return ReportError(resp.status());
  PrintJsonText(QueryResponseToJson(*resp, req->vector_encoding_base64), args.Flag("pretty"));
  return kExitOk;
}

int CmdGet(Context& ctx, const Args& args) {
  if (std::string e = CheckAllowed(args, {"pretty"}); !e.empty()) return UsageError(e, kGetUsage);
  if (args.positional.empty()) return UsageError("get: missing namespace", kGetUsage);
  if (args.positional.size() < 2) return UsageError("get: missing document id", kGetUsage);
  const std::string& ns_name = args.positional[0];
  if (Status s = ValidateNamespaceName(ns_name); !s.ok()) return ReportError(s);
  Result<Database*> db = ctx.db();
  if (!db.ok()) return ReportError(db.status());
  Result<std::shared_ptr<Namespace>> ns = (*db)->OpenNamespace(ns_name);
  if (!ns.ok()) return ReportError(ns.status());
  Result<Schema> schema = (*ns)->GetSchema();
  std::optional<ScalarType> id_type;
  if (schema.ok()) {
    id_type = schema->id_type;
  } else if (!schema.status().IsNotFound()) {
    return ReportError(schema.status());
  }
  std::vector<Id> ids;
  for (size_t i = 1; i < args.positional.size(); ++i) {
    Result<Id> id = ParseIdArg(args.positional[i], id_type);
    if (!id.ok()) return ReportError(id.status());
    ids.push_back(std::move(id).value());
  }
  Result<std::vector<Document>> docs = (*ns)->Get(ids);
  if (!docs.ok()) return ReportError(docs.status());
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  std::vector<bool> found(ids.size(), false);
  for (const Document& d : *docs) {
    out.push_back(ToTree(DocumentToJson(d)));
    for (size_t i = 0; i < ids.size(); ++i) {
      if (ids[i] == d.id) found[i] = true;
    }
  }
  PrintJson(out, args.Flag("pretty"));
  for (size_t i = 0; i < ids.size(); ++i) {
    if (!found[i]) std::cerr << "warning: id " << ids[i].ToString() << " not found\n";
  }
  return kExitOk;
}

}  // namespace gannet::cli
