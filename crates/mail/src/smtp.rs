//! Delivery over SMTP: STARTTLS or implicit TLS (rustls), authenticated when credentials are
//! set. Plain SMTP is for a relay on this machine only; the configuration refuses it elsewhere.

use std::time::Duration;

use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::transport::smtp::response::Category;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use vestibule_domain::Email;

use crate::{Mail, MailError};

/// How the connection to the SMTP server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// Plain connection upgraded with STARTTLS, which must succeed (port 587).
    StartTls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No TLS: a relay on this machine only.
    None,
}

/// Where and how to send.
#[derive(Debug, Clone)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub security: Security,
    /// `(username, password)`, or `None` for a relay that does not ask.
    pub credentials: Option<(String, String)>,
    /// The address every message is sent from (the deployment's).
    pub from: Email,
    /// PEM certificates to trust besides the system's (a private relay's own CA).
    pub extra_roots_pem: Option<Vec<u8>>,
    /// How long one SMTP conversation may take.
    pub timeout: Duration,
}

/// A permanent refusal of this message or mailbox (5.5.x: no such mailbox, relaying denied,
/// transaction failed). Other permanent answers, a failed login (535) above all, come from
/// the installation's own settings: once an operator fixes them, a retry succeeds, so they are
/// retried rather than losing the message.
fn refuses_the_message(error: &lettre::transport::smtp::Error) -> bool {
    error.is_permanent()
        && error
            .status()
            .is_some_and(|code| code.category == Category::MailSystem)
}

/// Sends one message at a time.
#[derive(Clone)]
pub struct SmtpSender {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Email,
}

impl std::fmt::Debug for SmtpSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpSender")
            .field("from", &self.from)
            .finish_non_exhaustive()
    }
}

impl SmtpSender {
    pub fn new(settings: &SmtpSettings) -> Result<Self, MailError> {
        let settings_error = |e: lettre::transport::smtp::Error| MailError::Settings(e.to_string());
        let tls = match settings.security {
            Security::None => Tls::None,
            Security::StartTls | Security::Tls => {
                let mut parameters = TlsParameters::builder(settings.host.clone());
                if let Some(pem) = &settings.extra_roots_pem {
                    parameters = parameters
                        .add_root_certificate(Certificate::from_pem(pem).map_err(settings_error)?);
                }
                let parameters = parameters.build_rustls().map_err(settings_error)?;
                if settings.security == Security::Tls {
                    Tls::Wrapper(parameters)
                } else {
                    Tls::Required(parameters)
                }
            }
        };
        // EHLO with the sending domain: what relays expect of a client without a host name of
        // its own in DNS.
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&settings.host)
            .port(settings.port)
            .tls(tls)
            .hello_name(ClientId::Domain(settings.from.domain().to_string()))
            .timeout(Some(settings.timeout));
        if let Some((username, password)) = &settings.credentials {
            builder = builder.credentials(Credentials::new(username.clone(), password.clone()));
        }
        Ok(Self {
            transport: builder.build(),
            from: settings.from.clone(),
        })
    }

    /// Sends `mail`; `message_key` makes its Message-ID unique and stable across retries.
    pub async fn send(&self, mail: &Mail, message_key: &str) -> Result<(), MailError> {
        let message = self.message(mail, message_key)?;
        match self.transport.send(message).await {
            Ok(_) => Ok(()),
            Err(error) if refuses_the_message(&error) => {
                Err(MailError::Rejected(error.to_string()))
            }
            Err(error) => Err(MailError::Unavailable(error.to_string())),
        }
    }

    fn message(&self, mail: &Mail, message_key: &str) -> Result<Message, MailError> {
        let invalid = |e: &dyn std::fmt::Display| MailError::Message(e.to_string());
        let address = |email: &Email| {
            email
                .to_string()
                .parse::<lettre::Address>()
                .map_err(|e| invalid(&e))
        };
        let mut builder = Message::builder()
            .from(Mailbox::new(
                Some(mail.from_name.clone()),
                address(&self.from)?,
            ))
            .to(Mailbox::new(None, address(&mail.to)?))
            .subject(mail.subject.clone())
            .message_id(Some(format!("<{message_key}@{}>", self.from.domain())))
            .header(ContentType::TEXT_PLAIN);
        if let Some(reply_to) = &mail.reply_to {
            builder = builder.reply_to(Mailbox::new(None, address(reply_to)?));
        }
        let mut message = builder.body(mail.body.clone()).map_err(|e| invalid(&e))?;
        // RFC 3834: written by a machine, so auto-responders do not answer it.
        message.headers_mut().insert_raw(HeaderValue::new(
            HeaderName::new_from_ascii_str("Auto-Submitted"),
            "auto-generated".to_string(),
        ));
        Ok(message)
    }
}
