//! The shipped deployment files carry no working secret: every secret of
//! docker-compose.yml is a required variable, `.env.example` leaves them empty, and the
//! object store is not published on every interface by default. clamd's limits and
//! FluidCloud's scan limit come from one variable. (scripts/compose-test runs them.)

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

/// The value of `key: value` in docker-compose.yml (the first such line).
fn compose_value(key: &str) -> &'static str {
    COMPOSE
        .lines()
        .map(str::trim)
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(": "))
        .unwrap_or_else(|| panic!("{key} missing from docker-compose.yml"))
}

#[test]
fn clamd_scans_whole_every_file_fluidcloud_sends_and_alerts_past_its_limits() {
    let scan = compose_value("FLUIDCLOUD__SCAN__MAX_BYTES");
    assert!(scan.starts_with("${SCAN_MAX_BYTES:-"), "{scan}");
    assert_eq!(compose_value("CLAMD_CONF_StreamMaxLength"), scan);
    assert_eq!(compose_value("CLAMD_CONF_MaxFileSize"), scan);
    assert_eq!(compose_value("CLAMD_CONF_AlertExceedsMax"), "\"yes\"");
    let default = scan
        .trim_start_matches("${SCAN_MAX_BYTES:-")
        .trim_end_matches('}');
    let example = ENV_EXAMPLE
        .lines()
        .find_map(|l| l.strip_prefix("SCAN_MAX_BYTES="))
        .expect("SCAN_MAX_BYTES in .env.example");
    assert_eq!(example, default);
    // clamd's sizes stop below 4 GiB (4000M, the largest the docs name).
    let bytes: u64 = default.parse().expect("a number of bytes");
    assert!(bytes <= 4000 * 1024 * 1024, "{bytes}");
}
