//! The HTTP details of serving bytes safely: byte ranges, conditional requests,
//! `Content-Disposition` (RFC 6266), active types, and the fixed safety headers.

use chrono::{DateTime, Utc};

/// What to send of an object of `size` bytes, given `Range` and `If-Range`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeAnswer {
    /// 200, the whole object.
    Whole,
    /// 206, the inclusive range `first..=last`.
    Partial { first: u64, last: u64 },
    /// 416.
    Unsatisfiable,
}

/// Reads a `Range` header. Only single byte ranges are honoured; multiple ranges, other
/// units and malformed values are ignored (the whole object is served, as RFC 9110
/// allows). Positions too large for 64 bits mean "past any end".
pub fn parse_range(header: Option<&str>, size: u64) -> RangeAnswer {
    let Some((unit, spec)) = header.and_then(|h| h.trim().split_once('=')) else {
        return RangeAnswer::Whole;
    };
    if !unit.trim().eq_ignore_ascii_case("bytes") {
        return RangeAnswer::Whole;
    }
    if spec.contains(',') {
        return RangeAnswer::Whole;
    }
    let Some((start, end)) = spec.trim().split_once('-') else {
        return RangeAnswer::Whole;
    };
    let (start, end) = (start.trim(), end.trim());
    // Digits only (`u64::from_str` would take a sign), saturating.
    let parse = |s: &str| {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<u64>().unwrap_or(u64::MAX))
    };
    match (start.is_empty(), end.is_empty()) {
        // bytes=-N: the last N bytes.
        (true, false) => match parse(end) {
            Some(0) => RangeAnswer::Unsatisfiable,
            Some(n) if size > 0 => RangeAnswer::Partial {
                first: size.saturating_sub(n),
                last: size - 1,
            },
            Some(_) => RangeAnswer::Unsatisfiable,
            None => RangeAnswer::Whole,
        },
        // bytes=N-: from N to the end.
        (false, true) => match parse(start) {
            Some(first) if first < size => RangeAnswer::Partial {
                first,
                last: size - 1,
            },
            Some(_) => RangeAnswer::Unsatisfiable,
            None => RangeAnswer::Whole,
        },
        (false, false) => match (parse(start), parse(end)) {
            (Some(first), Some(last)) if first <= last && first < size => RangeAnswer::Partial {
                first,
                last: last.min(size - 1),
            },
            (Some(first), Some(last)) if first <= last => RangeAnswer::Unsatisfiable,
            _ => RangeAnswer::Whole,
        },
        (true, true) => RangeAnswer::Whole,
    }
}

/// Whether an `If-None-Match` header matches our entity tag (weak comparison).
pub fn none_match(header: Option<&str>, etag: &str) -> bool {
    header.is_some_and(|value| {
        value
            .split(',')
            .map(str::trim)
            .any(|tag| tag == "*" || tag.trim_start_matches("W/") == etag)
    })
}

/// Whether an `If-Range` header still allows the range: an identical strong entity
/// tag, or exactly our `Last-Modified` date.
pub fn if_range_allows(header: Option<&str>, etag: &str, last_modified: &str) -> bool {
    match header.map(str::trim) {
        None => true,
        Some(value) if value.starts_with('"') || value.starts_with("W/") => value == etag,
        Some(value) => value == last_modified,
    }
}

