//! The operator listener: `/metrics` for Prometheus, `/healthz` and `/readyz` for the load
//! balancer and the orchestrator. It listens apart from the dashboard and the tenant edge
//! (`operator_listen`, loopback by default) because what it shows is for the people who run
//! Vestibule, not for tenants or members.
//!
//! [`Metrics::track`] also gives every request an id (`X-Request-Id`, taken from a load balancer
//! in front when it sends a plausible one), a tracing span with it, and one log line when
//! answered.
//!
//! Request counts and latencies are this node's, as Prometheus expects (it adds the nodes up).
//! Certificate expiry and the job queue are read from the database at each scrape: every node
//! reports the same values, so dashboards take their `max`.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use tracing::Instrument;
use vestibule_domain::Timestamp;
use vestibule_storage::Store;

/// One of the listeners whose requests are counted.
#[derive(Debug, Clone, Copy)]
pub enum Listener {
    Dashboard,
    /// Tenant domains over HTTPS, and test domains over plain HTTP.
    Edge,
}

impl Listener {
    fn label(self) -> &'static str {
        match self {
            Listener::Dashboard => "dashboard",
            Listener::Edge => "edge",
        }
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    listener: &'static str,
    /// The route as declared (`/saml/idp/{app_id}`), never the path as sent: a label per path
    /// would let anyone grow the series without bound.
    route: String,
    method: String,
    status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    listener: &'static str,
    route: String,
    method: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SignInLabels {
    source: String,
    outcome: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DomainLabels {
    domain: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AppLabels {
    cloud_id: String,
    app: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SpCertificateLabels {
    cloud_id: String,
    app: String,
    /// `signing` or `encryption`.
    certificate: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct QueueLabels {
    state: &'static str,
}

struct Inner {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    durations: Family<RouteLabels, Histogram>,
    sign_ins: Family<SignInLabels, Counter>,
    certificate_days: Family<DomainLabels, Gauge<f64, std::sync::atomic::AtomicU64>>,
    sp_certificate_days: Family<SpCertificateLabels, Gauge<f64, std::sync::atomic::AtomicU64>>,
    metadata_failing: Family<AppLabels, Gauge>,
    jobs: Family<QueueLabels, Gauge>,
    mail: Family<QueueLabels, Gauge>,
    certificate_orders: Counter,
}

/// This node's metrics. Cheap to clone.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

/// The header that carries a request's id, in and out.
const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The id a load balancer in front gave the request when it looks like one (so its logs and
/// ours join up), or a new random one.
fn request_id(request: &Request) -> String {
    request
        .headers()
        .get(&REQUEST_ID)
        .and_then(|value| value.to_str().ok())
        .filter(|id| {
            (1..=64).contains(&id.len())
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        })
        .map_or_else(
            || vestibule_secrets::token::random_token()[..16].to_string(),
            str::to_string,
        )
}

/// Methods outside this list are counted as `other`, for the same reason as routes.
fn method_label(method: &axum::http::Method) -> String {
    match method.as_str() {
        m @ ("GET" | "POST" | "PUT" | "PATCH" | "DELETE" | "HEAD" | "OPTIONS") => m.to_string(),
        _ => "other".to_string(),
    }
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("vestibule");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by listener, route, method and status",
            requests.clone(),
        );
        let durations = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            // From a cached page (a millisecond) to an iMIS round trip (seconds).
            Histogram::new([
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ])
        });
        registry.register(
            "http_request_duration_seconds",
            "Time from request to response headers, by listener, route and method",
            durations.clone(),
        );
        let sign_ins = Family::<SignInLabels, Counter>::default();
        registry.register(
            "member_sign_ins",
            "Member sign-ins on this node, by identity source and outcome",
            sign_ins.clone(),
        );
        let certificate_days = Family::default();
        registry.register(
            "certificate_days_to_expiry",
            "Days until each tenant domain's certificate expires (negative: expired)",
            certificate_days.clone(),
        );
        let sp_certificate_days = Family::default();
        registry.register(
            "sp_certificate_days_to_expiry",
            "Days until each SAML service provider certificate held for an app expires \
             (negative: expired)",
            sp_certificate_days.clone(),
        );
        let metadata_failing = Family::default();
        registry.register(
            "saml_metadata_read_failing",
            "1 for each SAML app whose subscribed service provider metadata could not be read or \
             used at the last try, 0 when the last read worked",
            metadata_failing.clone(),
        );
        let jobs = Family::default();
        registry.register(
            "provisioning_jobs",
            "Provisioning and renewal jobs: waiting (due, not leased) and running (leased)",
            jobs.clone(),
        );
        let mail = Family::default();
        registry.register(
            "mail_outbox",
            "E-mail in the outbox: pending (retrying: of those, failed at least once), sent, \
             failed (given up)",
            mail.clone(),
        );
        let certificate_orders = Counter::default();
        registry.register(
            "certificate_orders",
            "Certificate orders this node placed at the ACME CA (first issue and renewals)",
            certificate_orders.clone(),
        );
        Self {
            inner: Arc::new(Inner {
                registry,
                requests,
                durations,
                sign_ins,
                certificate_days,
                sp_certificate_days,
                metadata_failing,
                jobs,
                mail,
                certificate_orders,
            }),
        }
    }
}

impl Metrics {
    /// Counts and times every request of `router` as `listener`'s.
    pub fn track(&self, listener: Listener, router: Router) -> Router {
        let metrics = self.clone();
        router.layer(axum::middleware::from_fn(
            move |request: Request, next: Next| {
                let metrics = metrics.clone();
                async move { metrics.observe(listener, request, next).await }
            },
        ))
    }

    async fn observe(&self, listener: Listener, request: Request, next: Next) -> Response {
        let matched = request.extensions().get::<MatchedPath>().cloned();
        let method = method_label(request.method());
        let request_id = request_id(&request);
        // Every log line of this request carries its id; the path, never the query (which
        // holds codes, SAML messages and tokens).
        let span = tracing::info_span!(
            "request",
            id = %request_id,
            listener = listener.label(),
            method = %method,
            path = %request.uri().path(),
        );
        let started = Instant::now();
        let mut response = next.run(request).instrument(span.clone()).await;
        let elapsed = started.elapsed();
        if let Ok(value) = HeaderValue::from_str(&request_id) {
            response.headers_mut().insert(REQUEST_ID, value);
        }
        let route = matched
            .as_ref()
            .or_else(|| response.extensions().get::<MatchedPath>())
            .map_or_else(|| "unmatched".to_string(), |path| path.as_str().to_string());
        span.in_scope(|| {
            tracing::info!(
                status = response.status().as_u16(),
                route = %route,
                ms = elapsed.as_secs_f64() * 1000.0,
                "answered"
            );
        });
        self.inner
            .durations
            .get_or_create(&RouteLabels {
                listener: listener.label(),
                route: route.clone(),
                method: method.clone(),
            })
            .observe(elapsed.as_secs_f64());
        self.inner
            .requests
            .get_or_create(&RequestLabels {
                listener: listener.label(),
                route,
                method,
                status: response.status().as_u16(),
            })
            .inc();
        response
    }

    /// Counts each member sign-in outcome the members engine records.
    pub fn sign_in_observer(&self) -> vestibule_members::SignInObserver {
        let sign_ins = self.inner.sign_ins.clone();
        Arc::new(move |source: &str, outcome: &str| {
            sign_ins
                .get_or_create(&SignInLabels {
                    source: source.to_string(),
                    outcome: outcome.to_string(),
                })
                .inc();
        })
    }

    /// Counts each certificate order this node places at the CA.
    pub fn order_observer(&self) -> vestibule_provisioning::OrderObserver {
        let orders = self.inner.certificate_orders.clone();
        Box::new(move || {
            orders.inc();
        })
    }

    /// The exposition, with the database's figures read now.
    async fn render(&self, store: &Store, now: Timestamp) -> Result<String, String> {
        let expiries = store
            .certificate_expiries()
            .await
            .map_err(|e| e.to_string())?;
        let queue = store.job_queue(now).await.map_err(|e| e.to_string())?;
        let outbox = store.outbox_counts().await.map_err(|e| e.to_string())?;
        for (state, value) in [
            ("pending", outbox.pending),
            ("retrying", outbox.retrying),
            ("sent", outbox.sent),
            ("failed", outbox.failed),
        ] {
            self.inner
                .mail
                .get_or_create(&QueueLabels { state })
                .set(value);
        }
        // Released domains disappear from the figures instead of lingering.
        self.inner.certificate_days.clear();
        for (domain, not_after) in expiries {
            let days = (not_after - now).0 as f64 / 86_400.0;
            self.inner
                .certificate_days
                .get_or_create(&DomainLabels { domain })
                .set(days);
        }
        // Apps deleted or given new certificates disappear from the figures too.
        self.inner.sp_certificate_days.clear();
        for (cloud_id, record) in store.every_saml_app().await.map_err(|e| e.to_string())? {
            let Ok(app) = vestibule_saml::SamlApp::from_record(record) else {
                continue;
            };
            for (used, not_after) in app.certificate_expiries() {
                let labels = SpCertificateLabels {
                    cloud_id: cloud_id.clone(),
                    app: app.app_id.clone(),
                    certificate: used.as_str().to_string(),
                };
                let days = (not_after - now).0 as f64 / 86_400.0;
                self.inner
                    .sp_certificate_days
                    .get_or_create(&labels)
                    .set(days);
            }
        }
        self.inner.metadata_failing.clear();
        for (cloud_id, subscription) in store
            .every_saml_metadata_subscription()
            .await
            .map_err(|e| e.to_string())?
        {
            let labels = AppLabels {
                cloud_id,
                app: subscription.app_id,
            };
            let failing = i64::from(subscription.failure.is_some());
            self.inner
                .metadata_failing
                .get_or_create(&labels)
                .set(failing);
        }
        for (state, value) in [("waiting", queue.waiting), ("running", queue.running)] {
            self.inner
                .jobs
                .get_or_create(&QueueLabels { state })
                .set(value);
        }
        let mut text = String::new();
        encode(&mut text, &self.inner.registry).map_err(|e| e.to_string())?;
        Ok(text)
    }
}

/// Copies the route an inner router matched into the response, for [`Metrics::track`] on an
/// outer router that dispatches before routes are matched (the tenant edge, by host).
pub async fn report_route(request: Request, next: Next) -> Response {
    let matched = request.extensions().get::<MatchedPath>().cloned();
    let mut response = next.run(request).await;
    if let Some(path) = matched {
        response.extensions_mut().insert(path);
    }
    response
}

#[derive(Clone)]
struct OperatorState {
    metrics: Metrics,
    store: Store,
}

/// `/metrics`, `/healthz` (the process answers) and `/readyz` (and its database does).
pub fn operator_router(metrics: Metrics, store: Store) -> Router {
    Router::new()
        .route("/metrics", get(scrape))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .with_state(OperatorState { metrics, store })
}

async fn scrape(State(state): State<OperatorState>) -> Response {
    match state.metrics.render(&state.store, Timestamp::now()).await {
        Ok(text) => (
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(error) => {
            tracing::warn!(%error, "metrics could not be read from the database");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "the database does not answer\n",
            )
                .into_response()
        }
    }
}

async fn ready(State(state): State<OperatorState>) -> Response {
    match state.store.ping().await {
        Ok(()) => "ready\n".into_response(),
        Err(error) => {
            tracing::warn!(%error, "not ready: the database does not answer");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "the database does not answer\n",
            )
                .into_response()
        }
    }
}
