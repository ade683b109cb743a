//! Expanding input specs (files, folders, globs) into the list of files to read.

use std::path::{Path, PathBuf};

use crate::IngestError;

/// Expand each spec into files: a file is itself; a folder is every file below it (recursive, sorted
/// by path, hidden files and folders skipped); anything else is tried as a glob pattern (matches
/// sorted). A spec that matches nothing is an error naming it; the other specs are still expanded.
/// A file named twice is listed once.
pub fn expand_inputs(specs: &[String]) -> (Vec<PathBuf>, Vec<IngestError>) {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for spec in specs {
        let before = files.len();
        let path = Path::new(spec);
        if path.is_file() {
            files.push(path.to_owned());
        } else if path.is_dir() {
            walk_dir(path, &mut files, &mut errors);
        } else {
            let options = glob::MatchOptions {
                require_literal_leading_dot: true,
                ..glob::MatchOptions::new()
            };
            match glob::glob_with(spec, options) {
                Err(e) => {
                    errors.push(IngestError::BadPattern {
                        spec: spec.clone(),
                        reason: e.to_string(),
                    });
                    continue;
                }
                Ok(paths) => {
                    let mut found: Vec<PathBuf> = Vec::new();
                    for entry in paths {
                        match entry {
                            Ok(p) if p.is_file() => found.push(p),
                            Ok(p) if p.is_dir() => walk_dir(&p, &mut found, &mut errors),
                            Ok(_) => {}
                            Err(e) => {
                                let path = e.path().to_owned();
                                errors.push(IngestError::Io {
                                    path,
                                    source: e.into(),
                                });
                            }
                        }
                    }
                    found.sort();
                    files.extend(found);
                }
            }
        }
        if files.len() == before {
            errors.push(IngestError::NoMatch { spec: spec.clone() });
        }
    }
    let mut seen = std::collections::HashSet::new();
    files.retain(|p| seen.insert(p.clone()));
    (files, errors)
}

fn is_hidden(entry: &walkdir::DirEntry) -> bool {
    entry.depth() > 0 && entry.file_name().to_string_lossy().starts_with('.')
}

fn walk_dir(dir: &Path, files: &mut Vec<PathBuf>, errors: &mut Vec<IngestError>) {
    let walker = walkdir::WalkDir::new(dir)
        .follow_links(true)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| !is_hidden(e));
    for entry in walker {
        match entry {
            Ok(e) if e.file_type().is_file() => files.push(e.into_path()),
            Ok(_) => {}
            Err(e) => {
                let path = e
                    .path()
                    .map(Path::to_owned)
                    .unwrap_or_else(|| dir.to_owned());
                let source = e
                    .into_io_error()
                    .unwrap_or_else(|| std::io::Error::other("filesystem loop"));
                errors.push(IngestError::Io { path, source });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_globs_and_missing_specs() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        std::fs::create_dir_all(d.join("sub")).expect("mkdir");
        std::fs::create_dir_all(d.join(".hidden")).expect("mkdir");
        for f in [
            "b.evtx",
            "a.jsonl",
            "sub/c.evtx",
            ".hidden/x.evtx",
            ".dot.evtx",
        ] {
            std::fs::write(d.join(f), b"x").expect("write");
        }
        let specs = vec![
            d.to_string_lossy().into_owned(),
            d.join("*.evtx").to_string_lossy().into_owned(),
            d.join("nothing-*.xml").to_string_lossy().into_owned(),
        ];
        let (files, errors) = expand_inputs(&specs);
        let names: Vec<String> = files
            .iter()
            .map(|p| {
                p.strip_prefix(d)
                    .expect("prefix")
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        // Hidden files are skipped by the walk and by globs; b.evtx is listed once.
        assert_eq!(names, vec!["a.jsonl", "b.evtx", "sub/c.evtx"]);
        assert_eq!(errors.len(), 1);
        assert!(errors[0].to_string().contains("nothing-*.xml"));
    }
}
