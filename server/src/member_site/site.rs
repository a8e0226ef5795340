//! The member site's request context: which tenant a request's host names (and how that is
//! remembered), the branded site it gets, the signed-in member, and the responses every
//! handler shares (a branded page, `403` for a form from elsewhere, `503`).

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, Extensions, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use cookie::SameSite;
use vestibule_domain::{ClientAddress, CloudId, SiteAddress, Tenant, Timestamp};
use vestibule_members::{IdentitySource, MemberSession, Members};
use vestibule_settings::TenantSettings;
use vestibule_storage::Store;

use super::pages::{self, Branding, Page};
use crate::cookies;

/// The session cookie: `__Host-` pins it to this exact host over a secure connection.
/// `SameSite=Lax` keeps it off other sites' requests.
pub(crate) const SESSION_COOKIE: &str = "__Host-vestibule_member";

/// Test domains (`*.localhost`, plain HTTP) and the names the edge serves them on.
#[derive(Debug, Clone, Default)]
pub struct TestDomains {
    by_name: BTreeMap<String, CloudId>,
}

impl TestDomains {
    pub fn new(pairs: impl IntoIterator<Item = (String, CloudId)>) -> Self {
        Self {
            by_name: pairs.into_iter().collect(),
        }
    }

    pub fn cloud_id(&self, name: &str) -> Option<&CloudId> {
        self.by_name.get(name)
    }

    /// The test domain a tenant is reachable on, if any.
    pub fn name_of(&self, cloud_id: &CloudId) -> Option<&str> {
        self.by_name
            .iter()
            .find(|(_, id)| *id == cloud_id)
            .map(|(name, _)| name.as_str())
    }
}

/// Where the member site is reachable, for links and Login Redirect URLs.
#[derive(Debug, Clone)]
pub struct SiteAddresses {
    pub test_domains: Arc<TestDomains>,
    pub http_port: u16,
    pub https_port: u16,
}

impl SiteAddresses {
    /// The origin of a tenant's site: its test domain over HTTP, or its domain over HTTPS.
    pub fn origin(&self, cloud_id: &CloudId, domain: Option<&str>) -> Option<String> {
        if let Some(domain) = domain {
            let port = match self.https_port {
                443 => String::new(),
                port => format!(":{port}"),
            };
            return Some(format!("https://{domain}{port}"));
        }
        let name = self.test_domains.name_of(cloud_id)?;
        let port = match self.http_port {
            80 => String::new(),
            port => format!(":{port}"),
        };
        Some(format!("http://{name}{port}"))
    }
}

#[derive(Clone)]
pub struct MemberSite {
    pub store: Store,
    pub members: Members,
    pub settings: TenantSettings,
    pub oidc: crate::OidcEngines,
    pub saml: vestibule_saml::SamlIdp,
    /// Where member sign-in outcomes per application are written down.
    pub audit: vestibule_audit::AuditLog,
    /// Each app's latest protocol exchanges, for its admins.
    pub recorder: vestibule_recorder::FlightRecorder,
    /// The installation's key: opens the dashboard's test sign-in links.
    pub secret: vestibule_secrets::SecretKey,
    /// Sends directory members their password-reset links; `None` without an SMTP server.
    pub mail: Option<vestibule_mail::Outbox>,
    pub addresses: SiteAddresses,
    /// Shared by every clone, so all of this node's listeners remember the same answers.
    pub recent_tenants: Arc<RecentTenants>,
}

/// Which tenant a host names, remembered for [`TENANT_HELD`]: every request to a tenant
/// domain asks it first, and the answer only changes when a domain is released or claimed (or
/// a tenant renamed), which then reaches every node within those seconds.
#[derive(Default)]
pub struct RecentTenants {
    by_host: std::sync::Mutex<HashMap<(bool, String), HeldTenant>>,
}

/// A host's tenant, which of its addresses the host is, and when that was read.
type HeldTenant = (Tenant, SiteAddress, Instant);

const TENANT_HELD: Duration = Duration::from_secs(5);
/// Past this many hosts the memory starts over.
const HOSTS_HELD: usize = 10_000;

impl RecentTenants {
    fn get(&self, https: bool, host: &str) -> Option<(Tenant, SiteAddress)> {
        let held = self.by_host.lock().ok()?;
        let (tenant, address, at) = held.get(&(https, host.to_string()))?;
        (at.elapsed() < TENANT_HELD).then(|| (tenant.clone(), address.clone()))
    }

    fn put(&self, https: bool, host: String, tenant: &Tenant, address: &SiteAddress) {
        if let Ok(mut held) = self.by_host.lock() {
            if held.len() >= HOSTS_HELD {
                held.clear();
            }
            let entry = (tenant.clone(), address.clone(), Instant::now());
            held.insert((https, host), entry);
        }
    }
}

/// A request's tenant, the origin its site is reached at (also the OIDC issuer) and which of
/// the tenant's addresses that is (an app is served on its own domain only).
pub(crate) struct Located {
    pub(crate) tenant: Tenant,
    pub(crate) origin: String,
    pub(crate) address: SiteAddress,
}

