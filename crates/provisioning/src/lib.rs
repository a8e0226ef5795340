//! Tenant SSO domains, from a name typed into the dashboard to an HTTPS edge that serves it.
//!
//! * [`SsoDomain`] turns input into a domain name or a message saying what is wrong with it.
//! * [`DnsChecker`] checks the CNAME (following chains) and CAA records.
//! * The ACME client orders certificates with HTTP-01; answers live in the database so every
//!   node's plain-HTTP listener can give them.
//! * [`CertificateResolver`] serves each tenant's certificate by SNI from the database, private
//!   keys sealed at rest with `vestibule_secrets::SecretKey`.
//! * [`Provisioning`] ties these together as durable jobs: a domain row is its own job, leased
//!   by one node at a time, resumed after a restart, retried with backoff, renewed before
//!   expiry and checked for as long as it is provisioned.
//!
//! No HTTP framework and no Leptos here: the server crate wires listeners, the dashboard calls
//! [`Provisioning`].

mod acme;
mod certificates;
mod dns;
mod error;
mod name;
mod self_check;
mod service;

pub use acme::{AcmeSettings, OrderObserver};
pub use certificates::{provider, server_config, validity, CertificateResolver};
pub use dns::DnsChecker;
pub use error::ProvisioningError;
pub use name::{reserved_names, SsoDomain};
pub use self_check::LOCAL_PROXY_HEADER;
pub use service::{
    tenant_cname_target, DomainOverview, Provisioning, ProvisioningSettings, RenewalFailure,
    RenewalWarner,
};
