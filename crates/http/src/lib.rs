//! HTTP plumbing the three services share, so each behaves the same to operators:
//! request ids and the per-request tracing span ([`request`]), request metrics and the
//! `/metrics` answer ([`observe`]), and the readiness check behind `/readyz`
//! ([`ready`]).

pub mod observe;
pub mod ready;
pub mod request;
pub mod serve;
