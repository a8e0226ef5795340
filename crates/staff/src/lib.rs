//! The Cloud Dashboard's accounts: staff sign-in, sessions, setup links and tenant access.
//!
//! This crate knows nothing of HTTP. The web layer hands it the raw cookie value, the client's
//! address and the time of the request, and turns its answers into cookies and pages.

mod error;
mod passkey;
mod password;
mod second_factor;
mod service;
mod token;
pub mod totp;

pub use error::StaffError;
pub use passkey::{PasskeyCeremony, PasskeyInfo, PasskeyRelyingParty};
pub use password::{PasswordHasher, MAX_PASSWORD_LEN, MIN_PASSWORD_LEN};
pub use second_factor::{
    SecondFactorProof, SecondFactorStatus, TotpSetup, CHALLENGE_LIFETIME, RECOVERY_CODES,
};
pub use service::{
    CurrentStaff, Invited, Policy, SetupLink, SignedIn, StaffAccounts, TenantPage, TENANTS_PER_PAGE,
};
pub use token::{generate_password, random_token, token_hash};
