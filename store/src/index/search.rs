//! Running a query: newest first (time, then seq, both descending), or counting.

use tantivy::collector::sort_key::SortByStaticFastValue;
use tantivy::collector::{Count, TopDocs};
use tantivy::query::Query;
use tantivy::{DateTime, Order};

use super::IndexState;
use crate::StoreError;

/// The seqs of the newest `limit` matches, newest first. Ties on time are broken by seq
/// (later-stored first), so the order is deterministic.
pub fn top_seqs(
    state: &IndexState,
    query: &dyn Query,
    limit: usize,
) -> Result<Vec<i64>, StoreError> {
    let searcher = state.reader.searcher();
    // TopDocs preallocates for `limit`: never ask for more than there are documents.
    let limit = limit.min(usize::try_from(searcher.num_docs()).unwrap_or(usize::MAX));
    if limit == 0 {
        return Ok(Vec::new());
    }
    let collector = TopDocs::with_limit(limit).order_by((
        (
            SortByStaticFastValue::<DateTime>::for_field("time"),
            Order::Desc,
        ),
        (SortByStaticFastValue::<u64>::for_field("seq"), Order::Desc),
    ));
    let hits = searcher
        .search(query, &collector)
        .map_err(StoreError::index(&state.dir, "search"))?;
    Ok(hits
        .into_iter()
        .filter_map(|((_, seq), _)| seq.and_then(|s| i64::try_from(s).ok()))
        .collect())
}

/// The number of matches.
pub fn count(state: &IndexState, query: &dyn Query) -> Result<u64, StoreError> {
    let searcher = state.reader.searcher();
    let n = searcher
        .search(query, &Count)
        .map_err(StoreError::index(&state.dir, "count"))?;
    Ok(n as u64)
}
