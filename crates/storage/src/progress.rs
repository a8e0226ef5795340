//! How far a tenant has come in getting its associations' members signed in: read in one
//! query from the tables that hold each step, for the getting-started checklist and the
//! operators' tenant list.

use vestibule_domain::{TenantId, Timestamp};

use crate::store::with_pool;
use crate::{Result, Store};

/// What a tenant has set up, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantProgressRecord {
    /// The SSO domain and its state (`provisioning`, `online`, `offline`, `failed`), once
    /// claimed.
    pub domain: Option<(String, String)>,
    /// `imis` or `directory` (`imis` before Settings were first saved).
    pub identity_source: String,
    /// Whether an iMIS address is saved.
    pub imis_configured: bool,
    /// The last Test connection since the connection last changed: when, and whether every
    /// step passed.
    pub imis_check: Option<(Timestamp, bool)>,
    /// Members in the built-in directory.
    pub directory_members: i64,
    pub oidc_apps: i64,
    pub saml_apps: i64,
    /// The newest successful member sign-in.
    pub last_sign_in: Option<Timestamp>,
}

type ProgressRow = (
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<bool>,
    i64,
    i64,
    i64,
    Option<i64>,
);

impl Store {
    /// How far `tenant` has come; every step unset for a tenant that does not exist.
    pub async fn tenant_progress(&self, tenant: TenantId) -> Result<TenantProgressRecord> {
        // Subqueries rather than joins: each counts its own table, and the newest sign-in
        // walks the audit log's (tenant_id, id) index backwards to the first success.
        let row: ProgressRow = with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT d.name, d.state, s.identity_source, s.imis_base_url, \
                 s.imis_checked_at, s.imis_check_passed, \
                 (SELECT COUNT(*) FROM directory_members m WHERE m.tenant_id = $1), \
                 (SELECT COUNT(*) FROM oidc_clients c WHERE c.tenant_id = $1), \
                 (SELECT COUNT(*) FROM saml_apps a WHERE a.tenant_id = $1), \
                 (SELECT e.at FROM audit_events e WHERE e.tenant_id = $1 \
                  AND e.action = 'sign_in.succeeded' ORDER BY e.id DESC LIMIT 1) \
                 FROM (SELECT $1 AS id) t \
                 LEFT JOIN domains d ON d.tenant_id = t.id \
                 LEFT JOIN tenant_settings s ON s.tenant_id = t.id",
            )
            .bind(tenant.0)
            .fetch_one(pool)
            .await?
        });
        let (name, state, source, base_url, checked_at, passed, members, oidc, saml, signed_in) =
            row;
        Ok(TenantProgressRecord {
            domain: name.zip(state),
            identity_source: source.unwrap_or_else(|| "imis".to_string()),
            imis_configured: base_url.is_some_and(|url| !url.is_empty()),
            imis_check: checked_at.map(|at| (Timestamp(at), passed.unwrap_or(false))),
            directory_members: members,
            oidc_apps: oidc,
            saml_apps: saml,
            last_sign_in: signed_in.map(Timestamp),
        })
    }
}
