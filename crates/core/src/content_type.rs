//! Canonical content types: `type/subtype`, lower-case, with at most a `charset`.
//!
//! A declared type reaches browsers in the files server's `Content-Type`. Anything
//! beyond the essence and a charset is a way to make a browser read the header
//! differently from how we judged it (`text/plain;,text/html` is HTML to a browser, plain
//! text to a parser that stops at `;`), so it is refused, never stored or served.

/// Why a content type was refused; the message is shown to the API client as is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidContentType {
    #[error("content type must not be empty")]
    Empty,
    #[error("content type is longer than 255 characters")]
    TooLong,
    #[error("content type must be type/subtype, optionally followed by '; charset=NAME'")]
    Malformed,
    #[error("content type may carry only a charset parameter")]
    Parameter,
}

/// RFC 9110 token characters (no separators: no `,`, `;`, quotes, spaces).
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// The canonical form of a declared content type: the essence lower-cased, and a
/// lower-cased `charset` when one is given (`Text/HTML; Charset="UTF-8"` becomes
/// `text/html; charset=utf-8`). Any other parameter, list or malformed value is refused.
pub fn canonical_content_type(declared: &str) -> Result<String, InvalidContentType> {
    let declared = declared.trim_matches([' ', '\t']);
    if declared.is_empty() {
        return Err(InvalidContentType::Empty);
    }
    if declared.len() > 255 {
        return Err(InvalidContentType::TooLong);
    }
    let (essence, parameters) = declared.split_once(';').unwrap_or((declared, ""));
    let essence = essence.trim_end_matches([' ', '\t']).to_ascii_lowercase();
    match essence.split_once('/') {
        Some((kind, subtype)) if is_token(kind) && is_token(subtype) => {}
        _ => return Err(InvalidContentType::Malformed),
    }
    let parameters = parameters.trim_matches([' ', '\t']);
    if parameters.is_empty() {
        return if declared.contains(';') {
            Err(InvalidContentType::Malformed)
        } else {
            Ok(essence)
        };
    }
    let (name, value) = parameters
        .split_once('=')
        .ok_or(InvalidContentType::Malformed)?;
    if !name
        .trim_end_matches([' ', '\t'])
        .eq_ignore_ascii_case("charset")
    {
        return Err(InvalidContentType::Parameter);
    }
    let value = value.trim_start_matches([' ', '\t']);
    let value = value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(value);
    // Charset names are registered tokens; a quote, comma or second `;` left here is
    // an attempt at a second value.
    if !is_token(value) || value.contains(['\'', '`', '|']) {
        return Err(InvalidContentType::Malformed);
    }
    Ok(format!("{essence}; charset={}", value.to_ascii_lowercase()))
}

/// The essence (`type/subtype`) of a canonical content type.
pub fn essence(canonical: &str) -> &str {
    canonical.split(';').next().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_types_and_charsets_are_lower_cased() {
        assert_eq!(canonical_content_type("text/plain").unwrap(), "text/plain");
        assert_eq!(canonical_content_type(" Image/PNG ").unwrap(), "image/png");
        assert_eq!(
            canonical_content_type("Text/HTML; Charset=\"UTF-8\"").unwrap(),
            "text/html; charset=utf-8"
        );
        assert_eq!(
            canonical_content_type("application/vnd.ms-excel;charset=windows-1252").unwrap(),
            "application/vnd.ms-excel; charset=windows-1252"
        );
        assert_eq!(
            canonical_content_type("image/svg+xml").unwrap(),
            "image/svg+xml"
        );
    }

    #[test]
    fn lists_other_parameters_and_junk_are_refused() {
        for bad in [
            "",
            "text",
            "text/",
            "/plain",
            "text/plain;",
            "text/plain;,text/html",
            "text/plain, image/svg+xml",
            "text/plain; charset=utf-8, text/html",
            "text/plain; charset=utf-8; x=y",
            "text/plain; charset=\"utf-8",
            "text/plain; charset=",
            "text/plain; boundary=x",
            "multipart/form-data; boundary=abc",
            "text/pl ain",
            "text/plain\u{0}",
            "tëxt/plain",
        ] {
            assert!(canonical_content_type(bad).is_err(), "{bad:?} was accepted");
        }
        assert_eq!(
            canonical_content_type(&format!("a/{}", "b".repeat(300))),
            Err(InvalidContentType::TooLong)
        );
    }

    #[test]
    fn earlier_accepted_and_refused_types_still_are() {
        for ok in [
            "image/png",
            "text/plain; charset=utf-8",
            "application/vnd.api+json",
            "x-custom/x.y-z",
        ] {
            assert!(canonical_content_type(ok).is_ok(), "{ok:?}");
        }
        for bad in [
            "",
            "png",
            "/png",
            "image/",
            "image/png\n",
            "imäge/png",
            "a b/c",
        ] {
            assert!(canonical_content_type(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_essence_is_what_comes_before_the_charset() {
        assert_eq!(essence("text/html; charset=utf-8"), "text/html");
        assert_eq!(essence("image/png"), "image/png");
    }
}
