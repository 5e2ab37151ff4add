//! Where a policy set comes from: the built-in defaults, or a directory laid out like
//! `policies/` (`schema.cedarschema`, `*.cedar` files, `tests/*.json` cases). Loading the
//! text, marking policies as shadow, and the fingerprint recorded in the audit log when
//! enforcement changes all live here, so the daemon and every command load a policy set the
//! same way.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::cases::{parse_cases, PolicyCase};
use crate::defaults;
use crate::engine::PolicySource;

/// Why a policy set could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("reading {path}: {error}")]
    Read { path: PathBuf, error: std::io::Error },
    #[error("policies.shadow: no policy with @id(\"{0}\")")]
    UnknownShadow(String),
    #[error("{file}: {message}")]
    Cases { file: String, message: String },
}

fn read(path: &Path) -> Result<String, SourceError> {
    std::fs::read_to_string(path).map_err(|error| SourceError::Read { path: path.to_path_buf(), error })
}

/// The text of a policy set: its schema and its policy files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyFiles {
    pub schema: String,
    pub sources: Vec<PolicySource>,
    /// Where the files came from: `None` for the built-in set.
    pub dir: Option<PathBuf>,
}

impl PolicyFiles {
    /// The set carried inside the binary (`policies/default/`).
    pub fn built_in() -> PolicyFiles {
        PolicyFiles { schema: defaults::SCHEMA.to_string(), sources: defaults::policies(), dir: None }
    }

    /// `dir/schema.cedarschema` (the built-in schema when absent) and every `*.cedar` file in
    /// `dir` and its direct subdirectories except `tests/`, in name order.
    pub fn read_dir(dir: &Path) -> Result<PolicyFiles, SourceError> {
        let schema_path = dir.join("schema.cedarschema");
        let schema = if schema_path.exists() { read(&schema_path)? } else { defaults::SCHEMA.to_string() };
        let mut files = Vec::new();
        collect(dir, "cedar", 1, &mut files)?;
        let sources = files
            .into_iter()
            .map(|path| Ok(PolicySource { name: path.display().to_string(), text: read(&path)? }))
            .collect::<Result<Vec<_>, SourceError>>()?;
        Ok(PolicyFiles { schema, sources, dir: Some(dir.to_path_buf()) })
    }

    /// The built-in set, or `dir`'s.
    pub fn from(dir: Option<&Path>) -> Result<PolicyFiles, SourceError> {
        match dir {
            Some(dir) => PolicyFiles::read_dir(dir),
            None => Ok(PolicyFiles::built_in()),
        }
    }

    /// Run the policies with these ids in shadow (recorded, never enforced), as an
    /// `@shadow("true")` annotation in front of each would.
    pub fn shadow(mut self, ids: &[String]) -> Result<PolicyFiles, SourceError> {
        for id in ids {
            if !self.sources.iter_mut().any(|s| mark_shadow(&mut s.text, id)) {
                return Err(SourceError::UnknownShadow(id.clone()));
            }
        }
        Ok(self)
    }

    /// SHA-256 over the schema and every file's name and text, hex: changes whenever the
    /// policy text in force does.
    pub fn fingerprint(&self) -> String {
        let mut hasher = Sha256::new();
        hasher.update(self.schema.as_bytes());
        for s in &self.sources {
            hasher.update(s.name.as_bytes());
            hasher.update(s.text.as_bytes());
        }
        hex::encode(hasher.finalize())
    }

    /// The test cases that go with the set: the shipped ones for the built-in set,
    /// `dir/tests/*.json` otherwise.
    pub fn cases(&self) -> Result<Vec<(String, Vec<PolicyCase>)>, SourceError> {
        let texts: Vec<(String, String)> = match &self.dir {
            None => defaults::CASES.iter().map(|(n, t)| (n.to_string(), t.to_string())).collect(),
            Some(dir) => {
                let tests = dir.join("tests");
                let mut files = Vec::new();
                if tests.is_dir() {
                    collect(&tests, "json", 0, &mut files)?;
                }
                files
                    .into_iter()
                    .map(|p| Ok((p.display().to_string(), read(&p)?)))
                    .collect::<Result<_, SourceError>>()?
            }
        };
        texts
            .into_iter()
            .map(|(file, text)| {
                let cases = parse_cases(&text)
                    .map_err(|e| SourceError::Cases { file: file.clone(), message: e.to_string() })?;
                Ok((file, cases))
            })
            .collect()
    }
}

fn collect(dir: &Path, ext: &str, depth: u32, out: &mut Vec<PathBuf>) -> Result<(), SourceError> {
    let failed = |error| SourceError::Read { path: dir.to_path_buf(), error };
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(failed)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .map_err(failed)?;
    entries.sort();
    for path in entries {
        if path.is_dir() && depth > 0 && path.file_name().is_some_and(|n| n != "tests") {
            collect(&path, ext, depth - 1, out)?;
        } else if path.extension().is_some_and(|e| e == ext) {
            out.push(path);
        }
    }
    Ok(())
}

/// Mark the policy `@id(ID)` as shadow by adding the annotation in front of it.
fn mark_shadow(text: &mut String, id: &str) -> bool {
    let marker = format!("@id(\"{id}\")");
    match text.find(&marker) {
        Some(at) => {
            text.insert_str(at, "@shadow(\"true\") ");
            // A policy already marked shadow would now carry the annotation twice.
            *text = text.replace("@shadow(\"true\") @shadow(\"true\")", "@shadow(\"true\")");
            true
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn shadow_marks_by_id_and_the_fingerprint_follows_the_text() {
        let built_in = PolicyFiles::built_in();
        let ids: Vec<String> = vec!["prod-no-halving".into()];
        let shadowed = built_in.clone().shadow(&ids).expect("a shipped policy can be shadowed");
        assert_ne!(built_in.fingerprint(), shadowed.fingerprint());
        assert_eq!(built_in.fingerprint(), PolicyFiles::built_in().fingerprint());
        let unknown = PolicyFiles::built_in().shadow(&["no-such-policy".to_string()]).map(|_| ());
        assert_eq!(
            unknown.map_err(|e| e.to_string()),
            Err("policies.shadow: no policy with @id(\"no-such-policy\")".into())
        );
        let again = shadowed.shadow(&ids).expect("shadowing twice");
        let marks: usize =
            again.sources.iter().map(|s| s.text.matches("@shadow(\"true\") @id(\"prod-no-halving\")").count()).sum();
        assert_eq!(marks, 1, "the annotation is not doubled");
    }

    #[test]
    fn a_directory_reads_like_the_built_in_set() {
        let dir = tempfile::tempdir().expect("tempdir");
        for s in defaults::policies() {
            let path = dir.path().join(&s.name);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(&path, &s.text).expect("write");
        }
        let read = PolicyFiles::read_dir(dir.path()).expect("reads");
        assert_eq!(read.schema, defaults::SCHEMA);
        assert_eq!(read.sources.len(), defaults::policies().len());
        assert!(read.cases().expect("no cases is fine").is_empty());
        let missing = PolicyFiles::read_dir(&dir.path().join("nope")).map(|_| ()).map_err(|e| e.to_string());
        assert!(missing.is_err_and(|e| e.starts_with("reading ")));
    }
}
