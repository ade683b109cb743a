//! Windows event sources: readers per format (`evtx`, `jsonl`, `xml`) that build
//! [`record::WinRecord`]s, and the pure [`normalize`] step they all share.

pub(crate) mod evtx;
pub(crate) mod evtx_json;
pub(crate) mod jsonl;
mod jsonl_fast;
pub mod normalize;
pub mod record;
pub(crate) mod xml;
