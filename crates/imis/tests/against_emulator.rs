//! The iMIS client against the emulator over real HTTP on loopback.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use imis_emulator::{Behaviour, Directory, Emulator, FailMode};
use vestibule_imis::{ClientCredentials, Imis, ImisError, Network};

const PROFILE_QUERY: &str = "$/Vestibule/MemberProfile";

async fn running_emulator() -> (Emulator, String) {
    let emulator = Emulator::new(Directory::demo(), Behaviour::default());
    let base = emulator.serve_on_loopback().await.unwrap();
    (emulator, base)
}

fn oidc_client(secret: &str) -> ClientCredentials {
    ClientCredentials {
        client_id: "vestibule-oidc".into(),
        client_secret: secret.into(),
    }
}

async fn set_behaviour(base: &str, behaviour: &str) {
    // The emulator's control endpoint, through a raw request: the client under test has no
    // business knowing it.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let request = format!(
        "POST /_emulator/behaviour HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{behaviour}",
        behaviour.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).await.unwrap();
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
}

#[tokio::test]
async fn a_refresh_token_becomes_a_profile() {
    let (emulator, base) = running_emulator().await;
    let imis = Imis::new(
        &format!("{base}/"),
        Duration::from_secs(5),
        Network::Development,
    )
    .unwrap();
    let refresh_token = emulator
        .issue_refresh_token("jane", "vestibule-oidc")
        .unwrap();

    let wrong_secret = imis
        .refresh_token_grant(&oidc_client("wrong"), &refresh_token)
        .await
        .unwrap_err();
    assert!(
        matches!(wrong_secret, ImisError::InvalidClient(_)),
        "{wrong_secret}"
    );

    // A refused client does not use up the member's refresh token; a successful exchange does.
    let token = imis
        .refresh_token_grant(&oidc_client("demo-oidc-secret"), &refresh_token)
        .await
        .unwrap();
    let replayed = imis
        .refresh_token_grant(&oidc_client("demo-oidc-secret"), &refresh_token)
        .await
        .unwrap_err();
    assert!(matches!(replayed, ImisError::InvalidGrant(_)), "{replayed}");
    assert_eq!(token.user_name.as_deref(), Some("jane"));

    // A member's own token reads their own profile; the background account reads anyone's.
    let own = imis.profile(&token, PROFILE_QUERY, "jane").await.unwrap();
    assert_eq!(own.imis_id(), Some("23201"));
    assert_eq!(own.get("Email"), Some("jane@members.acme.test"));
    let service = imis
        .password_grant("vestibule-api", "demo-api-password")
        .await
        .unwrap();
    let other = imis.profile(&service, PROFILE_QUERY, "omar").await.unwrap();
    assert_eq!(other.get("FirstName"), Some("Omar"));
    let party = imis.party(&service, "23202").await.unwrap();
    assert_eq!(party["PersonName"]["LastName"], "Fellow");
    assert_eq!(
        imis.party(&service, "nobody").await.unwrap_err(),
        ImisError::NotFound
    );
    assert_eq!(
        imis.profile(&service, "$/Missing", "jane").await.unwrap_err().to_string(),
        format!(
            "iMIS answered HTTP 400 from {base}/api/IQA?QueryName=%24%2FMissing&parameter=jane: a JSON document without the expected fields (48 bytes)"
        )
    );
}

#[tokio::test]
async fn wrong_passwords_bad_tokens_and_outages_are_told_apart() {
    let (_, base) = running_emulator().await;
    let imis = Imis::new(&base, Duration::from_millis(500), Network::Development).unwrap();
    let wrong = imis
        .password_grant("vestibule-api", "nope")
        .await
        .unwrap_err();
    assert!(matches!(wrong, ImisError::InvalidGrant(_)));
    assert!(!wrong.is_transient());

    let forged = vestibule_imis::AccessToken {
        token: "forged".into(),
        expires_in: None,
        user_name: None,
    };
    assert_eq!(
        imis.profile(&forged, PROFILE_QUERY, "jane")
            .await
            .unwrap_err(),
        ImisError::Unauthorized
    );

    set_behaviour(&base, r#"{"fail":"token"}"#).await;
    let down = imis
        .password_grant("vestibule-api", "demo-api-password")
        .await
        .unwrap_err();
    assert!(
        matches!(down, ImisError::Unexpected { status: 503, .. }),
        "{down}"
    );
    assert!(down.is_transient());

    set_behaviour(&base, r#"{"delay_ms":1500}"#).await;
    let slow = imis
        .password_grant("vestibule-api", "demo-api-password")
        .await
        .unwrap_err();
    assert!(matches!(slow, ImisError::Timeout { .. }), "{slow}");
    assert!(slow.is_transient());
    set_behaviour(&base, r#"{}"#).await;

    let closed = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let nowhere = Imis::new(
        &format!("http://{closed}"),
        Duration::from_secs(2),
        Network::Development,
    )
    .unwrap();
    let unreachable = nowhere.password_grant("a", "b").await.unwrap_err();
    assert!(
        matches!(unreachable, ImisError::Unreachable { .. }),
        "{unreachable}"
    );
    assert!(
        unreachable.to_string().to_lowercase().contains("refused"),
        "{unreachable}"
    );
    let _ = FailMode::None;
}

#[test]
fn base_urls_are_checked() {
    for bad in [
        "members.acme.org",
        "ftp://members.acme.org",
        "https://members.acme.org/?x=1",
        "",
    ] {
        assert!(
            matches!(
                Imis::new(bad, Duration::from_secs(1), Network::Development),
                Err(ImisError::InvalidBaseUrl(_))
            ),
            "{bad}"
        );
    }
    let imis = Imis::new(
        "https://members.acme.org/imis/",
        Duration::from_secs(1),
        Network::Development,
    )
    .unwrap();
    assert_eq!(imis.base_url(), "https://members.acme.org/imis");
}

/// Review finding: Test connection reached any host or IP, plain HTTP to any loopback port,
/// and a `#` sent `/token` wherever the admin liked. In production nothing private is called:
/// not by address, not by a name that resolves there, not over plain HTTP.
#[tokio::test]
async fn production_calls_reach_public_addresses_only() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    for refused in [
        format!("http://127.0.0.1:{port}"),
        format!("https://127.0.0.1:{port}"),
        "https://169.254.169.254".to_string(),
        "https://[::1]".to_string(),
        "https://10.0.0.8/imis".to_string(),
        "https://members.acme.org#/token".to_string(),
        "https://admin@members.acme.org".to_string(),
    ] {
        assert!(
            matches!(
                Imis::new(&refused, Duration::from_secs(1), Network::PublicOnly),
                Err(ImisError::InvalidBaseUrl(_))
            ),
            "{refused}"
        );
    }
    // A name that resolves to this machine: refused at connect time, nothing arrives.
    let imis = Imis::new(
        &format!("https://localhost:{port}"),
        Duration::from_secs(2),
        Network::PublicOnly,
    )
    .unwrap();
    let error = imis.page_status(imis.base_url()).await.unwrap_err();
    assert!(
        error
            .to_string()
            .contains("private, loopback or link-local"),
        "{error}"
    );
    let accepted = tokio::time::timeout(Duration::from_millis(200), listener.accept()).await;
    assert!(
        accepted.is_err(),
        "a connection reached the loopback listener"
    );
}
