//! The outbox against a real SMTP server on loopback (aiosmtpd, `tools/smtp-sink`): STARTTLS
//! and implicit TLS with authentication, retries while the server is away, refusals, the
//! per-recipient limit, and two nodes sending one queue. Runs on both databases.

// Helpers outside #[test] functions unwrap too: a panic is the failure report we want.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use vestibule_domain::{Email, Seconds, Timestamp};
use vestibule_mail::{Mail, Outbox, OutboxPolicy, Security, SmtpSender, SmtpSettings};
use vestibule_secrets::SecretKey;
use vestibule_storage::testing::for_each_backend;
use vestibule_storage::Store;

const NOW: Timestamp = Timestamp(1_795_392_000);

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A certificate authority and a certificate for `localhost` it issued, in PEM files.
struct Certificates {
    root_pem: Vec<u8>,
    cert: PathBuf,
    key: PathBuf,
}

fn certificates(folder: &Path) -> Certificates {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let root_pem = ca.self_signed(&ca_key).unwrap().pem().into_bytes();
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
    let cert_path = folder.join("cert.pem");
    let key_path = folder.join("key.pem");
    std::fs::write(&cert_path, leaf.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    Certificates {
        root_pem,
        cert: cert_path,
        key: key_path,
    }
}

/// `tools/smtp-sink` on a port of its own, writing what it receives to `inbox`.
struct Sink {
    child: Child,
    port: u16,
    inbox: PathBuf,
}

impl Sink {
    fn start(port: u16, inbox: &Path, extra: &[&str]) -> Self {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tools/smtp-sink/smtp-sink");
        let child = Command::new(script)
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--dir")
            .arg(inbox)
            .args(extra)
            .stdout(Stdio::null())
            .spawn()
            .expect("tools/smtp-sink runs (Debian's python3-aiosmtpd: scripts/prerequisites test)");
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "smtp-sink did not start; is python3-aiosmtpd installed?"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Self {
            child,
            port,
            inbox: inbox.to_path_buf(),
        }
    }

    /// The messages received so far, oldest first.
    fn messages(&self) -> Vec<String> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(&self.inbox)
            .map(|entries| entries.map(|e| e.unwrap().path()).collect())
            .unwrap_or_default();
        names.retain(|p| p.extension().is_some_and(|e| e == "eml"));
        names.sort();
        names
            .iter()
            .map(|p| quoted_printable_decoded(&std::fs::read_to_string(p).unwrap()))
            .collect()
    }
}