#[derive(Clone)]
pub(crate) struct Site {
    pub(crate) tenant: Tenant,
    /// `https://<domain>` (or a test domain's `http://` origin): also the OIDC issuer.
    pub(crate) origin: String,
    /// Which of the tenant's addresses this is: apps bound to another are not served here.
    pub(crate) address: SiteAddress,
    pub(crate) branding: Branding,
    pub(crate) source: IdentitySource,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scheme {
    Http,
    Https,
}

#[derive(Clone)]
pub(crate) struct SiteState {
    pub(crate) site: MemberSite,
    pub(crate) scheme: Scheme,
}

/// The host name a request was sent to, without the port, if it is a plausible DNS name.
pub(crate) fn request_host(headers: &HeaderMap) -> Option<String> {
    let host = headers.get(header::HOST)?.to_str().ok()?;
    let name = host.rsplit_once(':').map_or(host, |(name, port)| {
        if port.chars().all(|c| c.is_ascii_digit()) {
            name
        } else {
            host
        }
    });
    let valid = !name.is_empty()
        && name.len() <= 253
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    valid.then(|| name.to_ascii_lowercase())
}

impl SiteState {
    /// The tenant this request's host belongs to and its site's origin, or the response to
    /// send instead. What machine-to-machine endpoints need: no branding.
    pub(crate) async fn located(&self, headers: &HeaderMap) -> Result<Located, Response> {
        let Some(host) = request_host(headers) else {
            return Err((StatusCode::BAD_REQUEST, "This request names no host.").into_response());
        };
        let store = &self.site.store;
        let addresses = &self.site.addresses;
        let https = self.scheme == Scheme::Https;
        let found = match self.site.recent_tenants.get(https, &host) {
            Some(found) => Some(found),
            None => {
                let found = match self.scheme {
                    Scheme::Http => match addresses.test_domains.cloud_id(&host) {
                        Some(cloud_id) => store
                            .tenant_by_cloud_id(cloud_id)
                            .await
                            .map(|found| found.map(|tenant| (tenant, SiteAddress::TestDomain))),
                        None => Ok(None),
                    },
                    Scheme::Https => store.tenant_by_domain_name(&host).await,
                }
                .map_err(|error| unavailable(&error))?;
                if let Some((tenant, address)) = &found {
                    let recent = &self.site.recent_tenants;
                    recent.put(https, host.clone(), tenant, address);
                }
                found
            }
        };
        let Some((tenant, address)) = found else {
            // The TLS layer only completes handshakes for names we serve; a Host header naming
            // another one is a misdirected request.
            return Err((
                StatusCode::MISDIRECTED_REQUEST,
                "This address is not served here.",
            )
                .into_response());
        };
        let origin = match self.scheme {
            Scheme::Https => addresses.origin(&tenant.cloud_id, Some(&host)),
            Scheme::Http => addresses.origin(&tenant.cloud_id, None),
        }
        .unwrap_or_default();
        Ok(Located {
            tenant,
            origin,
            address,
        })
    }

    /// The tenant with what its pages need: branding and how members sign in.
    pub(crate) async fn site(&self, headers: &HeaderMap) -> Result<Site, Response> {
        let Located {
            tenant,
            origin,
            address,
        } = self.located(headers).await?;
        let settings = self
            .site
            .settings
            .get(tenant.id)
            .await
            .map_err(|error| unavailable(&error))?;
        let logo_version = self
            .site
            .members
            .logo_version(tenant.id)
            .await
            .map_err(|error| unavailable(&error))?;
        let branding = Branding {
            name: if settings.brand_name.is_empty() {
                tenant.display_name.clone()
            } else {
                settings.brand_name.clone()
            },
            colour: settings.brand_colour.clone(),
            sign_in_text: settings.sign_in_text.clone(),
            support_contact: settings.support_contact.clone(),
            logo_version: logo_version.map(|at| at.0),
            imis_sign_out: (settings.identity_source == IdentitySource::Imis)
                .then(|| settings.imis_sign_out())
                .flatten(),
            password_reset: settings.identity_source == IdentitySource::Directory
                && self.site.mail.is_some(),
        };
        Ok(Site {
            source: settings.identity_source,
            tenant,
            origin,
            address,
            branding,
        })
    }
}

/// A branded page with a status: what happened and what to try.
pub(crate) fn page(
    site: &Site,
    status: StatusCode,
    title: &str,
    happened: &str,
    try_next: &str,
) -> Response {
    let words = Page {
        title: title.to_string(),
        happened: happened.to_string(),
        try_next: try_next.to_string(),
    };
    (status, pages::error(&site.branding, &words)).into_response()
}

/// A handler's early answer: a response already made (this host is not served here, a
/// branded page), or a failure on our side, logged and answered `503`. Handlers return
/// `Result<Response, SiteError>` and use `?`.
pub(crate) enum SiteError {
    Respond(Box<Response>),
    Unavailable(String),
}

impl IntoResponse for SiteError {
    fn into_response(self) -> Response {
        match self {
            SiteError::Respond(response) => *response,
            SiteError::Unavailable(error) => unavailable(&error),
        }
    }
}

impl From<Response> for SiteError {
    fn from(response: Response) -> Self {
        SiteError::Respond(Box::new(response))
    }
}

/// Every engine's failure that reaches a handler unhandled is ours, not the member's.
macro_rules! unavailable_from {
    ($($error:ty),*) => {$(
        impl From<$error> for SiteError {
            fn from(error: $error) -> Self {
                SiteError::Unavailable(error.to_string())
            }
        }
    )*};
}
unavailable_from!(
    vestibule_members::MembersError,
    vestibule_oidc::OidcError,
    vestibule_saml::SamlError,
    vestibule_storage::StorageError
);

/// The request's tenant and its site's origin (no branding): for the protocol endpoints.
impl FromRequestParts<SiteState> for Located {
    type Rejection = SiteError;

