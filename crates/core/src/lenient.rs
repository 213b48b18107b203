//! How request values are read where the hosted (FastAPI/pydantic) server is lenient
//! (SPEC §3), so clients written against it work unchanged:
//!
//! - booleans (query parameters) accept `true/false/1/0/yes/no/on/off` in any case;
//! - integers (body fields and query parameters) accept JSON integers, JSON numbers
//!   with no fractional part (`5.0`, as pydantic does) and strings of decimal digits
//!   with an optional sign (`"5"`, surrounding whitespace ignored), and refuse
//!   fractions (`5.5`, `"5.5"`), other strings (`"abc"`, `""`), booleans and values
//!   outside the field's range.
//!
//! Each is a `deserialize_with` function used through `serde`, so the same rules hold
//! for JSON bodies and for query strings (where every value arrives as text).

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};

/// An integer read leniently (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct LenientInt<T>(pub T);

/// Largest magnitude below which every integer is exactly a JSON double.
const EXACT_F64: f64 = 9_007_199_254_740_992.0;

struct IntVisitor<T>(PhantomData<T>);

impl<T: TryFrom<i128>> IntVisitor<T> {
    fn fit<E: de::Error>(value: i128) -> Result<LenientInt<T>, E> {
        T::try_from(value).map(LenientInt).map_err(|_| {
            E::custom(format!(
                "{value} is out of range for {}",
                std::any::type_name::<T>()
            ))
        })
    }
}

impl<'de, T: TryFrom<i128>> Visitor<'de> for IntVisitor<T> {
    type Value = LenientInt<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an integer (or a string of digits)")
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Self::Value, E> {
        Self::fit(i128::from(value))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Self::Value, E> {
        Self::fit(i128::from(value))
    }

    fn visit_i128<E: de::Error>(self, value: i128) -> Result<Self::Value, E> {
        Self::fit(value)
    }

    fn visit_u128<E: de::Error>(self, value: u128) -> Result<Self::Value, E> {
        let value = i128::try_from(value).map_err(|_| E::custom("integer out of range"))?;
        Self::fit(value)
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<Self::Value, E> {
        if value.fract() != 0.0 || !value.is_finite() {
            return Err(E::custom(format!("expected an integer, got {value}")));
        }
        // Past 2^53 a double no longer names one integer: refuse rather than guess.
        if value.abs() >= EXACT_F64 {
            return Err(E::custom(format!("{value} is out of range")));
        }
        // Whole and below 2^53: the conversion is exact.
        Self::fit(value as i128)
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Self::Value, E> {
        let trimmed = value.trim();
        let digits = trimmed.strip_prefix(['+', '-']).unwrap_or(trimmed);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(E::custom(format!("expected an integer, got {value:?}")));
        }
        // Digits only, so the one way this fails is a value too large for i128.
        let parsed: i128 = trimmed
            .parse()
            .map_err(|_| E::custom(format!("{trimmed} is out of range")))?;
        Self::fit(parsed)
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<Self::Value, E> {
        Err(E::custom(format!("expected an integer, got {value}")))
    }
}

impl<'de, T: TryFrom<i128>> Deserialize<'de> for LenientInt<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(IntVisitor(PhantomData))
    }
}

/// A required integer field: `#[serde(deserialize_with = "lenient::int")]`.
pub fn int<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<i128>,
{
    LenientInt::deserialize(deserializer).map(|LenientInt(value)| value)
}

/// An optional integer field (absent or `null` is `None`):
/// `#[serde(default, deserialize_with = "lenient::opt_int")]`.
pub fn opt_int<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<i128>,
{
    Option::<LenientInt<T>>::deserialize(deserializer).map(|v| v.map(|LenientInt(value)| value))
}

/// A boolean read leniently (see the module documentation).
struct LenientBool(bool);

struct BoolVisitor;

impl Visitor<'_> for BoolVisitor {
    type Value = LenientBool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("true, false, 1, 0, yes, no, on or off")
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<Self::Value, E> {
        Ok(LenientBool(value))
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Self::Value, E> {
        match value.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Ok(LenientBool(true)),
            "false" | "0" | "no" | "off" => Ok(LenientBool(false)),
            _ => Err(E::custom(format!(
                "expected true, false, 1, 0, yes, no, on or off, got {value:?}"
            ))),
        }
    }

