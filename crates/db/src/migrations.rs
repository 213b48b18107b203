//! The schema migrations, embedded in the binary so `fluidcloud migrate` needs no files.
//!
//! Each backend has its own folder under `migrations/`; versions match one to one.
//! The files are listed here by hand (so the descriptions recorded in
//! `_sqlx_migrations` stay what they have always been); the tests below fail when a
//! `.sql` file in either folder is missing from its list, or the folders disagree.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;

use sqlx::error::BoxDynError;
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};

/// One migration file: version, description, SQL.
type Embedded = (i64, &'static str, &'static str);

/// The migrations of one backend, from the folder of that name under `migrations/`.
macro_rules! migrations {
    ($backend:literal: $($version:literal $name:literal),* $(,)?) => {
        &[$((
            $version,
            $name,
            include_str!(concat!("../../../migrations/", $backend, "/", $name, ".sql")),
        )),*]
    };
}

const POSTGRES: &[Embedded] = migrations!("postgres":
    1 "0001_foundation",
    2 "0002_uploads_and_jobs",
    3 "0003_shares",
    4 "0004_rate_limits",
    5 "0005_trash_retention",
    6 "0006_scanned_object_version",
    7 "0007_job_claims",
    8 "0008_canonical_content_types",
    9 "0009_default_space_app",
    10 "0010_app_usage",
    11 "0011_file_pages",
);

const SQLITE: &[Embedded] = migrations!("sqlite":
    1 "0001_foundation",
    2 "0002_uploads_and_jobs",
    3 "0003_shares",
    4 "0004_rate_limits",
    5 "0005_trash_retention",
    6 "0006_scanned_object_version",
    7 "0007_job_claims",
    8 "0008_canonical_content_types",
    9 "0009_default_space_app",
    10 "0010_app_usage",
    11 "0011_file_pages",
);

#[derive(Debug)]
struct EmbeddedSource(&'static [Embedded]);

impl<'s> MigrationSource<'s> for EmbeddedSource {
    fn resolve(
        self,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<Migration>, BoxDynError>> + Send + 's>> {
        let migrations = self
            .0
            .iter()
            .map(|&(version, description, sql)| {
                Migration::new(
                    version,
                    Cow::Borrowed(description),
                    MigrationType::Simple,
                    Cow::Borrowed(sql),
                    false,
                )
            })
            .collect();
        Box::pin(async move { Ok(migrations) })
    }
}

pub(crate) async fn postgres() -> Migrator {
    migrator(POSTGRES).await
}

pub(crate) async fn sqlite() -> Migrator {
    migrator(SQLITE).await
}

async fn migrator(files: &'static [Embedded]) -> Migrator {
    Migrator::new(EmbeddedSource(files))
        .await
        .expect("embedded migrations always resolve")
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    /// The `.sql` files in `migrations/<backend>`, as (version, name without `.sql`),
    /// in version order. Every file's name must start with its version.
    fn files_on_disk(backend: &str) -> Vec<(i64, String)> {
        let folder = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../migrations")
            .join(backend);
        let mut files: Vec<(i64, String)> = std::fs::read_dir(&folder)
            .unwrap_or_else(|e| panic!("reading {}: {e}", folder.display()))
            .map(|entry| entry.expect("a directory entry").path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "sql"))
            .map(|path| {
                let name = path
                    .file_stem()
                    .and_then(|stem| stem.to_str())
                    .expect("a UTF-8 file name")
                    .to_owned();
                let version = name
                    .split_once('_')
                    .and_then(|(version, _)| version.parse().ok())
                    .unwrap_or_else(|| panic!("{} does not start with NNNN_", path.display()));
                (version, name)
            })
            .collect();
        files.sort();
        files
    }

    fn listed(embedded: &[Embedded]) -> Vec<(i64, String)> {
        embedded
            .iter()
            .map(|&(version, name, _)| (version, name.to_owned()))
            .collect()
    }

    #[test]
    fn both_backends_have_the_same_versions() {
        let versions = |files: &[Embedded]| files.iter().map(|m| (m.0, m.1)).collect::<Vec<_>>();
        assert_eq!(versions(POSTGRES), versions(SQLITE));
    }

    #[test]
    fn every_migration_file_is_listed_with_its_version() {
        assert_eq!(
            listed(POSTGRES),
            files_on_disk("postgres"),
            "the POSTGRES list in migrations.rs differs from migrations/postgres"
        );
        assert_eq!(
            listed(SQLITE),
            files_on_disk("sqlite"),
            "the SQLITE list in migrations.rs differs from migrations/sqlite"
        );
    }

    #[test]
    fn both_migration_folders_have_the_same_versions() {
        let versions = |backend| {
            files_on_disk(backend)
                .into_iter()
                .map(|(version, _)| version)
                .collect::<Vec<_>>()
        };
        assert_eq!(versions("postgres"), versions("sqlite"));
    }
}
