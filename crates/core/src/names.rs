//! Validation of user-supplied names (SPEC §4, Folders).
//!
//! Folder and file names end up in `Content-Disposition` headers, download dialogs and
//! other people's file systems, so anything that could act as a path or a control
//! sequence is refused rather than silently rewritten.

pub mod json_schema;

/// Longest folder or file name, in bytes of UTF-8.
pub const MAX_ENTRY_NAME_BYTES: usize = 255;
/// Longest space name, in characters.
pub const MAX_SPACE_NAME_CHARS: usize = 200;

/// Why a name was refused; the message is shown to the API client as is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidName {
    #[error("name must not be empty")]
    Empty,
    #[error("name is longer than {0}")]
    TooLong(&'static str),
    #[error("name must not contain '/', '\\', NUL, control or invisible direction characters")]
    ForbiddenCharacter,
    #[error("name must not be '.' or '..'")]
    DotName,
    #[error("name must not start or end with whitespace")]
    SurroundingWhitespace,
    #[error("app must contain only ASCII letters, digits, '.', '_' or '-'")]
    NotAnIdentifier,
}

/// Invisible characters that make a name read differently from what it is: direction
/// overrides, embeddings and isolates (`invoice\u{202E}fdp.exe` shows as
/// `invoiceexe.pdf`), zero-width space, byte-order mark, line and paragraph separators.
/// Joiners (emoji sequences, Indic and Persian text) and plain direction marks stay.
fn is_deceptive_format(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200B}' | '\u{2028}' | '\u{2029}' | '\u{FEFF}')
}

fn check_common(name: &str) -> Result<(), InvalidName> {
    if name.is_empty() {
        return Err(InvalidName::Empty);
    }
    if name
        .chars()
        .any(|c| c.is_control() || is_deceptive_format(c))
    {
        return Err(InvalidName::ForbiddenCharacter);
    }
    if name.starts_with(char::is_whitespace) || name.ends_with(char::is_whitespace) {
        return Err(InvalidName::SurroundingWhitespace);
    }
    Ok(())
}

/// Checks a folder or file name: 1–255 bytes, no `/`, `\`, NUL or control characters,
/// not `.` or `..`, no leading or trailing whitespace.
pub fn validate_entry_name(name: &str) -> Result<(), InvalidName> {
    check_common(name)?;
    if name.len() > MAX_ENTRY_NAME_BYTES {
        return Err(InvalidName::TooLong("255 bytes"));
    }
    if name.contains(['/', '\\']) {
        return Err(InvalidName::ForbiddenCharacter);
    }
    if name == "." || name == ".." {
        return Err(InvalidName::DotName);
    }
    Ok(())
}

/// Checks a space name: 1–200 characters, no control characters, no leading or
/// trailing whitespace. Spaces are labels, not path segments, so `/` is allowed.
pub fn validate_space_name(name: &str) -> Result<(), InvalidName> {
    check_common(name)?;
    if name.chars().count() > MAX_SPACE_NAME_CHARS {
        return Err(InvalidName::TooLong("200 characters"));
    }
    Ok(())
}

/// Longest app namespace name.
pub const MAX_APP_NAME_CHARS: usize = 64;

/// The app namespace files belong to when none is named (SPEC §4, `resolve`).
pub const DEFAULT_APP: &str = "fluidcloud";

/// Checks an app namespace (`app`, `source_app`): 1–64 ASCII letters, digits, `.`, `_`
/// or `-`. Apps are identifiers that partners compare and filter on, so they stay plain.
pub fn validate_app_name(app: &str) -> Result<(), InvalidName> {
    if app.is_empty() {
        return Err(InvalidName::Empty);
    }
    if app.len() > MAX_APP_NAME_CHARS {
        return Err(InvalidName::TooLong("64 characters"));
    }
    if !app
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        return Err(InvalidName::NotAnIdentifier);
    }
    Ok(())
}

/// Checks a client key (the caller's own name for a file): 1–255 bytes, no control
/// characters.
pub fn validate_client_key(key: &str) -> Result<(), InvalidName> {
    check_common(key)?;
    if key.len() > MAX_ENTRY_NAME_BYTES {
        return Err(InvalidName::TooLong("255 bytes"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_names() {
        for ok in [
            "a",
            "Report 2026.pdf",
            "ünïcødé 名前",
            "family \u{1F468}\u{200D}\u{1F469}\u{200D}\u{1F467}",
            "\u{645}\u{6CC}\u{200C}\u{62E}\u{648}\u{627}\u{647}\u{645}",
            ".hidden",
            "a..b",
            &"x".repeat(255),
        ] {
            assert_eq!(validate_entry_name(ok), Ok(()), "{ok:?}");
        }
        let cases = [
            ("", InvalidName::Empty),
            ("a/b", InvalidName::ForbiddenCharacter),
            ("invoice\u{202E}fdp.exe", InvalidName::ForbiddenCharacter),
            ("a\u{2066}b", InvalidName::ForbiddenCharacter),
            ("zero\u{200B}width", InvalidName::ForbiddenCharacter),
            ("\u{FEFF}bom", InvalidName::ForbiddenCharacter),
            ("a\\b", InvalidName::ForbiddenCharacter),
            ("a\0b", InvalidName::ForbiddenCharacter),
            ("a\nb", InvalidName::ForbiddenCharacter),
            ("a\u{7f}", InvalidName::ForbiddenCharacter),
            ("a\u{85}b", InvalidName::ForbiddenCharacter),
            (".", InvalidName::DotName),
            ("..", InvalidName::DotName),
            (" a", InvalidName::SurroundingWhitespace),
            ("a\u{3000}", InvalidName::SurroundingWhitespace),
        ];
        for (name, err) in cases {
            assert_eq!(validate_entry_name(name), Err(err), "{name:?}");
        }
        // 255 bytes is the limit, counted in UTF-8 bytes rather than characters.
        assert!(validate_entry_name(&"é".repeat(128)).is_err());
        assert!(validate_entry_name(&"x".repeat(256)).is_err());
    }

    #[test]
    fn app_names() {
        assert_eq!(validate_app_name("fluidtalk"), Ok(()));
        assert_eq!(validate_app_name("my-app_2.0"), Ok(()));
        assert!(validate_app_name("").is_err());
        assert!(validate_app_name("a b").is_err());
        assert!(validate_app_name(&"a".repeat(65)).is_err());
    }

    #[test]
    fn space_names() {
        assert_eq!(validate_space_name("Brand / Assets"), Ok(()));
        assert_eq!(validate_space_name(&"é".repeat(200)), Ok(()));
        assert!(validate_space_name(&"é".repeat(201)).is_err());
        assert!(validate_space_name("").is_err());
        assert!(validate_space_name("tab\there").is_err());
    }
}
