//! The `vestibule` binary's subcommands, run as an operator would run them from a script.

// Helpers outside #[test] functions unwrap too: a panic is the failure report we want.
#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use vestibule_domain::{Role, Timestamp};
use vestibule_staff::{PasswordHasher, Policy, StaffAccounts};
use vestibule_storage::Store;

fn vestibule(folder: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_vestibule"))
        .args(args)
        .current_dir(folder)
        .env(
            "VESTIBULE_DATABASE_URL",
            format!("sqlite://{}/v.db", folder.display()),
        )
        .env("VESTIBULE_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    drop(child.stdin.take());
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

async fn can_sign_in(folder: &Path, email: &str, password: &str) -> bool {
    let store = Store::connect(&format!("sqlite://{}/v.db", folder.display()))
        .await
        .unwrap();
    let accounts = StaffAccounts::new(store, PasswordHasher::default(), Policy::default());
    accounts
        .sign_in(email, password, "cli-test", None, Timestamp::now())
        .await
        .is_ok()
}

#[tokio::test]
async fn tenants_and_staff_can_be_added_from_a_script() {
    let folder = tempfile::tempdir().unwrap();
    let dir = folder.path();

    let added = vestibule(dir, &["tenant", "add", "acme", "Acme Association"], None);
    assert!(added.status.success(), "{}", text(&added.stderr));
    assert_eq!(
        text(&added.stdout).trim(),
        "Created tenant acme (Acme Association)"
    );

    let duplicate = vestibule(dir, &["tenant", "add", "ACME", "Again"], None);
    assert!(!duplicate.status.success());
    assert!(
        text(&duplicate.stderr).contains("already exists"),
        "{}",
        text(&duplicate.stderr)
    );

    let malformed = vestibule(dir, &["tenant", "add", "1acme", "Bad"], None);
    assert!(!malformed.status.success());
    assert!(
        text(&malformed.stderr).contains("starts with a letter"),
        "{}",
        text(&malformed.stderr)
    );

    let listed = vestibule(dir, &["tenant", "list"], None);
    assert!(
        text(&listed.stdout).starts_with("acme\tAcme Association\t"),
        "{}",
        text(&listed.stdout)
    );

    let admin = vestibule(
        dir,
        &[
            "staff",
            "add",
            "admin@acme.org",
            "--role",
            "tenant-admin",
            "--tenant",
            "acme",
            "--password-stdin",
        ],
        Some("a chosen passphrase\n"),
    );
    assert!(admin.status.success(), "{}", text(&admin.stderr));
    assert!(
        !text(&admin.stdout).contains("Password"),
        "a chosen password is not echoed"
    );
    assert!(can_sign_in(dir, "admin@acme.org", "a chosen passphrase").await);

    let operator = vestibule(
        dir,
        &["staff", "add", "ops@example.org", "--role", "operator"],
        None,
    );
    assert!(operator.status.success(), "{}", text(&operator.stderr));
    let stdout = text(&operator.stdout);
    let generated = stdout
        .lines()
        .find_map(|line| line.strip_prefix("Password (shown once): "))
        .expect("the generated password is printed once");
    assert_eq!(generated.len(), 24);
    assert!(can_sign_in(dir, "ops@example.org", generated).await);
    let store = Store::connect(&format!("sqlite://{}/v.db", dir.display()))
        .await
        .unwrap();
    let ops = store.list_operators().await.unwrap();
    assert_eq!(ops.len(), 1);
    assert_eq!(ops[0].role, Role::Operator);
    // The tenant's audit log has what was done to it from the command line.
    let acme = store
        .tenant_by_cloud_id(&"acme".parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    let events = store
        .audit_events(acme.id, &Default::default(), 10)
        .await
        .unwrap();
    let logged: Vec<(&str, &str)> = events
        .iter()
        .map(|e| (e.action.as_str(), e.target.as_str()))
        .collect();
    assert_eq!(
        logged,
        [("team.add", "admin@acme.org"), ("tenant.create", "acme")]
    );
    assert!(events.iter().all(|e| e.actor.starts_with("command line")));

    let no_tenant = vestibule(
        dir,
        &["staff", "add", "x@acme.org", "--role", "tenant-admin"],
        None,
    );
    assert!(!no_tenant.status.success());
    assert!(
        text(&no_tenant.stderr).contains("--tenant"),
        "{}",
        text(&no_tenant.stderr)
    );
    let short = vestibule(
        dir,
        &[
            "staff",
            "add",
            "y@acme.org",
            "--role",
            "operator",
            "--password-stdin",
        ],
        Some("short\n"),
    );
    assert!(!short.status.success());
    assert!(
        text(&short.stderr).contains("at least 12 characters"),
        "{}",
        text(&short.stderr)
    );
}

#[test]
fn config_check_validates_and_hides_the_database_password() {
    let folder = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_vestibule"))
        .args(["config", "check"])
        .current_dir(folder.path())
        .env(
            "VESTIBULE_DATABASE_URL",
            "postgres://vestibule:hunter2@db.internal/vestibule",
        )
        .env("VESTIBULE_PUBLIC_URL", "https://dashboard.example.org")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output.stderr));
    let shown = text(&output.stdout);
    assert!(
        shown.contains("postgres://vestibule:***@db.internal/vestibule"),
        "{shown}"
    );
    assert!(!shown.contains("hunter2"));
    assert!(shown.contains("public_url = \"https://dashboard.example.org\""));

    let invalid = Command::new(env!("CARGO_BIN_EXE_vestibule"))
        .args(["config", "check"])
        .current_dir(folder.path())
        .env("VESTIBULE_LISTEN", "not-an-address")
        .output()
        .unwrap();
    assert_eq!(invalid.status.code(), Some(2));
    assert!(text(&invalid.stderr).contains("VESTIBULE_LISTEN"));
}

#[test]
fn migrate_creates_the_database() {
    let folder = tempfile::tempdir().unwrap();
    let output = vestibule(folder.path(), &["migrate"], None);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(folder.path().join("v.db").exists());
}

#[tokio::test]
async fn domains_can_be_managed_from_the_command_line() {
    let folder = tempfile::tempdir().unwrap();
    let dir = folder.path();
    assert!(vestibule(dir, &["tenant", "add", "acme", "Acme"], None)
        .status
        .success());
    assert!(vestibule(dir, &["tenant", "add", "beta", "Beta"], None)
        .status
        .success());

    let before = vestibule(dir, &["domain", "status", "acme"], None);
    assert!(before.status.success(), "{}", text(&before.stderr));
    assert!(text(&before.stdout).contains("Not Provisioned"));
    assert!(text(&before.stdout).contains("edge.vestibule.localhost"));

    let pasted = vestibule(
        dir,
        &["domain", "provision", "acme", "https://sso.acme.org"],
        None,
    );
    assert!(!pasted.status.success());
    assert!(
        text(&pasted.stderr).contains("without \"https://\""),
        "{}",
        text(&pasted.stderr)
    );

    let queued = vestibule(dir, &["domain", "provision", "acme", "sso.acme.org"], None);
    assert!(queued.status.success(), "{}", text(&queued.stderr));
    assert!(
        text(&queued.stdout).contains("Status:  Provisioning"),
        "{}",
        text(&queued.stdout)
    );
    // The key that seals certificate keys was created on first use, private to its owner.
    assert!(dir.join("data/secret.key").exists());

    let taken = vestibule(dir, &["domain", "provision", "beta", "SSO.acme.org"], None);
    assert!(!taken.status.success());
    assert!(
        text(&taken.stderr).contains("another Cloud ID"),
        "{}",
        text(&taken.stderr)
    );

    // A second domain for the same Cloud ID; the first stays primary.
    let second = vestibule(
        dir,
        &["domain", "provision", "acme", "sso-test.acme.org"],
        None,
    );
    assert!(second.status.success(), "{}", text(&second.stderr));
    let listed = vestibule(dir, &["domain", "list"], None);
    assert!(text(&listed.stdout).contains("acme\tsso.acme.org\tProvisioning\tprimary"));
    assert!(text(&listed.stdout).contains("acme\tsso-test.acme.org\tProvisioning\tother"));
    let status = text(&vestibule(dir, &["domain", "status", "acme"], None).stdout);
    assert!(
        status.find("sso.acme.org") < status.find("sso-test.acme.org"),
        "{status}"
    );

    let unconfirmed = vestibule(
        dir,
        &["domain", "release", "acme", "--confirm", "yes"],
        None,
    );
    assert!(!unconfirmed.status.success());
    assert!(text(&unconfirmed.stderr).contains("sso.acme.org, sso-test.acme.org"));
    // An app used on the test domain: the operator is told it is now refused everywhere.
    let store = Store::connect(&format!("sqlite://{}/v.db", dir.display()))
        .await
        .unwrap();
    let acme = store
        .tenant_by_cloud_id(&"acme".parse().unwrap())
        .await
        .unwrap()
        .unwrap()
        .id;
    let trial = vestibule_saml::SamlAppInput {
        name: "Trial".into(),
        entity_id: "https://trial.example.org/sp".into(),
        assertion_consumers: vestibule_saml::AssertionConsumer::parse_lines(
            "https://trial.example.org/acs",
        )
        .unwrap(),
        domain: "sso-test.acme.org".into(),
        ..Default::default()
    };
    vestibule_saml::SamlApps::new(store.clone())
        .create(acme, trial, vestibule_domain::Timestamp::now())
        .await
        .unwrap();
    store.close().await;
    let released = vestibule(
        dir,
        &[
            "domain",
            "release",
            "acme",
            "--confirm",
            "sso-test.acme.org",
        ],
        None,
    );
    assert!(released.status.success(), "{}", text(&released.stderr));
    assert!(
        text(&released.stdout).contains("refused on every domain until an admin chooses another on their edit page: Trial (SAML)"),
        "{}",
        text(&released.stdout)
    );
    let released = vestibule(
        dir,
        &["domain", "release", "acme", "--confirm", "sso.acme.org"],
        None,
    );
    assert!(released.status.success(), "{}", text(&released.stderr));
    assert!(
        text(&vestibule(dir, &["domain", "status", "acme"], None).stdout)
            .contains("Not Provisioned")
    );
}

#[tokio::test]
async fn demo_sets_up_a_tenant_once_and_then_leaves_it_alone() {
    let folder = tempfile::tempdir().unwrap();
    let dir = folder.path();
    let url = "http://127.0.0.1:8090";
    let first = vestibule(dir, &["demo", "--imis-url", url], None);
    assert!(first.status.success(), "{}", text(&first.stderr));
    assert!(text(&first.stdout).contains("through the iMIS at http://127.0.0.1:8090"));

    let store = Store::connect(&format!("sqlite://{}/v.db", dir.display()))
        .await
        .unwrap();
    let demo = store
        .tenant_by_cloud_id(&"demo".parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    let settings = store.tenant_settings(demo.id).await.unwrap().unwrap();
    assert_eq!(settings.imis_base_url, url);
    assert!(settings.oidc_client_secret_sealed.starts_with("v1:"));
    assert!(!format!("{settings:?}").contains("demo-oidc-secret"));
    assert_eq!(store.directory_members(demo.id).await.unwrap().len(), 1);

    // A second run (every run-local start) keeps what was changed since.
    let mut changed = settings.clone();
    changed.brand_name = "Renamed by the newcomer".into();
    store.put_tenant_settings(demo.id, &changed).await.unwrap();
    let again = vestibule(dir, &["demo", "--imis-url", "http://127.0.0.1:9999"], None);
    assert!(again.status.success(), "{}", text(&again.stderr));
    assert!(text(&again.stdout).contains("left as they are"));
    let kept = store.tenant_settings(demo.id).await.unwrap().unwrap();
    assert_eq!(kept.brand_name, "Renamed by the newcomer");
    assert_eq!(kept.imis_base_url, url);
}

#[tokio::test]
async fn oidc_applications_can_be_registered_from_a_script() {
    let folder = tempfile::tempdir().unwrap();
    let dir = folder.path();
    assert!(vestibule(dir, &["tenant", "add", "acme", "Acme"], None)
        .status
        .success());
    let added = std::process::Command::new(env!("CARGO_BIN_EXE_vestibule"))
        .args([
            "oidc",
            "add",
            "acme",
            "Events",
            "--redirect-uri",
            "https://events.example.org/cb",
        ])
        .current_dir(dir)
        .env(
            "VESTIBULE_DATABASE_URL",
            format!("sqlite://{}/v.db", dir.display()),
        )
        .env("VESTIBULE_TEST_DOMAINS", "sso.acme.localhost=acme")
        .env("VESTIBULE_LOG", "warn")
        .output()
        .unwrap();
    assert!(added.status.success(), "{}", text(&added.stderr));
    let out = text(&added.stdout);
    assert!(out.contains("client_secret (shown once): "), "{out}");
    assert!(
        out.contains("discovery: http://sso.acme.localhost:8080/.well-known/openid-configuration"),
        "{out}"
    );
    let client_id = out
        .lines()
        .find_map(|l| l.strip_prefix("client_id: "))
        .unwrap()
        .to_string();
    let listed = vestibule(dir, &["oidc", "list", "acme"], None);
    assert!(text(&listed.stdout).contains(&client_id));

    let refused = vestibule(
        dir,
        &[
            "oidc",
            "add",
            "acme",
            "Bad",
            "--redirect-uri",
            "http://events.example.org/cb",
        ],
        None,
    );
    assert!(!refused.status.success());
    assert!(
        text(&refused.stderr).contains("https"),
        "{}",
        text(&refused.stderr)
    );
}
