use vestibule_domain::{TenantId, Timestamp};

use crate::store::with_pool;
use crate::{Result, Store};

/// A tenant's Settings as stored. Secrets are sealed; an empty string means "not set".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsRecord {
    pub imis_base_url: String,
    pub oidc_client_id: String,
    pub oidc_client_secret_sealed: String,
    pub oidc_sso_page: String,
    pub saml_client_id: String,
    pub saml_client_secret_sealed: String,
    pub saml_sso_page: String,
    pub api_username: String,
    pub api_password_sealed: String,
    pub profile_iqa: String,
    pub brand_name: String,
    pub brand_colour: String,
    pub sign_in_text: String,
    pub support_contact: String,
    /// `imis` or `directory`: where members sign in.
    pub identity_source: String,
    /// Where members sign out of iMIS itself; empty when not named.
    pub imis_sign_out_url: String,
    pub updated_at: Timestamp,
}

impl SettingsRecord {
    /// Settings with nothing set yet.
    pub fn empty(updated_at: Timestamp) -> Self {
        Self {
            imis_base_url: String::new(),
            oidc_client_id: String::new(),
            oidc_client_secret_sealed: String::new(),
            oidc_sso_page: String::new(),
            saml_client_id: String::new(),
            saml_client_secret_sealed: String::new(),
            saml_sso_page: String::new(),
            api_username: String::new(),
            api_password_sealed: String::new(),
            profile_iqa: String::new(),
            brand_name: String::new(),
            brand_colour: String::new(),
            sign_in_text: String::new(),
            support_contact: String::new(),
            identity_source: "imis".to_string(),
            imis_sign_out_url: String::new(),
            updated_at,
        }
    }
}

const FIELDS: &str = "imis_base_url, oidc_client_id, oidc_client_secret_sealed, oidc_sso_page, \
     saml_client_id, saml_client_secret_sealed, saml_sso_page, api_username, api_password_sealed, \
     profile_iqa, brand_name, brand_colour, sign_in_text, support_contact, identity_source, \
     imis_sign_out_url, updated_at";

#[derive(sqlx::FromRow)]
struct SettingsRow {
    imis_base_url: String,
    oidc_client_id: String,
    oidc_client_secret_sealed: String,
    oidc_sso_page: String,
    saml_client_id: String,
    saml_client_secret_sealed: String,
    saml_sso_page: String,
    api_username: String,
    api_password_sealed: String,
    profile_iqa: String,
    brand_name: String,
    brand_colour: String,
    sign_in_text: String,
    support_contact: String,
    identity_source: String,
    imis_sign_out_url: String,
    updated_at: i64,
}

impl From<SettingsRow> for SettingsRecord {
    fn from(row: SettingsRow) -> Self {
        Self {
            imis_base_url: row.imis_base_url,
            oidc_client_id: row.oidc_client_id,
            oidc_client_secret_sealed: row.oidc_client_secret_sealed,
            oidc_sso_page: row.oidc_sso_page,
            saml_client_id: row.saml_client_id,
            saml_client_secret_sealed: row.saml_client_secret_sealed,
            saml_sso_page: row.saml_sso_page,
            api_username: row.api_username,
            api_password_sealed: row.api_password_sealed,
            profile_iqa: row.profile_iqa,
            brand_name: row.brand_name,
            brand_colour: row.brand_colour,
            sign_in_text: row.sign_in_text,
            support_contact: row.support_contact,
            identity_source: row.identity_source,
            imis_sign_out_url: row.imis_sign_out_url,
            updated_at: Timestamp(row.updated_at),
        }
    }
}

impl Store {
    /// The tenant's Settings, or `None` before they were first saved.
    pub async fn tenant_settings(&self, tenant: TenantId) -> Result<Option<SettingsRecord>> {
        let row: Option<SettingsRow> = with_pool!(self, pool => {
            sqlx::query_as(&format!("SELECT {FIELDS} FROM tenant_settings WHERE tenant_id = $1"))
                .bind(tenant.0)
                .fetch_optional(pool)
                .await?
        });
        Ok(row.map(SettingsRecord::from))
    }

    /// Saves the tenant's Settings, all fields at once.
    pub async fn put_tenant_settings(
        &self,
        tenant: TenantId,
        record: &SettingsRecord,
    ) -> Result<()> {
        with_pool!(self, pool => {
            sqlx::query(&format!(
                "INSERT INTO tenant_settings (tenant_id, {FIELDS}) VALUES ($1, $2, $3, $4, $5, \
                 $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18) ON CONFLICT (tenant_id) DO \
                 UPDATE SET imis_base_url = excluded.imis_base_url, \
                 oidc_client_id = excluded.oidc_client_id, \
                 oidc_client_secret_sealed = excluded.oidc_client_secret_sealed, \
                 oidc_sso_page = excluded.oidc_sso_page, saml_client_id = excluded.saml_client_id, \
                 saml_client_secret_sealed = excluded.saml_client_secret_sealed, \
                 saml_sso_page = excluded.saml_sso_page, api_username = excluded.api_username, \
                 api_password_sealed = excluded.api_password_sealed, \
                 profile_iqa = excluded.profile_iqa, brand_name = excluded.brand_name, \
                 brand_colour = excluded.brand_colour, sign_in_text = excluded.sign_in_text, \
                 support_contact = excluded.support_contact, \
                 identity_source = excluded.identity_source, \
                 imis_sign_out_url = excluded.imis_sign_out_url, updated_at = excluded.updated_at"
            ))
            .bind(tenant.0)
            .bind(&record.imis_base_url)
            .bind(&record.oidc_client_id)
            .bind(&record.oidc_client_secret_sealed)
            .bind(&record.oidc_sso_page)
            .bind(&record.saml_client_id)
            .bind(&record.saml_client_secret_sealed)
            .bind(&record.saml_sso_page)
            .bind(&record.api_username)
            .bind(&record.api_password_sealed)
            .bind(&record.profile_iqa)
            .bind(&record.brand_name)
            .bind(&record.brand_colour)
            .bind(&record.sign_in_text)
            .bind(&record.support_contact)
            .bind(&record.identity_source)
            .bind(&record.imis_sign_out_url)
            .bind(record.updated_at.0)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Writes down the outcome of a Test connection (`passed`, at `at`), or forgets it
    /// (`None`) when the connection it tested was changed. Nothing happens before Settings
    /// were first saved: there is no connection to test then.
    pub async fn record_imis_check(
        &self,
        tenant: TenantId,
        outcome: Option<(Timestamp, bool)>,
    ) -> Result<()> {
        with_pool!(self, pool => {
            sqlx::query(
                "UPDATE tenant_settings SET imis_checked_at = $2, imis_check_passed = $3 \
                 WHERE tenant_id = $1",
            )
            .bind(tenant.0)
            .bind(outcome.map(|(at, _)| at.0))
            .bind(outcome.is_some_and(|(_, passed)| passed))
            .execute(pool)
            .await?;
        });
        Ok(())
    }
}
