//! The Cloud Dashboard with 10,000 tenants and 100,000 OIDC client apps: page latency (p50,
//! p99) and the server's memory, on SQLite and, when `VESTIBULE_TEST_POSTGRES_URL` names a
//! server (bench/run starts one), on PostgreSQL:
//!
//! ```text
//! cargo bench -p vestibule --bench dashboard_at_scale            # 10,000 tenants
//! cargo bench -p vestibule --bench dashboard_at_scale -- 1000    # fewer, for a quick look
//! ```
//!
//! The tenants and their apps (ten each) are made through the engines, as the dashboard makes
//! them; then a release `vestibule serve` on that database serves the dashboard, an operator
//! signs in, and each page is fetched one request at a time, server-side rendered as a browser
//! gets it first, for a random tenant each time. The server's resident memory (now, and its
//! peak) is read from `/proc/<pid>/status` after the pages.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

#[path = "../tests/support/events_app.rs"]
mod events_app;
#[path = "../tests/support/form.rs"]
mod form_encoding;
#[path = "../tests/support/mod.rs"]
mod support;
// The two-node tests use what this benchmark leaves.
#[allow(dead_code)]
#[path = "../tests/support/node.rs"]
mod node;

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use form_encoding::form;
use node::{Node, Reply};
use rand::Rng;
use vestibule_domain::{Role, Timestamp};
use vestibule_oidc::ClientInput;
use vestibule_storage::testing::{postgres, sqlite, TestDatabase};

const APPS_PER_TENANT: usize = 10;
const REQUESTS_PER_PAGE: usize = 200;
const OPERATOR: &str = "ops@vestibule.test";
const PASSWORD: &str = "correct horse battery staple";
const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

fn cloud_id(index: usize) -> String {
    format!("tenant{index:05}")
}

/// The tenants, their apps and an operator, through the engines; the apps' client ids by tenant.
async fn seed(db: &TestDatabase, tenants: usize) -> (String, Vec<Vec<String>>) {
    let config = support::config(&[]);
    let secret = config.secret_key.clone().unwrap();
    let engines = support::engines(&config, db.store().clone());
    let now = Timestamp::now();
    engines
        .accounts
        .add_with_password(OPERATOR, Role::Operator, PASSWORD, now)
        .await
        .unwrap();
    let mut apps = Vec::with_capacity(tenants);
    for index in 0..tenants {
        let tenant = db
            .store()
            .create_tenant(
                &cloud_id(index).parse().unwrap(),
                &format!("Association {index}"),
                now,
            )
            .await
            .unwrap();
        let mut ids = Vec::with_capacity(APPS_PER_TENANT);
        for app in 0..APPS_PER_TENANT {
            let input = ClientInput {
                name: format!("App {app}"),
                redirect_uris: vec![format!("https://app{app}.example.org/cb")],
                ..ClientInput::default()
            };
            let (client, _) = engines
                .oidc
                .clients
                .create(tenant.id, input, now)
                .await
                .unwrap();
            ids.push(client.client_id);
        }
        apps.push(ids);
    }
    (secret, apps)
}

/// Resident memory of process `pid` now and at its peak, in MiB.
fn memory_mib(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| -> f64 {
        let line = status.lines().find(|l| l.starts_with(name)).unwrap();
        let kib: f64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
        kib / 1024.0
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// A page to fetch, and a text it must show.
type PagePick<'a> = Box<dyn Fn() -> (String, String) + 'a>;

struct Dashboard<'a> {
    node: &'a Node,
    cookie: String,
}

impl Dashboard<'_> {
    async fn sign_in(node: &Node) -> Dashboard<'_> {
        let origin = format!("http://{}", node.dashboard);
        let head = format!(
            "POST /api/sign_in HTTP/1.1\r\nHost: {}\r\nOrigin: {origin}\r\nAccept: application/json\r\n",
            node.dashboard
        );
        let body = form(&[("email", OPERATOR), ("password", PASSWORD)]);
        let reply = node::exchange(
            node.dashboard,
            &head,
            &body,
            "application/x-www-form-urlencoded",
        )
        .await
        .unwrap();
        assert_eq!(reply.status, 200, "{}", reply.body);
        let cookie = node::session_cookie(&reply);
        Dashboard { node, cookie }
    }

    async fn page(&self, path: &str) -> Reply {
        let head = format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\nAccept: text/html\r\nCookie: {}\r\n",
            self.node.dashboard, self.cookie
        );
        node::exchange(self.node.dashboard, &head, "", "")
            .await
            .unwrap()
    }

    /// `REQUESTS_PER_PAGE` requests for the paths `pick` gives, one at a time: p50 and p99 in
    /// milliseconds, and the size of the last page in KiB. Each page must show what `pick`
    /// says it should.
    async fn time(&self, pick: &PagePick<'_>) -> (f64, f64, f64) {
        let mut latencies = Vec::with_capacity(REQUESTS_PER_PAGE);
        let mut size = 0;
        for _ in 0..REQUESTS_PER_PAGE {
            let (path, expected) = pick();
            let started = Instant::now();
            let reply = self.page(&path).await;
            latencies.push(started.elapsed());
            assert_eq!(reply.status, 200, "{path}: {}", reply.body);
            assert!(reply.body.contains(&expected), "{path} lacks {expected}");
            size = reply.body.len();
        }
        latencies.sort();
        let at = |fraction: f64| {
            latencies[((latencies.len() - 1) as f64 * fraction).round() as usize].as_secs_f64()
                * 1000.0
        };
        (at(0.5), at(0.99), size as f64 / 1024.0)
    }
}

