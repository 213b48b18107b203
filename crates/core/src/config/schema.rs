//! The keys of `config/default.toml` as the schema: anything else set in a layer is an
//! unknown key, reported with where it was set and the closest valid key.

use super::*;

/// The keys of the defaults: every setting (leaves) and every table (sections).
struct Schema {
    leaves: BTreeSet<String>,
    sections: BTreeSet<String>,
}

impl Schema {
    fn of_defaults() -> Schema {
        fn walk(path: &str, value: &Value, schema: &mut Schema) {
            match value {
                Value::Dict(_, dict) => {
                    schema.sections.insert(path.to_owned());
                    for (key, child) in dict {
                        walk(&join(path, key), child, schema);
                    }
                }
                _ => {
                    schema.leaves.insert(path.to_owned());
                }
            }
        }
        let mut schema = Schema {
            leaves: BTreeSet::new(),
            sections: BTreeSet::new(),
        };
        let defaults = Figment::from(Toml::string(DEFAULT_TOML))
            .find_value("")
            .expect("the built-in defaults parse");
        walk("", &defaults, &mut schema);
        schema
    }

    /// Whether `key` names a setting, or an entry of the free-form map.
    fn knows(&self, key: &str) -> bool {
        self.leaves.contains(key)
            || key
                .strip_prefix(FREE_FORM)
                .is_some_and(|rest| rest.starts_with('.'))
    }

    /// The valid key closest to an unknown one: by edit distance of the whole key, or
    /// of its last part (a setting put in the wrong section), preferring its section
    /// and then the longest common start.
    fn closest(&self, unknown: &str) -> Option<String> {
        let leaf = |key: &str| key.rsplit('.').next().unwrap_or_default().to_owned();
        let section = |key: &str| key.split('.').next().unwrap_or_default().to_owned();
        let mut candidates: Vec<String> = self.leaves.iter().cloned().collect();
        candidates.extend(FILE_KEYS.iter().map(|key| format!("{key}{FILE_SUFFIX}")));
        if section(unknown) == section(FREE_FORM) && unknown.contains('.') {
            candidates.push(join(FREE_FORM, &leaf(unknown)));
        }
        candidates
            .into_iter()
            .map(|candidate| {
                let distance = levenshtein(unknown, &candidate)
                    .min(levenshtein(&leaf(unknown), &leaf(&candidate)) + 2);
                let elsewhere = section(unknown) != section(&candidate);
                // Among equally distant keys, the one that starts the same way
                // (`secret_key` is closer to `secret_access_key` than to `bucket`).
                let shared = unknown
                    .chars()
                    .zip(candidate.chars())
                    .take_while(|(a, b)| a == b)
                    .count();
                ((distance, elsewhere, std::cmp::Reverse(shared)), candidate)
            })
            .min()
            .map(|(_, candidate)| candidate)
    }
}

/// Every key of `figment` that is not a setting, with where it was set.
pub(super) fn unknown_keys(figment: &Figment) -> Result<Vec<UnknownKey>, ConfigError> {
    fn walk(
        path: &str,
        value: &Value,
        schema: &Schema,
        figment: &Figment,
        found: &mut Vec<UnknownKey>,
    ) {
        if schema.knows(path) {
            return;
        }
        match value {
            Value::Dict(_, dict) if !dict.is_empty() || schema.sections.contains(path) => {
                for (key, child) in dict {
                    walk(&join(path, key), child, schema, figment, found);
                }
            }
            // A value where a table belongs: extracting reports it with its type.
            _ if schema.sections.contains(path) => {}
            _ => found.push(UnknownKey {
                key: path.to_owned(),
                origin: origin(figment.get_metadata(value.tag()), path),
                suggestion: schema.closest(path),
            }),
        }
    }
    let root = figment.find_value("").map_err(Box::new)?;
    let mut found = Vec::new();
    walk("", &root, &Schema::of_defaults(), figment, &mut found);
    Ok(found)
}

/// Where the value at `key` came from, as an operator would look for it.
fn origin(metadata: Option<&Metadata>, key: &str) -> Origin {
    let env = Env::prefixed(ENV_PREFIX).metadata();
    match metadata {
        Some(metadata) if metadata.source.is_none() && metadata.name == env.name => {
            Origin::Env(env_var_name(key))
        }
        Some(Metadata {
            source: Some(Source::File(path)),
            ..
        }) => Origin::File(path.clone()),
        Some(Metadata {
            name,
            source: Some(source),
            ..
        }) => Origin::Other(format!("{name} at {source}")),
        Some(metadata) => Origin::Other(metadata.name.to_string()),
        None => Origin::Other("an unnamed layer".to_owned()),
    }
}

/// `section.key`, or `key` at the root.
fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// The number of one-character insertions, deletions and substitutions that turn `a`
/// into `b`.
pub(super) fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for (i, a) in a.chars().enumerate() {
        current[0] = i + 1;
        for (j, b) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(a != *b);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}
