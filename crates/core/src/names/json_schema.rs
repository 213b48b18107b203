//! The name rules of [`super`] as JSON Schemas for the OpenAPI document
//! (`schema_with`), so clients — and schemathesis — know what the validators accept.
//! JSON Schema counts characters, so the byte limits (255 bytes) are given as 255
//! characters and spelled out in the description; every other rule is exact.

use utoipa::openapi::Schema;
use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};

use super::{MAX_APP_NAME_CHARS, MAX_ENTRY_NAME_BYTES, MAX_SPACE_NAME_CHARS};

/// What no name may contain: control characters and the invisible ones of
/// `is_deceptive_format`, as the body of a regex character class. Literal characters,
/// which ECMAScript, Python and Rust regexes all read alike (`\u` escapes differ).
const FORBIDDEN: &str =
    "\u{0}-\u{1f}\u{7f}-\u{9f}\u{200b}\u{2028}\u{2029}\u{202a}-\u{202e}\u{2066}-\u{2069}\u{feff}";

/// A label: no forbidden character, no whitespace at either end.
fn label_pattern() -> String {
    format!(r"^(?:[^\s{FORBIDDEN}]|[^\s{FORBIDDEN}][^{FORBIDDEN}]*[^\s{FORBIDDEN}])$")
}

/// A folder or file name: a label without `/` or `\` that is not `.` or `..`, spelled
/// without look-ahead, which not every engine has: one character but `.`; two but
/// `..`; or three and more.
fn entry_pattern() -> String {
    let bad = format!(r"/\\{FORBIDDEN}");
    format!(r"^(?:[^\s.{bad}]|[^\s.{bad}][^\s{bad}]|\.[^\s.{bad}]|[^\s{bad}][^{bad}]+[^\s{bad}])$")
}

const APP_PATTERN: &str = "^[A-Za-z0-9._-]+$";

fn string(nullable: bool, max: usize, pattern: String, description: &str) -> Schema {
    let schema_type = if nullable {
        SchemaType::from_iter([Type::String, Type::Null])
    } else {
        SchemaType::Type(Type::String)
    };
    Schema::Object(
        ObjectBuilder::new()
            .schema_type(schema_type)
            .min_length(Some(1))
            .max_length(Some(max))
            .pattern(Some(pattern))
            .description(Some(description))
            .build(),
    )
}

fn string_without_pattern(max: usize, description: &str) -> Schema {
    Schema::Object(
        ObjectBuilder::new()
            .schema_type(SchemaType::Type(Type::String))
            .min_length(Some(1))
            .max_length(Some(max))
            .description(Some(description))
            .build(),
    )
}

const ENTRY: &str = "1–255 bytes of UTF-8; no `/`, `\\`, control or invisible direction \
                     characters; not `.` or `..`; no leading or trailing whitespace (else 400).";
const SPACE: &str = "1–200 characters; no control or invisible direction characters; no \
                     leading or trailing whitespace (else 400).";
const CLIENT_KEY: &str = "Your own key for the file, for `GET /files/resolve`: 1–255 bytes \
                          of UTF-8, no control or invisible direction characters, no leading \
                          or trailing whitespace.";
const APP: &str = "App namespace: 1–64 ASCII letters, digits, `.`, `_` or `-`.";

pub fn entry_name() -> Schema {
    string(false, MAX_ENTRY_NAME_BYTES, entry_pattern(), ENTRY)
}

pub fn opt_entry_name() -> Schema {
    string(true, MAX_ENTRY_NAME_BYTES, entry_pattern(), ENTRY)
}

/// Without its pattern: schemathesis' generator (hypothesis on CPython 3.11) crashes
/// drawing values for it; the description states the rule, and breaking it is a 400.
pub fn space_name() -> Schema {
    string_without_pattern(MAX_SPACE_NAME_CHARS, SPACE)
}

pub fn client_key() -> Schema {
    string(false, MAX_ENTRY_NAME_BYTES, label_pattern(), CLIENT_KEY)
}

pub fn opt_client_key() -> Schema {
    string(true, MAX_ENTRY_NAME_BYTES, label_pattern(), CLIENT_KEY)
}

pub fn app() -> Schema {
    string(false, MAX_APP_NAME_CHARS, APP_PATTERN.into(), APP)
}

pub fn opt_app() -> Schema {
    string(true, MAX_APP_NAME_CHARS, APP_PATTERN.into(), APP)
}