    async fn from_request_parts(parts: &mut Parts, state: &SiteState) -> Result<Self, SiteError> {
        Ok(state.located(&parts.headers).await?)
    }
}

/// The request's tenant with its branding: for every page.
impl FromRequestParts<SiteState> for Site {
    type Rejection = SiteError;

    async fn from_request_parts(parts: &mut Parts, state: &SiteState) -> Result<Self, SiteError> {
        // Several extractors of one request ask: the site is looked up once.
        if let Some(site) = parts.extensions.get::<Site>() {
            return Ok(site.clone());
        }
        let site = state.site(&parts.headers).await?;
        parts.extensions.insert(site.clone());
        Ok(site)
    }
}

/// The request's site and the member signed in on it (their session and its cookie's value),
/// when there is one.
pub(crate) struct Visitor {
    pub(crate) site: Site,
    pub(crate) member: Option<(MemberSession, String)>,
}

impl Visitor {
    pub(crate) fn session(&self) -> Option<&MemberSession> {
        self.member.as_ref().map(|(session, _)| session)
    }

    pub(crate) fn session_token(&self) -> Option<&str> {
        self.member.as_ref().map(|(_, token)| token.as_str())
    }
}

impl FromRequestParts<SiteState> for Visitor {
    type Rejection = SiteError;

    async fn from_request_parts(parts: &mut Parts, state: &SiteState) -> Result<Self, SiteError> {
        let site = Site::from_request_parts(parts, state).await?;
        let member = match cookies::read(&parts.headers, SESSION_COOKIE) {
            Some(token) => state
                .site
                .members
                .session(site.tenant.id, &token, Timestamp::now())
                .await?
                .map(|session| (session, token)),
            None => None,
        };
        Ok(Visitor { site, member })
    }
}

/// A form this site sent, posted back from this site's own pages (`Origin` is the site's):
/// what may sign a member in or out, consent, or confirm. Anything else gets `403`.
pub(crate) struct FromThisSite;

impl FromRequestParts<SiteState> for FromThisSite {
    type Rejection = SiteError;

    async fn from_request_parts(parts: &mut Parts, state: &SiteState) -> Result<Self, SiteError> {
        let site = Site::from_request_parts(parts, state).await?;
        if same_origin(&site, &parts.headers) {
            Ok(FromThisSite)
        } else {
            Err(SiteError::Respond(Box::new(forbidden(&site))))
        }
    }
}

pub(crate) fn unavailable(error: &dyn std::fmt::Display) -> Response {
    tracing::error!(%error, "member site request failed");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        "Sign-in is unavailable for a moment. Please try again.",
    )
        .into_response()
}

pub(crate) fn same_origin(site: &Site, headers: &HeaderMap) -> bool {
    headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|origin| origin == site.origin)
}

/// The client's address as the listener established it (see `client_address.rs`).
pub(crate) fn client_address(request_extensions: &Extensions) -> String {
    match request_extensions.get::<ClientAddress>() {
        Some(client) => client.0.to_string(),
        None => request_extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or_else(|| "unknown".to_string(), |info| info.0.ip().to_string()),
    }
}

/// Where a SAML sign-in continues after the hosted sign-in page. Here rather than in `saml`,
/// because the sign-in audit (which `saml` uses) must recognise it too.
pub(crate) const SAML_CONTINUE: &str = "/saml/continue";

/// The hosted sign-in page for a request that needs a fresh sign-in: it shows the form even
/// to a signed-in member, and ends nothing.
pub(crate) fn sign_in_again_url(return_to: &str) -> String {
    format!("/login?again=1&return_to={}", pages::query_value(return_to))
}

pub(crate) fn forbidden(site: &Site) -> Response {
    page(
        site,
        StatusCode::FORBIDDEN,
        "This form came from another site",
        "For your safety, sign-in and sign-out only accept forms sent from this page.",
        "Open the sign-in page and try again.",
    )
}

/// `Set-Cookie` for a member's session: for the browser session, `SameSite=Lax`.
pub(crate) fn session_cookie(token: &str) -> String {
    cookies::host_only(SESSION_COOKIE, token, SameSite::Lax, None)
}

/// `Set-Cookie` that ends the session cookie.
pub(crate) fn session_cookie_removal() -> String {
    cookies::removal(SESSION_COOKIE, SameSite::Lax)
}
