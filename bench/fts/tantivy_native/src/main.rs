//! tantivy_native_bench: the GCIDE full-text benchmark's queries through tantivy's Rust API.
//!
//!   tantivy_native_bench DOCS.jsonl QUERIES.tsv INDEX_DIR [REPS]
//!
//! DOCS.jsonl: one `[id, "text"]` per line; QUERIES.tsv: `kind<TAB>query body JSON` per
//! line, the bodies Gannet takes (bench_fts.py --keep-gannet writes both). The index is
//! built as bench/fts/engines.py's TantivyEngine builds it through Python: simple
//! tokenizer, remove_long(40), lowercase, English stemmer, positions, BM25 defaults, the
//! writer's default threads, merged before searching. A query is analyzed and built as
//! there too (a Should term query per distinct term; a phrase adds a Must phrase query
//! scoring 0), and its time includes the analysis, the search (top 10) and reading the
//! hits' ids from the fast field. Prints p50 and mean per kind over REPS passes (default
//! 20) after one warm-up pass, in the format of build/fts_query_bench.
use std::collections::BTreeMap;
use std::time::Instant;

use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, ConstScoreQuery, Occur, PhraseQuery, Query, TermQuery};
use tantivy::schema::{IndexRecordOption, Schema, TextFieldIndexing, TextOptions, FAST};
use tantivy::tokenizer::{
    Language, LowerCaser, RemoveLongFilter, SimpleTokenizer, Stemmer, TextAnalyzer,
};
use tantivy::{doc, Index, Term};

fn analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(40))
        .filter(LowerCaser)
        .filter(Stemmer::new(Language::English))
        .build()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        eprintln!("usage: {} DOCS.jsonl QUERIES.tsv INDEX_DIR [REPS]", args[0]);
        std::process::exit(2);
    }
    let reps: usize = args.get(4).map(|s| s.parse()).transpose()?.unwrap_or(20);

    let mut sb = Schema::builder();
    let id_field = sb.add_u64_field("id", FAST);
    let indexing = TextFieldIndexing::default()
        .set_tokenizer("gannet_en")
        .set_index_option(IndexRecordOption::WithFreqsAndPositions);
    let text_field = sb.add_text_field(
        "text",
        TextOptions::default().set_indexing_options(indexing),
    );
    let schema = sb.build();
    std::fs::create_dir_all(&args[3])?;
    let index = Index::create_in_dir(&args[3], schema)?;
    index.tokenizers().register("gannet_en", analyzer());

    let t0 = Instant::now();
    let mut writer = index.writer::<tantivy::TantivyDocument>(256_000_000)?;
    let mut count = 0usize;
    for line in std::fs::read_to_string(&args[1])?.lines() {
        let v: serde_json::Value = serde_json::from_str(line)?;
        let id = v[0].as_u64().ok_or("docs: expected [id, text]")?;
        let text = v[1].as_str().ok_or("docs: expected [id, text]")?;
        writer.add_document(doc!(id_field => id, text_field => text))?;
        count += 1;
    }
    writer.commit()?;
    writer.wait_merging_threads()?;
    let reader = index.reader()?;
    let searcher = reader.searcher();
    println!(
        "indexed {} documents in {:.1} s ({} segments)",
        count,
        t0.elapsed().as_secs_f64(),
        searcher.segment_readers().len()
    );

    let mut kinds: BTreeMap<String, Vec<(String, bool)>> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    for line in std::fs::read_to_string(&args[2])?.lines() {
        let (kind, body) = line
            .split_once('\t')
            .ok_or("queries: expected kind<TAB>body")?;
        let v: serde_json::Value = serde_json::from_str(body)?;
        let text = v["rank_by"][2]
            .as_str()
            .ok_or("queries: expected [attr, BM25, text]")?;
        let phrase = v.get("filters").is_some();
        if !kinds.contains_key(kind) {
            order.push(kind.to_string());
        }
        kinds
            .entry(kind.to_string())
            .or_default()
            .push((text.to_string(), phrase));
    }

    let mut an = analyzer();
    let ids: Vec<_> = searcher
        .segment_readers()
        .iter()
        .map(|s| s.fast_fields().u64("id"))
        .collect::<Result<_, _>>()?;
    let mut run =
        |text: &str, phrase: bool| -> Result<Vec<(u64, f32)>, Box<dyn std::error::Error>> {
            let mut terms: Vec<String> = Vec::new();
            let mut stream = an.token_stream(text);
            while let Some(t) = stream.next() {
                terms.push(t.text.clone());
            }
            let mut distinct: Vec<&String> = Vec::new();
            for t in &terms {
                if !distinct.contains(&t) {
                    distinct.push(t);
                }
            }
            let term_query = |t: &str| -> Box<dyn Query> {
                Box::new(TermQuery::new(
                    Term::from_field_text(text_field, t),
                    IndexRecordOption::WithFreqs,
                ))
            };
            let mut clauses: Vec<(Occur, Box<dyn Query>)> = distinct
                .iter()
                .map(|t| (Occur::Should, term_query(t)))
                .collect();
            let query: Box<dyn Query> = if phrase && terms.len() >= 2 {
                let words = terms
                    .iter()
                    .map(|t| Term::from_field_text(text_field, t))
                    .collect();
                let p: Box<dyn Query> =
                    Box::new(ConstScoreQuery::new(Box::new(PhraseQuery::new(words)), 0.0));
                clauses.insert(0, (Occur::Must, p));
                Box::new(BooleanQuery::new(clauses))
            } else if clauses.len() == 1 {
                clauses.pop().unwrap().1
            } else {
                Box::new(BooleanQuery::new(clauses))
            };
            let hits = searcher.search(&query, &TopDocs::with_limit(10).order_by_score())?;
            Ok(hits
                .into_iter()
                .map(|(score, addr)| {
                    (
                        ids[addr.segment_ord as usize]
                            .first(addr.doc_id)
                            .unwrap_or(0),
                        score,
                    )
                })
                .collect())
        };
    for kind in &order {
        let qs = &kinds[kind];
        let mut lat: Vec<f64> = Vec::new();
        let mut sink = 0usize;
        for r in 0..=reps {
            for (text, phrase) in qs {
                let t = Instant::now();
                sink += run(text, *phrase)?.len();
                let us = t.elapsed().as_secs_f64() * 1e6;
                if r > 0 {
                    lat.push(us);
                }
            }
        }
        lat.sort_by(|a, b| a.partial_cmp(b).unwrap());
        let mean = lat.iter().sum::<f64>() / lat.len() as f64;
        println!(
            "{:<9} p50 {:7.2} us  mean {:7.2} us  ({} hits)",
            kind,
            lat[lat.len() / 2],
            mean,
            sink
        );
    }
    Ok(())
}
