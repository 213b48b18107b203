//! The content type of a file, from its bytes.
//!
//! Magic bytes decide when they are recognised. Otherwise text keeps a textual
//! declared type (`text/csv`, `application/json`, `image/svg+xml`, …) and becomes
//! `text/plain` when the declaration was not textual; other bytes become
//! `application/octet-stream`. A client can therefore never get bytes served under a
//! binary type they are not, and the raw-link server still forces active types
//! (HTML, SVG, XML, JavaScript) to download.

/// Bytes from the start of a file that detection looks at.
pub const SNIFF_LEN: usize = 8192;

/// The type of a file starting with `prefix` (at most [`SNIFF_LEN`] bytes are used),
/// given what the client declared.
pub fn detect(prefix: &[u8], declared: &str) -> String {
    let prefix = &prefix[..prefix.len().min(SNIFF_LEN)];
    if let Some(kind) = infer::get(prefix) {
        return kind.mime_type().to_owned();
    }
    if looks_like_text(prefix) {
        if is_textual(declared) {
            declared.to_owned()
        } else {
            "text/plain".to_owned()
        }
    } else {
        "application/octet-stream".to_owned()
    }
}

/// UTF-8 (allowing a character cut at the end of the prefix) without NUL bytes.
fn looks_like_text(prefix: &[u8]) -> bool {
    if prefix.contains(&0) {
        return false;
    }
    match std::str::from_utf8(prefix) {
        Ok(_) => true,
        Err(err) => err.error_len().is_none() && prefix.len() - err.valid_up_to() < 4,
    }
}

/// Whether a declared type names text.
pub fn is_textual(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence.starts_with("text/")
        || essence.ends_with("+xml")
        || essence.ends_with("+json")
        || matches!(
            essence.as_str(),
            "application/json"
                | "application/xml"
                | "application/javascript"
                | "application/x-javascript"
                | "application/ecmascript"
                | "application/x-sh"
                | "application/yaml"
                | "application/x-yaml"
                | "application/toml"
                | "application/sql"
                | "application/graphql"
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_bytes_win_over_the_declaration() {
        let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
        assert_eq!(detect(png, "text/html"), "image/png");
        assert_eq!(detect(b"%PDF-1.7\n", "image/png"), "application/pdf");
    }

    #[test]
    fn text_keeps_a_textual_declaration_only() {
        assert_eq!(detect(b"a,b\n1,2\n", "text/csv"), "text/csv");
        assert_eq!(
            detect(b"{\"a\": 1}", "application/json"),
            "application/json"
        );
        assert_eq!(
            detect(
                b"<svg xmlns='http://www.w3.org/2000/svg'/>",
                "image/svg+xml"
            ),
            "image/svg+xml"
        );
        assert_eq!(detect(b"plain words", "image/png"), "text/plain");
        assert_eq!(
            detect("héllo".as_bytes(), "text/plain; charset=utf-8"),
            "text/plain; charset=utf-8"
        );
        // A multi-byte character cut by the end of the prefix is still text.
        assert_eq!(detect(&"é".as_bytes()[..1], "text/plain"), "text/plain");
    }

    #[test]
    fn unknown_binary_is_octet_stream() {
        assert_eq!(
            detect(&[0, 159, 146, 150, 0, 1], "image/jpeg"),
            "application/octet-stream"
        );
        assert_eq!(
            detect(&[0xff, 0xfe, 0xfd, 0x00], "text/plain"),
            "application/octet-stream"
        );
    }
}
