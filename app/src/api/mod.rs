//! The server functions, one module per dashboard page, with the view models
//! ([`crate::views`]) and the error type ([`crate::error`]) they answer with. Every server
//! function is a public HTTP endpoint, so each one first establishes who is calling; every
//! state-changing one also checks the session's CSRF token.

mod account;
mod audit;
mod domain;
#[cfg(feature = "ssr")]
mod form;
mod members;
mod oidc;
mod recorder;
mod saml;
mod session;
mod settings;
mod tenants;
#[cfg(feature = "ssr")]
mod vendor;

pub use crate::error::AppError;
pub use crate::views::*;
pub use account::*;
pub use audit::*;
pub use domain::*;
pub use members::*;
pub use oidc::*;
pub use recorder::*;
pub use saml::*;
pub use session::*;
pub use settings::*;
pub use tenants::*;
