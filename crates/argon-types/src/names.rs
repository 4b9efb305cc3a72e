//! Names of projects, branches and collections, and how MongoDB database
//! names map onto them.
//!
//! A MongoDB database name addresses a branch: `app` is project `app`'s
//! `main` branch, `app~feature` is branch `feature`, and `app~main@1500` is a
//! read-only view of `main` at LSN 1500.

use std::fmt;

use crate::Lsn;

/// The branch every project has from creation.
pub const MAIN_BRANCH: &str = "main";

/// Why a name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind} name {name:?}: {reason}")]
pub struct InvalidName {
    pub kind: &'static str,
    pub name: String,
    pub reason: &'static str,
}

fn check(kind: &'static str, name: &str, max: usize) -> Result<(), InvalidName> {
    let bad = |reason| Err(InvalidName { kind, name: name.to_string(), reason });
    if name.is_empty() {
        return bad("must not be empty");
    }
    if name.len() > max {
        return bad("is too long");
    }
    if name.chars().any(|c| {
        matches!(c, '~' | '@' | '/' | '\\' | '.' | ' ' | '"' | '$' | '*' | '<' | '>' | ':' | '|' | '?' | '\0')
    }) {
        return bad("must not contain any of ~ @ / \\ . space \" $ * < > : | ? or NUL");
    }
    Ok(())
}

/// Checks a project name (a MongoDB database name without `~` and `@`).
pub fn check_project(name: &str) -> Result<(), InvalidName> {
    check("project", name, 60)
}

/// Checks a branch name.
pub fn check_branch(name: &str) -> Result<(), InvalidName> {
    check("branch", name, 60)
}

/// Checks a collection name as MongoDB does (no `$`, no NUL, not empty,
/// not starting with `system.`).
pub fn check_collection(name: &str) -> Result<(), InvalidName> {
    let bad = |reason| Err(InvalidName { kind: "collection", name: name.to_string(), reason });
    if name.is_empty() {
        return bad("must not be empty");
    }
    if name.contains('\0') || name.contains('$') {
        return bad("must not contain '$' or NUL");
    }
    if name.starts_with('.') || name.ends_with('.') {
        return bad("must not start or end with '.'");
    }
    if name.len() > 235 {
        return bad("is too long");
    }
    Ok(())
}

/// A parsed MongoDB database name: which project, branch and (optionally)
/// which LSN it addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbAddress {
    pub project: String,
    pub branch: String,
    /// `Some` for a read-only view at a past LSN (`app~main@1500`).
    pub at_lsn: Option<Lsn>,
}

impl DbAddress {
    /// Parses `project`, `project~branch` or `project~branch@lsn`.
    pub fn parse(db: &str) -> Result<DbAddress, InvalidName> {
        let (rest, at_lsn) = match db.split_once('@') {
            Some((rest, lsn)) => {
                let lsn = lsn.parse::<Lsn>().map_err(|_| InvalidName {
                    kind: "database",
                    name: db.to_string(),
                    reason: "the part after '@' must be an LSN (a non-negative integer)",
                })?;
                (rest, Some(lsn))
            }
            None => (db, None),
        };
        let (project, branch) = match rest.split_once('~') {
            Some((p, b)) => (p, b),
            None => (rest, MAIN_BRANCH),
        };
        check_project(project)?;
        check_branch(branch)?;
        Ok(DbAddress { project: project.to_string(), branch: branch.to_string(), at_lsn })
    }

    /// True for a read-only view at a past LSN.
    pub fn is_view(&self) -> bool {
        self.at_lsn.is_some()
    }
}

impl fmt::Display for DbAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.project)?;
        if self.branch != MAIN_BRANCH || self.at_lsn.is_some() {
            write!(f, "~{}", self.branch)?;
        }
        if let Some(l) = self.at_lsn {
            write!(f, "@{l}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_database_addresses() {
        let a = DbAddress::parse("app").unwrap();
        assert_eq!((a.project.as_str(), a.branch.as_str(), a.at_lsn), ("app", "main", None));
        let a = DbAddress::parse("app~feature").unwrap();
        assert_eq!((a.project.as_str(), a.branch.as_str(), a.at_lsn), ("app", "feature", None));
        let a = DbAddress::parse("app~main@1500").unwrap();
        assert_eq!(a.at_lsn, Some(Lsn(1500)));
        assert!(a.is_view());
        assert_eq!(a.to_string(), "app~main@1500");
        assert!(DbAddress::parse("app~main@x").is_err());
        assert!(DbAddress::parse("~main").is_err());
        assert!(DbAddress::parse("app~").is_err());
        assert!(DbAddress::parse("a.b").is_err());
    }
}