/// An HTTP date (IMF-fixdate).
pub fn http_date(at: DateTime<Utc>) -> String {
    at.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

/// Types a browser would run or render as a document: never served inline.
pub fn is_active(mime: &str, extra: &[String]) -> bool {
    let essence = fluidcloud_core::content_type::essence(mime)
        .trim()
        .to_ascii_lowercase();
    matches!(
        essence.as_str(),
        "text/html"
            | "application/xhtml+xml"
            | "text/xml"
            | "application/xml"
            | "text/javascript"
            | "application/javascript"
            | "application/x-javascript"
            | "application/ecmascript"
            | "application/x-ecmascript"
            | "text/ecmascript"
            | "text/x-javascript"
            | "text/jscript"
            | "text/xsl"
            | "multipart/x-mixed-replace"
    ) || essence.ends_with("+xml")
        || extra.iter().any(|t| t.eq_ignore_ascii_case(&essence))
}

/// `inline; filename*=UTF-8''…` or `attachment; …`, the name percent-encoded as RFC 5987
/// asks, so any name is safe in the header.
pub fn content_disposition(inline: bool, name: &str) -> String {
    let mut encoded = String::with_capacity(name.len() * 3);
    for byte in name.bytes() {
        if byte.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&byte) {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    let kind = if inline { "inline" } else { "attachment" };
    format!("{kind}; filename*=UTF-8''{encoded}")
}

/// Headers every answer carries, success or not.
pub const ALWAYS: [(&str, &str); 5] = [
    ("x-content-type-options", "nosniff"),
    (
        "content-security-policy",
        "default-src 'none'; style-src 'unsafe-inline'; sandbox",
    ),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "no-referrer"),
    ("cross-origin-resource-policy", "cross-origin"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        let p = |first, last| RangeAnswer::Partial { first, last };
        assert_eq!(parse_range(None, 100), RangeAnswer::Whole);
        assert_eq!(parse_range(Some("bytes=0-9"), 100), p(0, 9));
        assert_eq!(parse_range(Some("bytes=90-"), 100), p(90, 99));
        assert_eq!(parse_range(Some("bytes=-10"), 100), p(90, 99));
        assert_eq!(parse_range(Some("bytes=-500"), 100), p(0, 99));
        assert_eq!(parse_range(Some("bytes=50-500"), 100), p(50, 99));
        // The unit is case-insensitive; positions past 64 bits saturate.
        assert_eq!(parse_range(Some("Bytes=0-9"), 100), p(0, 9));
        assert_eq!(
            parse_range(Some("bytes=5-99999999999999999999999"), 100),
            p(5, 99)
        );
        assert_eq!(
            parse_range(Some("bytes=-99999999999999999999999"), 100),
            p(0, 99)
        );
        assert_eq!(
            parse_range(Some("bytes=99999999999999999999999-"), 100),
            RangeAnswer::Unsatisfiable
        );
        assert_eq!(
            parse_range(Some("bytes=100-"), 100),
            RangeAnswer::Unsatisfiable
        );
        assert_eq!(
            parse_range(Some("bytes=100-200"), 100),
            RangeAnswer::Unsatisfiable
        );
        assert_eq!(
            parse_range(Some("bytes=-0"), 100),
            RangeAnswer::Unsatisfiable
        );
        assert_eq!(
            parse_range(Some("bytes=0-0"), 0),
            RangeAnswer::Unsatisfiable
        );
        for ignored in [
            "bytes=5-1",
            "bytes=0-1,5-6",
            "items=0-1",
            "bytes=a-b",
            "bytes=-",
            "bytes=1",
            "bytes=+5-",
            "bytes=-+5",
            "bytes=0x1-2",
            "bytes",
        ] {
            assert_eq!(
                parse_range(Some(ignored), 100),
                RangeAnswer::Whole,
                "{ignored}"
            );
        }
    }

    #[test]
    fn conditionals() {
        let etag = "\"abc\"";
        assert!(none_match(Some("\"abc\""), etag));
        assert!(none_match(Some("\"x\", W/\"abc\""), etag));
        assert!(none_match(Some("*"), etag));
        assert!(!none_match(Some("\"abd\""), etag));
        assert!(!none_match(None, etag));
        let date = "Sun, 29 Nov 2026 18:00:00 GMT";
        assert!(if_range_allows(None, etag, date));
        assert!(if_range_allows(Some("\"abc\""), etag, date));
        assert!(!if_range_allows(Some("W/\"abc\""), etag, date));
        assert!(if_range_allows(Some(date), etag, date));
        assert!(!if_range_allows(
            Some("Mon, 30 Nov 2026 18:00:00 GMT"),
            etag,
            date
        ));
    }

    #[test]
    fn dispositions_encode_any_name() {
        assert_eq!(
            content_disposition(true, "a b.png"),
            "inline; filename*=UTF-8''a%20b.png"
        );
        assert_eq!(
            content_disposition(false, "rapport \"final\";\r\n.pdf"),
            "attachment; filename*=UTF-8''rapport%20%22final%22%3B%0D%0A.pdf"
        );
        assert_eq!(
            content_disposition(false, "名前.txt"),
            "attachment; filename*=UTF-8''%E5%90%8D%E5%89%8D.txt"
        );
    }

    #[test]
    fn active_types() {
        for active in [
            "text/html",
            "text/html; charset=utf-8",
            "image/svg+xml",
            "application/xhtml+xml",
            "text/javascript",
        ] {
            assert!(is_active(active, &[]), "{active}");
        }
        for passive in ["image/png", "text/plain", "application/json", "video/mp4"] {
            assert!(!is_active(passive, &[]), "{passive}");
        }
        assert!(is_active("application/pdf", &["application/pdf".into()]));
    }

    #[test]
    fn dates() {
        let at = DateTime::parse_from_rfc3339("2026-11-29T18:00:05.123Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(http_date(at), "Sun, 29 Nov 2026 18:00:05 GMT");
    }
}
