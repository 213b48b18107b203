//! Configuration and domain types shared by every FluidCloud service.
//!
//! Nothing here talks to a database, an object store or the network: these are the
//! vocabulary (tenants, keys, scopes, spaces, folders, files) and the rules that do not
//! depend on where the data lives (name validation, key format, cursors, time precision).

pub mod api_key;
pub mod config;
pub mod content_type;
pub mod cors;
pub mod lenient;
pub mod metrics;
pub mod model;
pub mod names;
pub mod paging;
pub mod passwords;
pub mod runtime;
pub mod scope;
pub mod signing;
mod sql_text;
pub mod time;
pub mod window;

pub use scope::Scope;