/// The message with quoted-printable soft line breaks and `=XX` escapes undone (lettre encodes
/// text bodies with long lines so), headers left as they are.
fn quoted_printable_decoded(message: &str) -> String {
    let joined = message.replace("=\r\n", "");
    let mut out = Vec::new();
    let bytes = joined.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'=', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap()
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn settings(port: u16, security: Security) -> SmtpSettings {
    SmtpSettings {
        host: "localhost".to_string(),
        port,
        security,
        credentials: None,
        from: Email::parse("sso@vestibule.test").unwrap(),
        extra_roots_pem: None,
        timeout: Duration::from_secs(10),
    }
}

fn new_key() -> SecretKey {
    SecretKey::from_base64(&SecretKey::generate_base64()).unwrap()
}

/// A node's outbox sealing with `key` (every node of an installation shares one).
fn keyed(store: &Store, settings: &SmtpSettings, key: &SecretKey, node: &str) -> Outbox {
    Outbox::new(
        store.clone(),
        key.clone(),
        SmtpSender::new(settings).unwrap(),
        node.to_string(),
        OutboxPolicy::default(),
    )
}

fn outbox(store: &Store, settings: &SmtpSettings, node: &str) -> Outbox {
    keyed(store, settings, &new_key(), node)
}

fn invitation(to: &str) -> Mail {
    Mail::staff_invitation(
        Email::parse(to).unwrap(),
        None,
        "https://dashboard.vestibule.test/setup?token=secret-link",
        Seconds::hours(72),
    )
}

#[tokio::test]
async fn a_message_goes_out_over_starttls_with_a_login_and_leaves_no_link_behind() {
    for_each_backend(|db| async move {
        let folder = tempfile::tempdir().unwrap();
        let certs = certificates(folder.path());
        let cert = certs.cert.to_str().unwrap();
        let key = certs.key.to_str().unwrap();
        let sink = Sink::start(
            free_port(),
            &folder.path().join("inbox"),
            &[
                "--starttls",
                cert,
                key,
                "--user",
                "relay",
                "--password",
                "s3cret",
            ],
        );
        let mut smtp = settings(sink.port, Security::StartTls);
        smtp.extra_roots_pem = Some(certs.root_pem.clone());
        smtp.credentials = Some(("relay".to_string(), "s3cret".to_string()));
        let outbox = outbox(db.store(), &smtp, "node-a");

        let id = outbox
            .enqueue(&invitation("new.admin@acme.test"), NOW)
            .await
            .unwrap()
            .unwrap();
        let queued = &outbox.recent(10).await.unwrap()[0];
        assert_eq!(queued.id, id);
        assert!(
            !queued.sealed_body.contains("secret-link"),
            "the link is sealed at rest"
        );

        let delivered = outbox.deliver_due(NOW).await.unwrap();
        assert_eq!(delivered.sent, 1, "{delivered:?}");
        let messages = sink.messages();
        assert_eq!(messages.len(), 1);
        let message = &messages[0];
        assert!(
            message.starts_with("X-Sink-Rcpt: new.admin@acme.test"),
            "{message}"
        );
        assert!(
            message.contains("From: Vestibule <sso@vestibule.test>"),
            "{message}"
        );
        assert!(message.contains("Subject: You are invited to the Vestibule Cloud Dashboard"));
        assert!(message.contains("Auto-Submitted: auto-generated"));
        assert!(
            message.contains(&format!("Message-ID: <vestibule.{id}.")),
            "{message}"
        );
        assert!(message.contains("https://dashboard.vestibule.test/setup?token=secret-link"));

        let sent = &outbox.recent(10).await.unwrap()[0];
        assert_eq!(sent.state, "sent");
        assert_eq!(sent.sealed_body, "", "a sent message keeps no link");
        assert_eq!(outbox.deliver_due(NOW).await.unwrap().sent, 0, "sent once");
    })
    .await;
}

#[tokio::test]
async fn implicit_tls_works_and_an_untrusted_or_wrong_login_is_retried_not_lost() {
    let db = vestibule_storage::testing::sqlite().await;
    let folder = tempfile::tempdir().unwrap();
    let certs = certificates(folder.path());
    let cert = certs.cert.to_str().unwrap();
    let key = certs.key.to_str().unwrap();
    let sink = Sink::start(
        free_port(),
        &folder.path().join("inbox"),
        &[
            "--tls",
            cert,
            key,
            "--user",
            "relay",
            "--password",
            "s3cret",
        ],
    );

    // The relay's certificate is not trusted: nothing is sent, the message waits.
    let mut smtp = settings(sink.port, Security::Tls);
    smtp.credentials = Some(("relay".to_string(), "s3cret".to_string()));
    let untrusted = outbox(db.store(), &smtp, "node-a");
    untrusted
        .enqueue(&invitation("one@acme.test"), NOW)
        .await
        .unwrap();
    assert_eq!(untrusted.deliver_due(NOW).await.unwrap().retrying, 1);
    assert!(sink.messages().is_empty());

    let later = NOW + Seconds::minutes(1);
    let record = &untrusted.recent(1).await.unwrap()[0];
    assert_eq!(record.next_attempt_at, later, "first retry a minute later");
    // A node with another key cannot open the body: given up on, never sent garbled.
    smtp.extra_roots_pem = Some(certs.root_pem.clone());
    let other_key = outbox(db.store(), &smtp, "node-b");
    assert_eq!(other_key.deliver_due(later).await.unwrap().failed, 1);

    // A wrong password is the installation's mistake: retried, not given up.
    smtp.credentials = Some(("relay".to_string(), "wrong".to_string()));
    let key = new_key();
    let wrong = keyed(db.store(), &smtp, &key, "node-a");
    wrong
        .enqueue(&invitation("two@acme.test"), NOW)
        .await
        .unwrap();
    let outcome = wrong.deliver_due(NOW).await.unwrap();
    assert_eq!(outcome.retrying, 1, "{outcome:?}");
    let error = wrong.recent(1).await.unwrap()[0].last_error.clone();
    assert!(error.contains("535"), "{error}");

    smtp.credentials = Some(("relay".to_string(), "s3cret".to_string()));
    let fixed = keyed(db.store(), &smtp, &key, "node-a");
    assert_eq!(fixed.deliver_due(later).await.unwrap().sent, 1);
    let messages = sink.messages();
    assert_eq!(messages.len(), 1);
    assert!(messages[0].starts_with("X-Sink-Rcpt: two@acme.test"));
}

#[tokio::test]
async fn mail_waits_for_a_server_that_is_down_and_a_refused_mailbox_is_given_up() {
    for_each_backend(|db| async move {
        let folder = tempfile::tempdir().unwrap();
        let port = free_port();
        let smtp = settings(port, Security::None);
        let outbox = outbox(db.store(), &smtp, "node-a");
        outbox
            .enqueue(&invitation("late@acme.test"), NOW)
            .await
            .unwrap();
        outbox
            .enqueue(&invitation("rejected@acme.test"), NOW)
            .await
            .unwrap();

        // Nobody listens: both wait, with the reason on record.
        let first = outbox.deliver_due(NOW).await.unwrap();
        assert_eq!(first.retrying, 2, "{first:?}");
        assert_eq!(outbox.counts().await.unwrap().retrying, 2);
        // Not due again before the backoff is over.
        assert_eq!(
            outbox.deliver_due(NOW + Seconds(30)).await.unwrap(),
            Default::default()
        );

        let sink = Sink::start(port, &folder.path().join("inbox"), &[]);
        let second = outbox.deliver_due(NOW + Seconds::minutes(1)).await.unwrap();
        assert_eq!((second.sent, second.failed), (1, 1), "{second:?}");
        let messages = sink.messages();
        assert_eq!(messages.len(), 1);
        assert!(messages[0].starts_with("X-Sink-Rcpt: late@acme.test"));
        let counts = outbox.counts().await.unwrap();
        assert_eq!((counts.pending, counts.sent, counts.failed), (0, 1, 1));
        let failed = outbox
            .recent(10)
            .await
            .unwrap()
            .into_iter()
            .find(|m| m.state == "failed")
            .unwrap();
        assert!(failed.last_error.contains("550"), "{}", failed.last_error);
    })
    .await;
}

#[tokio::test]
async fn one_address_gets_a_few_messages_an_hour_and_two_nodes_send_each_once() {
    for_each_backend(|db| async move {
        let folder = tempfile::tempdir().unwrap();
        let sink = Sink::start(free_port(), &folder.path().join("inbox"), &[]);
        let smtp = settings(sink.port, Security::None);
        let key = new_key();
        let (a, b) = (
            keyed(db.store(), &smtp, &key, "node-a"),
            keyed(db.store(), &smtp, &key, "node-b"),
        );
        let limit = OutboxPolicy::default().per_recipient_per_hour;
        for i in 0..limit {
            assert!(a
                .enqueue(&invitation("busy@acme.test"), NOW + Seconds(i))
                .await
                .unwrap()
                .is_some());
        }
        assert!(a
            .enqueue(&invitation("busy@acme.test"), NOW + Seconds::minutes(10))
            .await
            .unwrap()
            .is_none());
        assert!(
            a.enqueue(&invitation("busy@acme.test"), NOW + Seconds::minutes(61))
                .await
                .unwrap()
                .is_some(),
            "an hour later the address may get mail again"
        );
        for i in 0..6 {
            a.enqueue(&invitation(&format!("m{i}@acme.test")), NOW)
                .await
                .unwrap();
        }

        let at = NOW + Seconds::minutes(62);
        let (from_a, from_b) = tokio::join!(a.deliver_due(at), b.deliver_due(at));
        let (from_a, from_b) = (from_a.unwrap(), from_b.unwrap());
        let total = usize::try_from(limit).unwrap() + 1 + 6;
        assert_eq!(from_a.sent + from_b.sent, total, "{from_a:?} {from_b:?}");
        assert_eq!(sink.messages().len(), total, "every message exactly once");
    })
    .await;
}
