//! The schema migrations, embedded in the binary so `fluidcloud migrate` needs no files.
//!
//! Each backend has its own folder under `migrations/`; versions match one to one.

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
);

const SQLITE: &[Embedded] = migrations!("sqlite":
    1 "0001_foundation",
    2 "0002_uploads_and_jobs",
    3 "0003_shares",
    4 "0004_rate_limits",
    5 "0005_trash_retention",
    6 "0006_scanned_object_version",
    7 "0007_job_claims",
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
    use super::*;

    #[test]
    fn both_backends_have_the_same_versions() {
        let versions = |files: &[Embedded]| files.iter().map(|m| (m.0, m.1)).collect::<Vec<_>>();
        assert_eq!(versions(POSTGRES), versions(SQLITE));
    }
}