async fn measure(database: &str, db: TestDatabase, tenants: usize) {
    let seeding = Instant::now();
    let (secret, apps) = seed(&db, tenants).await;
    println!(
        "{database}: {tenants} tenants and {} apps made in {:.0} s",
        tenants * APPS_PER_TENANT,
        seeding.elapsed().as_secs_f64()
    );
    let served = Node::start(db.url(), &secret, LOOPBACK, node::free_port(LOOPBACK));
    served.wait_ready().await;
    let dashboard = Dashboard::sign_in(&served).await;
    let (idle, _) = memory_mib(served.child.id());
    let random_tenant = || rand::thread_rng().gen_range(0..tenants);
    let pages: Vec<(&str, PagePick)> = vec![
        (
            "/tenants",
            Box::new(|| ("/tenants".to_string(), format!("of {tenants}"))),
        ),
        (
            "/tenants?page=<random>",
            Box::new(|| {
                let t = random_tenant();
                (format!("/tenants?page={}", t / 50 + 1), cloud_id(t))
            }),
        ),
        (
            "/tenants?q=<a tenant's name>",
            Box::new(|| {
                let t = random_tenant();
                (
                    format!("/tenants?q=Association+{t}"),
                    format!("Association {t}"),
                )
            }),
        ),
        (
            "/t/<cloud_id>/oidc",
            Box::new(|| {
                let t = random_tenant();
                (
                    format!("/t/{}/oidc", cloud_id(t)),
                    apps[t][APPS_PER_TENANT - 1].clone(),
                )
            }),
        ),
        (
            "/t/<cloud_id>/oidc/<client_id>",
            Box::new(|| {
                let t = random_tenant();
                let app = &apps[t][rand::thread_rng().gen_range(0..APPS_PER_TENANT)];
                (format!("/t/{}/oidc/{app}", cloud_id(t)), app.clone())
            }),
        ),
        (
            "/t/<cloud_id>/domain",
            Box::new(|| {
                let t = random_tenant();
                (format!("/t/{}/domain", cloud_id(t)), cloud_id(t))
            }),
        ),
        (
            "/t/<cloud_id>/settings",
            Box::new(|| {
                let t = random_tenant();
                (format!("/t/{}/settings", cloud_id(t)), cloud_id(t))
            }),
        ),
        (
            "/t/<cloud_id>/audit",
            Box::new(|| {
                let t = random_tenant();
                (format!("/t/{}/audit", cloud_id(t)), cloud_id(t))
            }),
        ),
    ];
    for (name, path) in &pages {
        let (p50, p99, size) = dashboard.time(path).await;
        println!("{database:<10} {name:<32} {p50:>8.1}ms {p99:>8.1}ms {size:>8.0} KiB");
    }
    let (now, peak) = memory_mib(served.child.id());
    println!(
        "{database:<10} server memory: {idle:.0} MiB signed in, {now:.0} MiB after the pages, \
         peak {peak:.0} MiB"
    );
}

fn main() {
    let tenants: usize = std::env::args()
        .skip(1)
        .find(|arg| !arg.starts_with("--"))
        .map(|arg| arg.parse().expect("a number of tenants"))
        .unwrap_or(10_000);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    println!(
        "Dashboard pages with {tenants} tenants and {APPS_PER_TENANT} OIDC apps each, \
         {REQUESTS_PER_PAGE} requests per page, one at a time"
    );
    println!(
        "{:<10} {:<32} {:>10} {:>10} {:>12}",
        "database", "page", "p50", "p99", "size"
    );
    runtime.block_on(async {
        measure("SQLite", sqlite().await, tenants).await;
        if let Some(db) = postgres().await {
            measure("PostgreSQL", db, tenants).await;
        }
    });
    runtime.shutdown_timeout(Duration::from_secs(1));
}