    // JSON's 1 and 0 mean what the strings "1" and "0" do; nothing else numeric does.
    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Self::Value, E> {
        match value {
            0 => Ok(LenientBool(false)),
            1 => Ok(LenientBool(true)),
            _ => Err(E::custom(format!(
                "expected true, false, 1, 0, yes, no, on or off, got {value}"
            ))),
        }
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Self::Value, E> {
        match u64::try_from(value) {
            Ok(value) => self.visit_u64(value),
            Err(_) => Err(E::custom(format!(
                "expected true, false, 1, 0, yes, no, on or off, got {value}"
            ))),
        }
    }
}

impl<'de> Deserialize<'de> for LenientBool {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(BoolVisitor)
    }
}

/// An optional boolean (absent is `None`):
/// `#[serde(default, deserialize_with = "lenient::opt_bool")]`.
pub fn opt_bool<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<bool>, D::Error> {
    Option::<LenientBool>::deserialize(deserializer).map(|v| v.map(|LenientBool(value)| value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct Body {
        #[serde(deserialize_with = "int")]
        size: u64,
        #[serde(default, deserialize_with = "opt_int")]
        days: Option<i64>,
        #[serde(default, deserialize_with = "opt_int")]
        part: Option<i32>,
    }

    fn body(json: &str) -> Result<Body, String> {
        serde_json::from_str(json).map_err(|e| e.to_string())
    }

    #[test]
    fn integers_accept_numbers_and_numeric_strings() {
        for (json, size) in [
            (r#"{"size": 5}"#, 5),
            (r#"{"size": "5"}"#, 5),
            (r#"{"size": " 5 "}"#, 5),
            (r#"{"size": "+5"}"#, 5),
            (r#"{"size": "007"}"#, 7),
            (r#"{"size": 5.0}"#, 5),
            (r#"{"size": 1e3}"#, 1000),
            (r#"{"size": "18446744073709551615"}"#, u64::MAX),
        ] {
            assert_eq!(body(json).unwrap().size, size, "{json}");
        }
        let parsed = body(r#"{"size": 1, "days": "-3", "part": null}"#).unwrap();
        assert_eq!((parsed.days, parsed.part), (Some(-3), None));
        assert_eq!(body(r#"{"size": 1}"#).unwrap().days, None);
    }

    #[test]
    fn integers_refuse_fractions_words_booleans_and_overflows() {
        for json in [
            r#"{"size": 5.5}"#,
            r#"{"size": "5.5"}"#,
            r#"{"size": "5.0"}"#,
            r#"{"size": "abc"}"#,
            r#"{"size": ""}"#,
            r#"{"size": "-"}"#,
            r#"{"size": "1e3"}"#,
            r#"{"size": "0x10"}"#,
            r#"{"size": true}"#,
            r#"{"size": "true"}"#,
            r#"{"size": -1}"#,
            r#"{"size": "-1"}"#,
            r#"{"size": "18446744073709551616"}"#,
            r#"{"size": 18446744073709551616}"#,
            r#"{"size": "99999999999999999999999999999999999999999"}"#,
            r#"{"size": 1e300}"#,
            r#"{"size": null}"#,
            r#"{"size": [5]}"#,
            r#"{"size": 1, "part": 2147483648}"#,
            r#"{"size": 1, "days": false}"#,
        ] {
            assert!(body(json).is_err(), "{json} was accepted");
        }
    }

    #[derive(Debug, Deserialize)]
    struct Params {
        #[serde(default, deserialize_with = "opt_bool")]
        trash: Option<bool>,
        #[serde(default, deserialize_with = "opt_int")]
        limit: Option<u32>,
    }

    fn query(query: &str) -> Result<Params, String> {
        serde_urlencoded::from_str(query).map_err(|e| e.to_string())
    }

    #[test]
    fn query_booleans_take_every_spelling_in_any_case() {
        for (text, value) in [
            ("true", true),
            ("True", true),
            ("TRUE", true),
            ("1", true),
            ("yes", true),
            ("Yes", true),
            ("on", true),
            ("ON", true),
            ("false", false),
            ("False", false),
            ("0", false),
            ("no", false),
            ("NO", false),
            ("off", false),
            ("Off", false),
        ] {
            assert_eq!(
                query(&format!("trash={text}")).unwrap().trash,
                Some(value),
                "{text}"
            );
        }
        for bad in ["2", "", "yep", "t", "truee", "-1"] {
            assert!(query(&format!("trash={bad}")).is_err(), "{bad:?}");
        }
        assert_eq!(query("").unwrap().trash, None);
    }

    #[test]
    fn query_integers_are_read_like_body_integers() {
        assert_eq!(query("limit=5").unwrap().limit, Some(5));
        assert_eq!(query("limit=+5").unwrap().limit, Some(5));
        for bad in ["5.5", "abc", "", "true", "-1", "4294967296"] {
            assert!(query(&format!("limit={bad}")).is_err(), "{bad:?}");
        }
    }
}
