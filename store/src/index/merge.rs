//! Which segments tantivy merges: [`BoundedMerges`], tantivy's [`LogMergePolicy`] with every
//! merge kept small, whatever the store's size.
//!
//! A merge maps all its input segments, and their pages count in the process's RSS until the
//! inputs are deleted. With tantivy's defaults (segments of similar size merged once eight
//! gather, every segment of a size class in one merge, any segment of fewer than 10M documents
//! taking part) the 10M-event Winlogbeat import merged eight flushed segments of ~447,000
//! documents into one of 3.58M while the import went on: +86 MB of mapped pages on top of the
//! import's own memory, its peak at 396–420 MB; a store growing past ~28M events would merge
//! ~28M documents at once, and a rebuilt index (`reindex`, whose flushed segments all share one
//! size class) everything at once.

use tantivy::index::SegmentMeta;
use tantivy::indexer::{LogMergePolicy, MergeCandidate, MergePolicy};

/// The most segments one merge takes.
pub const MERGE_SEGMENTS: usize = 4;

/// A segment of more documents than this is not merged again: four segments flushed at the
/// writer's budget (~447,000 generated Winlogbeat documents each) merge into one of ~1.8M, which
/// stays. A store of 100M Winlogbeat events ends with ~56 segments to search.
pub const MERGE_MAX_INPUT_DOCS: usize = 1_000_000;

/// tantivy's [`LogMergePolicy`] (segments grouped by size class) merging [`MERGE_SEGMENTS`]
/// segments of a class as soon as there are that many, of at most [`MERGE_MAX_INPUT_DOCS`] each,
/// and a class of more segments (after a rebuild) in several merges of at most
/// [`MERGE_SEGMENTS`] each. So no merge holds more than ~4M documents.
#[derive(Debug)]
pub struct BoundedMerges(LogMergePolicy);

impl Default for BoundedMerges {
    fn default() -> Self {
        let mut policy = LogMergePolicy::default();
        policy.set_min_num_segments(MERGE_SEGMENTS);
        policy.set_max_docs_before_merge(MERGE_MAX_INPUT_DOCS);
        BoundedMerges(policy)
    }
}

impl MergePolicy for BoundedMerges {
    fn compute_merge_candidates(&self, segments: &[SegmentMeta]) -> Vec<MergeCandidate> {
        self.0
            .compute_merge_candidates(segments)
            .into_iter()
            .flat_map(|MergeCandidate(ids)| {
                // A lone leftover waits for the next segments of its class.
                ids.chunks(MERGE_SEGMENTS)
                    .filter(|c| c.len() > 1)
                    .map(|c| MergeCandidate(c.to_vec()))
                    .collect::<Vec<_>>()
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use tantivy::Index;
    use tantivy::index::SegmentId;
    use tantivy::schema::{STORED, Schema};

    use super::*;

    fn segments(sizes: &[u32]) -> Vec<SegmentMeta> {
        let mut schema = Schema::builder();
        schema.add_u64_field("n", STORED);
        let index = Index::create_in_ram(schema.build());
        sizes
            .iter()
            .map(|&n| index.new_segment_meta(SegmentId::generate_random(), n))
            .collect()
    }

    /// The documents of each merge the policy asks for.
    fn merges(sizes: &[u32]) -> Vec<Vec<u32>> {
        let segs = segments(sizes);
        let by_id: HashMap<_, _> = segs.iter().map(|s| (s.id(), s.max_doc())).collect();
        BoundedMerges::default()
            .compute_merge_candidates(&segs)
            .into_iter()
            .map(|MergeCandidate(ids)| ids.iter().map(|id| by_id[id]).collect())
            .collect()
    }

    #[test]
    fn four_flushed_segments_make_a_merge_and_fewer_wait() {
        assert_eq!(merges(&[447_067; 3]), Vec::<Vec<u32>>::new());
        assert_eq!(merges(&[447_067; 4]), vec![vec![447_067; 4]]);
    }

    #[test]
    fn a_segment_of_over_a_million_documents_is_not_merged_again() {
        // Four merged segments (tantivy's default would merge them into one of 7.2M).
        assert_eq!(merges(&[1_788_268; 4]), Vec::<Vec<u32>>::new());
        // Beside them, the small ones still merge.
        let m = merges(&[
            1_788_268, 1_788_268, 1_788_268, 1_788_268, 20_000, 20_000, 20_000, 20_000,
        ]);
        assert_eq!(m, vec![vec![20_000; 4]]);
    }

    #[test]
    fn a_rebuilt_index_merges_four_at_a_time() {
        // A rebuild's flushed segments, all of one size class: tantivy's policy takes all 22 in
        // one merge of ~9.8M documents.
        let m = merges(&[447_067; 22]);
        assert_eq!(m.len(), 6, "{m:?}");
        assert!(
            m.iter().all(|g| (2..=MERGE_SEGMENTS).contains(&g.len())),
            "{m:?}"
        );
        assert_eq!(m.iter().map(Vec::len).sum::<usize>(), 22);
        let unbounded =
            LogMergePolicy::default().compute_merge_candidates(&segments(&[447_067; 22]));
        assert_eq!(unbounded.len(), 1);
        assert_eq!(unbounded[0].0.len(), 22);
    }
}
