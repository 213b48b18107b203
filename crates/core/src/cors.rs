//! The origins a browser page may call a service from (`api.cors_allowed_origins`):
//! none (the default: no CORS headers at all), every origin (`*`), or a list. The API
//! answers CORS for them, and so does the embedded object store of `fluidcloud dev`,
//! which stands in for a bucket configured with the same origins.

use serde::Deserialize;

/// Which origins may make cross-origin requests.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(try_from = "Vec<String>")]
pub enum AllowedOrigins {
    /// No CORS: browsers on other origins cannot read any response.
    #[default]
    None,
    /// Every origin (`*`). Keys travel in headers, never in cookies, so no origin gains
    /// anything a page could not do with a key it already holds.
    Any,
    /// These origins, as browsers send them in `Origin` (`https://app.example.com`,
    /// `http://127.0.0.1:3000`: scheme, host and a non-default port, lower case).
    List(Vec<String>),
}

/// An entry of `api.cors_allowed_origins` that is not an origin.
#[derive(Debug, thiserror::Error)]
#[error(
    "{entry:?} is not an origin: {reason} (write it as a browser sends it, e.g. \"https://app.example.com\" or \"http://127.0.0.1:3000\", or use [\"*\"])"
)]
pub struct InvalidOrigin {
    entry: String,
    reason: &'static str,
}

impl TryFrom<Vec<String>> for AllowedOrigins {
    type Error = InvalidOrigin;

    fn try_from(entries: Vec<String>) -> Result<Self, Self::Error> {
        if entries.is_empty() {
            return Ok(AllowedOrigins::None);
        }
        if entries.iter().any(|entry| entry == "*") {
            return if entries.len() == 1 {
                Ok(AllowedOrigins::Any)
            } else {
                Err(InvalidOrigin {
                    entry: "*".into(),
                    reason: "`*` already allows every origin; list it alone",
                })
            };
        }
        let mut origins: Vec<String> = entries
            .iter()
            .map(|entry| normalize(entry))
            .collect::<Result<_, _>>()?;
        origins.sort();
        origins.dedup();
        Ok(AllowedOrigins::List(origins))
    }
}

/// `entry` as browsers serialise the origin (lower case, default port dropped).
fn normalize(entry: &str) -> Result<String, InvalidOrigin> {
    let refuse = |reason| InvalidOrigin {
        entry: entry.to_owned(),
        reason,
    };
    let url = url::Url::parse(entry).map_err(|_| refuse("not a URL"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(refuse("the scheme must be http or https"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(refuse("an origin has no user name or password"));
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err(refuse("an origin has no path, query or fragment"));
    }
    Ok(url.origin().ascii_serialization())
}

impl AllowedOrigins {
    /// Whether any CORS headers are sent at all.
    pub fn is_enabled(&self) -> bool {
        !matches!(self, AllowedOrigins::None)
    }

    /// Whether a request whose `Origin` header is `origin` may read the response.
    pub fn allows(&self, origin: &str) -> bool {
        match self {
            AllowedOrigins::None => false,
            AllowedOrigins::Any => true,
            AllowedOrigins::List(list) => list.iter().any(|o| o.eq_ignore_ascii_case(origin)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(entries: &[&str]) -> Result<AllowedOrigins, String> {
        AllowedOrigins::try_from(entries.iter().map(|e| (*e).to_owned()).collect::<Vec<_>>())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn lists_are_kept_as_browsers_send_origins() {
        assert_eq!(parse(&[]).unwrap(), AllowedOrigins::None);
        assert_eq!(parse(&["*"]).unwrap(), AllowedOrigins::Any);
        let list = parse(&[
            "https://App.Example.com",
            "http://127.0.0.1:3000/",
            "https://app.example.com:443",
            "http://[::1]:8000",
        ])
        .unwrap();
        assert_eq!(
            list,
            AllowedOrigins::List(vec![
                "http://127.0.0.1:3000".into(),
                "http://[::1]:8000".into(),
                "https://app.example.com".into(),
            ])
        );
        assert!(list.allows("https://app.example.com"));
        assert!(list.allows("http://127.0.0.1:3000"));
        assert!(!list.allows("http://127.0.0.1:3001"));
        assert!(!list.allows("https://app.example.com.evil.example"));
        assert!(!list.allows("null"));
        assert!(AllowedOrigins::Any.allows("null"));
        assert!(!AllowedOrigins::None.allows("https://app.example.com"));
    }

    #[test]
    fn anything_but_an_origin_is_refused() {
        for bad in [
            &["app.example.com"][..],
            &["https://app.example.com/path"],
            &["https://app.example.com?x=1"],
            &["https://user@app.example.com"],
            &["ftp://app.example.com"],
            &["null"],
            &["*", "https://app.example.com"],
            &[""],
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        let message = parse(&["https://a.example/x"]).unwrap_err();
        assert!(message.contains("\"https://a.example/x\""), "{message}");
    }
}
