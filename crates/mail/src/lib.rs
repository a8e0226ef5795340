//! Vestibule's e-mail: what a message says ([`Mail`]), the durable outbox it waits in
//! ([`Outbox`], rows in the database, sealed, retried with backoff under a per-node lease), and
//! its delivery over SMTP with TLS ([`SmtpSender`]).
//!
//! A request that decides to send mail only writes the outbox row; a worker on any node sends
//! it. SMTP being down, a node restarting or two nodes looking at once lose nothing and send
//! nothing twice.

mod error;
mod message;
mod outbox;
mod smtp;

pub use error::MailError;
pub use message::{ImisFailures, Mail, MailKind, SecondFactorChange};
pub use outbox::{Delivered, Outbox, OutboxPolicy};
pub use smtp::{Security, SmtpSender, SmtpSettings};
