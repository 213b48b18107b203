//! The shipped deployment files carry no working secret: every secret of
//! docker-compose.yml is a required variable, `.env.example` leaves them empty, and the
//! object store is not published on every interface by default.

const COMPOSE: &str = include_str!("../../../docker-compose.yml");
const ENV_EXAMPLE: &str = include_str!("../../../.env.example");
const SECRETS: [&str; 4] = [
    "POSTGRES_PASSWORD",
    "S3_ACCESS_KEY",
    "S3_SECRET_KEY",
    "FLUIDCLOUD_SIGNING_KEY",
];

#[test]
fn every_compose_secret_is_required_and_has_no_default() {
    for secret in SECRETS {
        let uses: Vec<&str> = COMPOSE
            .match_indices(&format!("${{{secret}"))
            .map(|(at, _)| &COMPOSE[at..COMPOSE[at..].find('}').map_or(COMPOSE.len(), |e| at + e)])
            .collect();
        assert!(!uses.is_empty(), "{secret} is not used");
        for used in uses {
            assert!(
                used.starts_with(&format!("${{{secret}:?")),
                "{used} must be required"
            );
        }
    }
    for literal in ["change-me", "secretKey\": \"", "fluidcloud-dev-secret"] {
        assert!(
            !COMPOSE.contains(literal),
            "docker-compose.yml holds {literal:?}"
        );
    }
}

#[test]
fn the_env_example_leaves_every_secret_empty() {
    for secret in [
        "POSTGRES_PASSWORD",
        "S3_SECRET_KEY",
        "FLUIDCLOUD_SIGNING_KEY",
    ] {
        let line = ENV_EXAMPLE
            .lines()
            .find(|l| l.starts_with(&format!("{secret}=")))
            .unwrap_or_else(|| panic!("{secret} missing from .env.example"));
        assert_eq!(line, format!("{secret}="), "{line}");
    }
}

#[test]
fn the_store_is_published_on_loopback_unless_told_otherwise() {
    let published: Vec<&str> = COMPOSE
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("- \"") && l.contains(":8333"))
        .collect();
    assert_eq!(
        published,
        ["- \"${S3_BIND:-127.0.0.1}:${S3_PORT:-8333}:8333\""]
    );
}
