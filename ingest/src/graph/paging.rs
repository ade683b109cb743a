//! Following `@odata.nextLink` safely: every paged walk (the audit pull, each PIM collection) goes
//! through one [`Pager`], so a server that links in a circle or never stops paging ends the walk
//! with an error instead of holding the collector (and the tenant's request budget) forever.

use std::collections::HashSet;
use std::hash::{BuildHasher, RandomState};

use serde_json::Value;

use super::error::{ErrorKind, GraphError};

/// The pages one walk reads at most, unless [`super::TenantSettings::max_pages`] says otherwise:
/// 10,000 full audit pages are ~10 million records, far beyond Entra's 30 days of a large tenant.
pub const DEFAULT_MAX_PAGES: usize = 10_000;

/// The links of one walk: which pages were requested, and how many.
#[derive(Debug)]
pub(crate) struct Pager {
    endpoint: &'static str,
    max_pages: usize,
    pages: usize,
    /// Hashes of every URL requested so far: a link back to any of them is a cycle. Hashes rather
    /// than URLs, because a hostile server could hand out links of many megabytes each.
    seen: HashSet<u64>,
    hasher: RandomState,
}

impl Pager {
    /// A walk that starts by requesting `first`.
    pub(crate) fn new(endpoint: &'static str, first: &str, max_pages: usize) -> Pager {
        let hasher = RandomState::new();
        let mut seen = HashSet::new();
        seen.insert(hasher.hash_one(first));
        Pager {
            endpoint,
            max_pages: max_pages.max(1),
            pages: 0,
            seen,
            hasher,
        }
    }

    /// Pages read so far (the one being handled included, once [`Pager::next`] was called).
    pub(crate) fn pages(&self) -> usize {
        self.pages
    }

    /// Reads the `@odata.nextLink` of the page just received: `None` at the end of the walk, or
    /// the URL to request next. Fails on a link that is not a string, on a link to a page this
    /// walk already requested, and when the next page would exceed the page cap.
    pub(crate) fn next(
        &mut self,
        body: &Value,
        tenant: &str,
    ) -> Result<Option<String>, GraphError> {
        self.pages += 1;
        let endpoint = self.endpoint;
        let malformed = |msg: String| GraphError::new(ErrorKind::Malformed, endpoint, tenant, msg);
        let link = match body.get("@odata.nextLink") {
            None | Some(Value::Null) => return Ok(None),
            Some(Value::String(s)) => s,
            Some(other) => {
                return Err(malformed(format!(
                    "Graph response from {endpoint} has an @odata.nextLink that is not a string: {}",
                    kind_of(other)
                )));
            }
        };
        if !self.seen.insert(self.hasher.hash_one(link.as_str())) {
            return Err(malformed(format!(
                "Graph response from {endpoint} links back to a page already read on page {} \
                 (an @odata.nextLink cycle); stopped following it",
                self.pages
            )));
        }
        if self.pages >= self.max_pages {
            return Err(malformed(format!(
                "Graph response from {endpoint} still has a next page after {} pages, the most \
                 one walk reads; stopped following it (for the audit log, a smaller `backfill` \
                 makes the first window smaller)",
                self.max_pages
            )));
        }
        Ok(Some(link.clone()))
    }
}

/// What a JSON value is, without its content (which a server chose and may be huge).
fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn link(to: &str) -> Value {
        json!({"value": [], "@odata.nextLink": to})
    }

    #[test]
    fn a_link_back_to_any_earlier_page_is_a_cycle() {
        let mut p = Pager::new("/x", "https://g/v1.0/x?first", 100);
        assert_eq!(
            p.next(&link("https://g/v1.0/x?2"), "t")
                .ok()
                .flatten()
                .as_deref(),
            Some("https://g/v1.0/x?2")
        );
        assert!(p.next(&link("https://g/v1.0/x?3"), "t").is_ok());
        let err = p
            .next(&link("https://g/v1.0/x?first"), "t")
            .expect_err("back to page 1");
        assert_eq!(err.kind, ErrorKind::Malformed);
        assert!(err.message.contains("cycle"), "{}", err.message);
    }

    #[test]
    fn the_page_cap_ends_a_walk_that_never_ends() {
        let mut p = Pager::new("/x", "first", 3);
        assert!(p.next(&link("2"), "t").is_ok());
        assert!(p.next(&link("3"), "t").is_ok());
        let err = p.next(&link("4"), "t").expect_err("cap");
        assert!(err.message.contains("after 3 pages"), "{}", err.message);
        // The last page of a walk at the cap is fine: only a further page is refused.
        let mut p = Pager::new("/x", "first", 2);
        assert!(p.next(&link("2"), "t").is_ok());
        assert_eq!(p.next(&json!({"value": []}), "t").ok(), Some(None));
    }

    #[test]
    fn a_link_that_is_not_a_string_is_refused_without_echoing_it() {
        let mut p = Pager::new("/x", "first", 3);
        let err = p
            .next(&json!({"@odata.nextLink": {"huge": "x".repeat(1000)}}), "t")
            .expect_err("object");
        assert!(err.message.contains("an object"), "{}", err.message);
        assert!(!err.message.contains("xxxx"), "{}", err.message);
    }
}
