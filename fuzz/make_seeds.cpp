// Writes the seed corpus: one small valid object of each kind, encoded by the current
// code, into <dir>/<target>/. Run by scripts/fuzz.sh when the corpus is regenerated.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "format/manifest.h"
#include "format/segment.h"
#include "format/wal_entry.h"
#include "gannet/json.h"
#include "index/ivf_index.h"
#include "index/text_index.h"
#include "model/validate.h"

namespace {

void Put(const std::filesystem::path& dir, const std::string& target, const std::string& name,
         const std::string& bytes) {
  std::filesystem::create_directories(dir / target);
  std::ofstream(dir / target / name, std::ios::binary) << bytes;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_seeds DIR\n");
    return 2;
  }
  const std::filesystem::path dir = argv[1];
  const std::string write_json =
      R"({"distance_metric":"cosine_distance","upsert_rows":[{"id":1,"vector":[0.5,1.5],"name":"a","tags":["x","y"],"n":3,"when":"2024-01-02T03:04:05Z"},{"id":2,"vector":[1,2],"name":"b","n":-4}],"patch_rows":[{"id":3,"name":null}],"deletes":[4],"delete_by_filter":["And",[["n","Lt",0],["name","Glob","a*"]]],"upsert_condition":["n","Lt",{"$ref_new":"n"}]})";
  Put(dir, "write_request_fuzz", "request.json", write_json);
  Put(dir, "query_request_fuzz", "vector.json",
      R"({"rank_by":["vector","ANN",[0.1,0.2]],"top_k":5,"filters":["Or",[["n","In",[1,2]],["Not",["tags","Contains","x"]]]],"include_attributes":["name"]})");
  Put(dir, "query_request_fuzz", "bm25.json",
      R"({"rank_by":["Sum",[["Product",[2,["title","BM25","walrus facts"]]],["body","BM25","arctic"]]],"top_k":10,"filters":["body","ContainsTokenSequence","in arc",{"last_as_prefix":true}]})");
  Put(dir, "write_request_fuzz", "fts_schema.json",
      R"({"schema":{"body":{"type":"string","full_text_search":{"language":"french","stemming":true,"k1":1.5,"tokenizer":"word_v2"}}},"upsert_rows":[{"id":1,"body":"les chevaux"}],"delete_by_filter":["body","ContainsAnyToken","cheval"]})");
  Put(dir, "query_request_fuzz", "aggregate.json",
      R"({"aggregate_by":{"c":["Count"]},"group_by":["name"],"filters":["name","IGlob","A*"]})");

  auto req = gannet::ParseWriteRequest(write_json);
  gannet::Schema schema;
  if (!req.ok() || !gannet::model::ValidateWrite(*req, schema).ok()) return 1;
  gannet::format::WalEntry entry;
  entry.sequence = 7;
  entry.writer_nonce = "0123456789abcdef";
  entry.created_ms = 1700000000000;
  entry.schema = schema;
  entry.batches.push_back(*req);
  Put(dir, "wal_entry_fuzz", "entry", gannet::format::EncodeWalEntry(entry));

  gannet::format::Manifest m;
  m.version = 3;
  m.indexed_through = 7;
  m.schema = schema;
  m.segments.push_back({"00000000000000000001-abcdef", 2, 100, 1, 7, "", 0});
  Put(dir, "manifest_fuzz", "manifest", gannet::format::EncodeManifest(m));

  Put(dir, "segment_fuzz", "segment", gannet::format::EncodeSegment(req->upserts, schema));
  Put(dir, "deletion_vector_fuzz", "rows", gannet::format::EncodeDeletionVector({0, 3, 4, 90}));

  std::vector<float> vectors(96 * 4);
  for (size_t i = 0; i < vectors.size(); ++i) vectors[i] = static_cast<float>((i * 7919) % 101);
  gannet::index::VectorRows rows;
  rows.data = vectors.data();
  rows.rows = 96;
  rows.dims = 4;
  auto ivf = gannet::index::IvfIndex::Build(rows, gannet::DistanceMetric::kEuclideanSquared);
  if (!ivf.ok()) return 1;
  Put(dir, "vector_index_fuzz", "index", (*ivf)->Encode());

  gannet::index::TextFieldBuilder tb("text", "v1;word_v1", 300);
  for (uint32_t row = 0; row < 300; row += 2) {
    std::vector<std::string> tokens = {"common", "t" + std::to_string(row % 7)};
    if (row % 10 == 0) tokens.push_back("common");
    tb.Add(row, tokens);
  }
  Put(dir, "text_index_fuzz", "index", gannet::index::TextIndex({tb.Finish()}).Encode());
  return 0;
}
