//! API key scopes (SPEC §2).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// One permission an API key may hold.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
pub enum Scope {
    #[serde(rename = "spaces:read")]
    SpacesRead,
    #[serde(rename = "spaces:write")]
    SpacesWrite,
    #[serde(rename = "folders:read")]
    FoldersRead,
    #[serde(rename = "folders:write")]
    FoldersWrite,
    #[serde(rename = "files:read")]
    FilesRead,
    #[serde(rename = "files:write")]
    FilesWrite,
    #[serde(rename = "shares:read")]
    SharesRead,
    #[serde(rename = "shares:write")]
    SharesWrite,
    #[serde(rename = "quota:read")]
    QuotaRead,
}

impl Scope {
    /// Every scope, in the order SPEC.md lists them. A default partner key holds all.
    pub const ALL: [Scope; 9] = [
        Scope::SpacesRead,
        Scope::SpacesWrite,
        Scope::FoldersRead,
        Scope::FoldersWrite,
        Scope::FilesRead,
        Scope::FilesWrite,
        Scope::SharesRead,
        Scope::SharesWrite,
        Scope::QuotaRead,
    ];

    /// The wire name, e.g. `files:read`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Scope::SpacesRead => "spaces:read",
            Scope::SpacesWrite => "spaces:write",
            Scope::FoldersRead => "folders:read",
            Scope::FoldersWrite => "folders:write",
            Scope::FilesRead => "files:read",
            Scope::FilesWrite => "files:write",
            Scope::SharesRead => "shares:read",
            Scope::SharesWrite => "shares:write",
            Scope::QuotaRead => "quota:read",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A scope name that is not one of the nine.
#[derive(Debug, thiserror::Error)]
#[error(
    "unknown scope {0:?} (known: spaces:read spaces:write folders:read folders:write files:read files:write shares:read shares:write quota:read)"
)]
pub struct UnknownScope(pub String);

impl FromStr for Scope {
    type Err = UnknownScope;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Scope::ALL
            .into_iter()
            .find(|scope| scope.as_str() == s)
            .ok_or_else(|| UnknownScope(s.to_owned()))
    }
}

/// The set of scopes a key holds, stored as one space-separated string.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(transparent)]
pub struct Scopes(Vec<Scope>);

impl Scopes {
    /// All nine scopes.
    pub fn all() -> Self {
        Scopes(Scope::ALL.to_vec())
    }

    /// A set from any list; duplicates are dropped and the order made canonical.
    pub fn new(mut scopes: Vec<Scope>) -> Self {
        scopes.sort();
        scopes.dedup();
        Scopes(scopes)
    }

    pub fn contains(&self, scope: Scope) -> bool {
        self.0.contains(&scope)
    }

    pub fn iter(&self) -> impl Iterator<Item = Scope> + '_ {
        self.0.iter().copied()
    }

    /// The storage form: names joined by single spaces.
    pub fn to_db_string(&self) -> String {
        self.0
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Parses a comma- or space-separated list (the CLI and the storage form).
    pub fn parse_list(list: &str) -> Result<Self, UnknownScope> {
        list.split([',', ' '])
            .filter(|s| !s.is_empty())
            .map(str::parse)
            .collect::<Result<Vec<_>, _>>()
            .map(Scopes::new)
    }
}

impl FromStr for Scopes {
    type Err = UnknownScope;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Scopes::parse_list(s)
    }
}

crate::sql_text::text_column!(Scopes);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for scope in Scope::ALL {
            assert_eq!(scope.as_str().parse::<Scope>().unwrap(), scope);
            assert_eq!(
                serde_json::to_string(&scope).unwrap(),
                format!("\"{scope}\"")
            );
        }
        assert!("files:delete".parse::<Scope>().is_err());
    }

    #[test]
    fn lists_are_canonical() {
        let scopes = Scopes::parse_list("files:write,files:read files:read").unwrap();
        assert_eq!(scopes.to_db_string(), "files:read files:write");
        assert_eq!(Scopes::parse_list("").unwrap().iter().count(), 0);
    }
}
