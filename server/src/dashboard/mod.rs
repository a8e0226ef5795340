//! The dashboard's routes that are not Leptos pages: the front-end's files, the logo upload (a multipart form), the
//! audit log's CSV download, and the hardening every dashboard response passes through.

pub(crate) mod assets;
pub(crate) mod audit_export;
pub(crate) mod harden;
pub(crate) mod logo_upload;
