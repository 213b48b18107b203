//! Database column support for small domain types stored as text.
//!
//! Enum-like values (a key's mode, its scopes, later a file's scan status) are kept as
//! readable strings in both backends. Implementing `Type` and `Decode` by way of
//! `String` and `FromStr` lets them be read straight into the records.

/// Makes `$ty` decodable from a text column of any sqlx database, through `FromStr`.
macro_rules! text_column {
    ($ty:ty) => {
        impl<DB: sqlx::Database> sqlx::Type<DB> for $ty
        where
            String: sqlx::Type<DB>,
        {
            fn type_info() -> DB::TypeInfo {
                <String as sqlx::Type<DB>>::type_info()
            }

            fn compatible(ty: &DB::TypeInfo) -> bool {
                <String as sqlx::Type<DB>>::compatible(ty)
            }
        }

        impl<'r, DB: sqlx::Database> sqlx::Decode<'r, DB> for $ty
        where
            String: sqlx::Decode<'r, DB>,
        {
            fn decode(value: DB::ValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
                let text = <String as sqlx::Decode<'r, DB>>::decode(value)?;
                Ok(text.parse::<$ty>()?)
            }
        }
    };
}

pub(crate) use text_column;
