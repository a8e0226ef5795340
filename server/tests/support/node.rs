//! A `vestibule serve` process under test, and a tenant whose members sign in on the hosted
//! form, set up on the database the process uses: for the two-node tests and the peer benchmark.
//! Included with `#[path = "support/node.rs"] mod node;` beside `support`, `events_app` and
//! `form_encoding`.

use std::net::{IpAddr, SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use vestibule_domain::Timestamp;
use vestibule_members::NewDirectoryMember;
use vestibule_settings::SettingsInput;

use super::form_encoding::form;
use super::{events_app, support};

pub const DOMAIN: &str = "sso.acme.localhost";
pub const REDIRECT: &str = "https://events.example.org/cb";

/// A running `vestibule serve`, stopped when dropped.
pub struct Node {
    pub child: Child,
    pub ip: IpAddr,
    pub edge_port: u16,
    pub https: SocketAddr,
    pub operator: SocketAddr,
    pub dashboard: SocketAddr,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port(ip: IpAddr) -> u16 {
    TcpListener::bind((ip, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Node {
    pub fn start(database_url: &str, secret: &str, ip: IpAddr, edge_port: u16) -> Self {
        Self::start_with(database_url, secret, ip, edge_port, &[])
    }

    /// With more settings (`VESTIBULE_*`), e.g. the ACME sandbox's.
    pub fn start_with(
        database_url: &str,
        secret: &str,
        ip: IpAddr,
        edge_port: u16,
        env: &[(String, String)],
    ) -> Self {
        let folder = std::env::temp_dir();
        let dashboard = SocketAddr::new(ip, free_port(ip));
        let operator = SocketAddr::new(ip, free_port(ip));
        let https = SocketAddr::new(ip, free_port(ip));
        let child = Command::new(env!("CARGO_BIN_EXE_vestibule"))
            .arg("serve")
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .current_dir(folder)
            .env("VESTIBULE_DATABASE_URL", database_url)
            .env("VESTIBULE_SECRET_KEY", secret)
            .env("VESTIBULE_LISTEN", dashboard.to_string())
            .env("VESTIBULE_PUBLIC_URL", format!("http://{dashboard}"))
            .env("VESTIBULE_HTTP_LISTEN", format!("{ip}:{edge_port}"))
            .env("VESTIBULE_HTTPS_LISTEN", https.to_string())
            .env("VESTIBULE_OPERATOR_LISTEN", operator.to_string())
            .env("VESTIBULE_TEST_DOMAINS", format!("{DOMAIN}=acme"))
            .env("VESTIBULE_IMIS_PRIVATE_NETWORK", "true")
            .env("VESTIBULE_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        Node {
            child,
            ip,
            edge_port,
            https,
            operator,
            dashboard,
        }
    }

    pub async fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(reply) = self.operator_get("/readyz").await {
                if reply.status == 200 {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "node {} never got ready",
                self.ip
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// A request to this node's edge for the tenant's domain.
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Reply {
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {DOMAIN}:{}\r\n",
            self.edge_port
        );
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        let address = SocketAddr::new(self.ip, self.edge_port);
        exchange(address, &head, body, "application/x-www-form-urlencoded")
            .await
            .unwrap()
    }

    pub async fn operator_get(&self, path: &str) -> std::io::Result<Reply> {
        let head = format!("GET {path} HTTP/1.1\r\nHost: {}\r\n", self.operator);
        exchange(self.operator, &head, "", "").await
    }

    pub async fn metrics(&self) -> String {
        self.operator_get("/metrics").await.unwrap().body
    }
}

pub struct Reply {
    pub status: u16,
    pub head: String,
    pub body: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name)
                .then(|| value.trim().to_string())
        })
    }

    pub fn location(&self) -> String {
        self.header("location").expect("a Location header")
    }
}

/// One HTTP/1.1 exchange on a fresh connection (`Connection: close`, so the body ends with it).
pub async fn exchange(
    address: SocketAddr,
    head: &str,
    body: &str,
    content_type: &str,
) -> std::io::Result<Reply> {
    let mut stream = TcpStream::connect(address).await?;
    let mut request = head.to_string();
    if !body.is_empty() {
        request.push_str(&format!(
            "Content-Type: {content_type}\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    request.push_str("Connection: close\r\n\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).await?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    Ok(Reply {
        status,
        head: head.to_string(),
        body: body.to_string(),
    })
}

pub fn query_value(url: &str, key: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == key).then(|| v.to_string())
    })
}

/// The application's back-channel code exchange at `node`.
pub async fn redeem(node: &Node, code: &str, basic: &str) -> Reply {
    let body = form(&[
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT),
        (
            "code_verifier",
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
        ),
    ]);
    node.send("POST", "/oidc/token", &[("Authorization", basic)], &body)
        .await
}

/// A tenant on the test domain, set up by an admin through the engines on the same database
/// (a third node): the member directory with `members` (password `<name>-member-password`)
/// and one application, Events.
pub struct Tenant {
    pub engines: vestibule_server::Engines,
    pub id: vestibule_domain::TenantId,
    pub secret: String,
    pub client_id: String,
    /// The application's `Authorization: Basic …` header.
    pub basic: String,
}

pub fn member_password(username: &str) -> String {
    format!("{username}-member-password")
}

pub fn directory_settings(brand: &str) -> SettingsInput {
    SettingsInput {
        identity_source: "directory".into(),
        brand_name: brand.into(),
        ..SettingsInput::default()
    }
}

pub async fn directory_tenant(
    db: &vestibule_storage::testing::TestDatabase,
    members: &[String],
) -> Tenant {
    let config = support::config(&[&format!("{DOMAIN}=acme")]);
    let secret = config.secret_key.clone().unwrap();
    let engines = support::engines(&config, db.store().clone());
    let now = Timestamp::now();
    let id = db
        .store()
        .create_tenant(&"acme".parse().unwrap(), "Acme", now)
        .await
        .unwrap()
        .id;
    engines
        .settings
        .save(id, directory_settings("Acme Association"), now)
        .await
        .unwrap();
    for username in members {
        let member = NewDirectoryMember {
            username: username.clone(),
            email: format!("{username}@acme.test"),
            given_name: username.clone(),
            family_name: "Member".into(),
            password: member_password(username),
        };
        engines
            .members
            .add_directory_member(id, member, now)
            .await
            .unwrap();
    }
    let (client_id, basic) = events_app::create(&engines, id, REDIRECT).await;
    Tenant {
        engines,
        id,
        secret,
        client_id,
        basic,
    }
}

/// The application's authorization request (code flow with PKCE).
pub fn authorize_path(client_id: &str, state: &str) -> String {
    format!(
        "/oidc/authorize?{}",
        form(&[
            ("client_id", client_id),
            ("redirect_uri", REDIRECT),
            ("response_type", "code"),
            ("scope", "openid profile"),
            ("state", state),
            ("nonce", "no-1"),
            (
                "code_challenge",
                "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
            ),
            ("code_challenge_method", "S256"),
        ])
    )
}

/// The hosted sign-in form posted to `node`; the session cookie it sets.
pub async fn sign_in_at(node: &Node, username: &str, return_to: &str) -> Reply {
    let origin = format!("http://{DOMAIN}:{}", node.edge_port);
    node.send(
        "POST",
        "/login",
        &[("Origin", &origin)],
        &form(&[
            ("username", username),
            ("password", &member_password(username)),
            ("return_to", return_to),
        ]),
    )
    .await
}

pub fn session_cookie(reply: &Reply) -> String {
    let set = reply.header("set-cookie").expect("a session cookie");
    set.split(';').next().unwrap().to_string()
}
