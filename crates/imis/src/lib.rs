//! iMIS as Vestibule talks to it: the `/token` grants, the profile IQA query and the REST
//! records, over HTTPS with the platform's trusted roots.
//!
//! iMIS versions and hosting differ in the small print (OWIN adds `userName`, numbers arrive as
//! strings, IQA values arrive wrapped in `$type`/`$value`), so answers are parsed leniently:
//! only what Vestibule needs must be there. Every failure is an [`ImisError`] whose message
//! says what happened in words a tenant admin can act on; member-facing pages say less.

mod client;
mod error;
mod network;
mod profile;
mod token;

pub use client::{check_document_address, fetch_document, ClientCredentials, Imis};
pub use error::ImisError;
pub use network::{is_public, Network};
pub use profile::Profile;
pub use token::AccessToken;
