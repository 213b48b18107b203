//! Secrets read from files: `<key>_file` (`FLUIDCLOUD__…_FILE` or in the `--config`
//! file) names a file whose contents, without the trailing newline, become the value,
//! layer by layer so a later layer still wins.

use super::*;

/// How a layer names its keys in errors.
#[derive(Debug, Clone, Copy)]
pub(super) enum Layer {
    /// `FLUIDCLOUD__SECTION__KEY`.
    Env,
    /// `section.key` (figment adds the file's path).
    File,
}

impl Layer {
    fn name(self, path: &[&str]) -> String {
        match self {
            Layer::Env => env_var_name(&path.join(".")),
            Layer::File => format!("`{}`", path.join(".")),
        }
    }
}

/// A layer whose `<secret>_file` keys are replaced by the contents of the files they
/// name, so that a later layer's secret (in any form) still wins over an earlier one.
pub(super) struct SecretFiles<P> {
    pub(super) inner: P,
    pub(super) layer: Layer,
}

impl<P: Provider> Provider for SecretFiles<P> {
    fn metadata(&self) -> Metadata {
        self.inner.metadata()
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let mut data = self.inner.data()?;
        for dict in data.values_mut() {
            for key in FILE_KEYS {
                let (section, name) = key.split_once('.').expect("section.key");
                if let Some(Value::Dict(_, settings)) = dict.get_mut(section) {
                    read_secret_file(settings, &[section], name, self.layer)
                        .map_err(figment::Error::from)?;
                }
            }
            let (section, map) = FREE_FORM.split_once('.').expect("section.key");
            if let Some(Value::Dict(_, settings)) = dict.get_mut(section)
                && let Some(Value::Dict(_, keys)) = settings.get_mut(map)
            {
                let ids: Vec<String> = keys
                    .keys()
                    .filter_map(|key| key.strip_suffix(FILE_SUFFIX))
                    .filter(|id| !id.is_empty())
                    .map(str::to_owned)
                    .collect();
                for id in ids {
                    read_secret_file(keys, &[section, map], &id, self.layer)
                        .map_err(figment::Error::from)?;
                }
            }
        }
        Ok(data)
    }

    fn profile(&self) -> Option<Profile> {
        self.inner.profile()
    }
}

/// Replaces `<name>_file` in `settings` (the table at `path`) by `<name>`, the named
/// file's contents less trailing newlines.
fn read_secret_file(
    settings: &mut Dict,
    path: &[&str],
    name: &str,
    layer: Layer,
) -> Result<(), String> {
    let file_key = format!("{name}{FILE_SUFFIX}");
    let Some(value) = settings.remove(&file_key) else {
        return Ok(());
    };
    let key_name = |key: &str| {
        let mut full = path.to_vec();
        full.push(key);
        layer.name(&full)
    };
    if settings.contains_key(name) {
        return Err(format!(
            "{} and {} are both set; set only one of them",
            key_name(name),
            key_name(&file_key)
        ));
    }
    let Value::String(_, file) = value else {
        return Err(format!(
            "{} must be the path of a file",
            key_name(&file_key)
        ));
    };
    let secret = std::fs::read_to_string(&file)
        .map_err(|e| format!("cannot read {} ({file}): {e}", key_name(&file_key)))?;
    let secret = secret.trim_end_matches(['\n', '\r']).to_owned();
    settings.insert(name.to_owned(), Value::from(secret));
    Ok(())
}

/// The environment variable that sets a dotted key.
pub(super) fn env_var_name(key: &str) -> String {
    format!("{ENV_PREFIX}{}", key.replace('.', "__").to_uppercase())
}
