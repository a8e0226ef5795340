//! SAML service providers registered by a tenant.

use vestibule_domain::{TenantId, Timestamp};

use crate::store::with_pool;
use crate::{Result, Store};

/// A SAML app as stored; `settings` is the engine's JSON document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SamlAppRecord {
    pub id: i64,
    pub tenant: TenantId,
    pub app_id: String,
    pub name: String,
    pub entity_id: String,
    pub settings: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

type AppRow = (i64, i64, String, String, String, String, i64, i64);

fn app(row: AppRow) -> SamlAppRecord {
    let (id, tenant, app_id, name, entity_id, settings, created_at, updated_at) = row;
    SamlAppRecord {
        id,
        tenant: TenantId(tenant),
        app_id,
        name,
        entity_id,
        settings,
        created_at: Timestamp(created_at),
        updated_at: Timestamp(updated_at),
    }
}

const APP_COLUMNS: &str =
    "id, tenant_id, app_id, name, entity_id, settings, created_at, updated_at FROM saml_apps";

impl Store {
    /// Stores a new app; an entity id the tenant already registered is a
    /// [`crate::Conflict::SamlEntityId`].
    pub async fn insert_saml_app(&self, record: &SamlAppRecord) -> Result<SamlAppRecord> {
        let id: i64 = with_pool!(self, pool => {
            sqlx::query_scalar(
                "INSERT INTO saml_apps (tenant_id, app_id, name, entity_id, settings, created_at, \
                 updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
            )
            .bind(record.tenant.0)
            .bind(&record.app_id)
            .bind(&record.name)
            .bind(&record.entity_id)
            .bind(&record.settings)
            .bind(record.created_at.0)
            .bind(record.updated_at.0)
            .fetch_one(pool)
            .await?
        });
        Ok(SamlAppRecord {
            id,
            ..record.clone()
        })
    }

    pub async fn saml_apps(&self, tenant: TenantId) -> Result<Vec<SamlAppRecord>> {
        let sql = format!("SELECT {APP_COLUMNS} WHERE tenant_id = $1 ORDER BY name, id");
        let rows: Vec<AppRow> = with_pool!(self, pool => {
            sqlx::query_as(&sql).bind(tenant.0).fetch_all(pool).await?
        });
        Ok(rows.into_iter().map(app).collect())
    }

    /// Every tenant's SAML apps, with the tenant's Cloud ID: what the operator's metrics read.
    pub async fn every_saml_app(&self) -> Result<Vec<(String, SamlAppRecord)>> {
        let sql = format!("SELECT {APP_COLUMNS} ORDER BY tenant_id, name, id");
        let rows: Vec<AppRow> = with_pool!(self, pool => {
            sqlx::query_as(&sql).fetch_all(pool).await?
        });
        let cloud_ids: Vec<(i64, String)> = with_pool!(self, pool => {
            sqlx::query_as("SELECT id, cloud_id FROM tenants").fetch_all(pool).await?
        });
        let cloud_id = |tenant: TenantId| {
            cloud_ids
                .iter()
                .find(|(id, _)| *id == tenant.0)
                .map(|(_, cloud_id)| cloud_id.clone())
                .unwrap_or_default()
        };
        Ok(rows
            .into_iter()
            .map(app)
            .map(|record| (cloud_id(record.tenant), record))
            .collect())
    }

    pub async fn saml_app(&self, tenant: TenantId, app_id: &str) -> Result<Option<SamlAppRecord>> {
        let sql = format!("SELECT {APP_COLUMNS} WHERE tenant_id = $1 AND app_id = $2");
        let row: Option<AppRow> = with_pool!(self, pool => {
            sqlx::query_as(&sql).bind(tenant.0).bind(app_id).fetch_optional(pool).await?
        });
        Ok(row.map(app))
    }

    /// The app a request's `Issuer` names.
    pub async fn saml_app_by_entity_id(
        &self,
        tenant: TenantId,
        entity_id: &str,
    ) -> Result<Option<SamlAppRecord>> {
        let sql = format!("SELECT {APP_COLUMNS} WHERE tenant_id = $1 AND entity_id = $2");
        let row: Option<AppRow> = with_pool!(self, pool => {
            sqlx::query_as(&sql).bind(tenant.0).bind(entity_id).fetch_optional(pool).await?
        });
        Ok(row.map(app))
    }

    /// Saves an edited app; says whether it existed.
    pub async fn update_saml_app(&self, record: &SamlAppRecord) -> Result<bool> {
        let affected = with_pool!(self, pool => {
            sqlx::query(
                "UPDATE saml_apps SET name = $1, entity_id = $2, settings = $3, updated_at = $4 \
                 WHERE tenant_id = $5 AND app_id = $6",
            )
            .bind(&record.name)
            .bind(&record.entity_id)
            .bind(&record.settings)
            .bind(record.updated_at.0)
            .bind(record.tenant.0)
            .bind(&record.app_id)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(affected == 1)
    }

    pub async fn delete_saml_app(&self, tenant: TenantId, app_id: &str) -> Result<bool> {
        let affected = with_pool!(self, pool => {
            sqlx::query("DELETE FROM saml_apps WHERE tenant_id = $1 AND app_id = $2")
                .bind(tenant.0)
                .bind(app_id)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(affected == 1)
    }
}
