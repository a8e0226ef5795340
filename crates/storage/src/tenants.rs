use vestibule_domain::{CloudId, SiteAddress, Tenant, TenantId, Timestamp};

use crate::store::{like_literal, with_pool};
use crate::{Result, Store};

type TenantRow = (i64, String, String, i64);

fn tenant_from_row((id, cloud_id, display_name, created_at): TenantRow) -> Result<Tenant> {
    Ok(Tenant {
        id: TenantId(id),
        cloud_id: CloudId::parse(&cloud_id)?,
        display_name,
        created_at: Timestamp(created_at),
    })
}

impl Store {
    /// Creates a tenant. A Cloud ID that is taken gives [`crate::Conflict::CloudId`].
    pub async fn create_tenant(
        &self,
        cloud_id: &CloudId,
        display_name: &str,
        now: Timestamp,
    ) -> Result<Tenant> {
        let row: TenantRow = with_pool!(self, pool => {
            sqlx::query_as(
                "INSERT INTO tenants (cloud_id, display_name, created_at) VALUES ($1, $2, $3) \
                 RETURNING id, cloud_id, display_name, created_at",
            )
            .bind(cloud_id.as_str())
            .bind(display_name)
            .bind(now.0)
            .fetch_one(pool)
            .await?
        });
        tenant_from_row(row)
    }

    pub async fn list_tenants(&self) -> Result<Vec<Tenant>> {
        let rows: Vec<TenantRow> = with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT id, cloud_id, display_name, created_at FROM tenants ORDER BY cloud_id",
            )
            .fetch_all(pool)
            .await?
        });
        rows.into_iter().map(tenant_from_row).collect()
    }

    /// The tenants whose Cloud ID or display name contains `search` (any case; all of them when
    /// it is empty), by Cloud ID, `limit` of them from `offset`; and how many match in all.
    pub async fn search_tenants(
        &self,
        search: &str,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<Tenant>, i64)> {
        let search = search.trim();
        let pattern =
            (!search.is_empty()).then(|| format!("%{}%", like_literal(&search.to_lowercase())));
        let matching = "($1 IS NULL OR LOWER(cloud_id) LIKE $1 ESCAPE '\\' \
                        OR LOWER(display_name) LIKE $1 ESCAPE '\\')";
        let (rows, total): (Vec<TenantRow>, i64) = with_pool!(self, pool => {
            let rows = sqlx::query_as(&format!(
                "SELECT id, cloud_id, display_name, created_at FROM tenants WHERE {matching} \
                 ORDER BY cloud_id LIMIT $2 OFFSET $3"
            ))
            .bind(pattern.as_deref())
            .bind(limit)
            .bind(offset)
            .fetch_all(pool)
            .await?;
            let total = sqlx::query_scalar(&format!(
                "SELECT COUNT(*) FROM tenants WHERE {matching}"
            ))
            .bind(pattern.as_deref())
            .fetch_one(pool)
            .await?;
            (rows, total)
        });
        Ok((
            rows.into_iter()
                .map(tenant_from_row)
                .collect::<Result<_>>()?,
            total,
        ))
    }

    pub async fn tenant_by_cloud_id(&self, cloud_id: &CloudId) -> Result<Option<Tenant>> {
        let row: Option<TenantRow> = with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT id, cloud_id, display_name, created_at FROM tenants WHERE cloud_id = $1",
            )
            .bind(cloud_id.as_str())
            .fetch_optional(pool)
            .await?
        });
        row.map(tenant_from_row).transpose()
    }

    pub async fn tenant_by_id(&self, tenant: TenantId) -> Result<Option<Tenant>> {
        let row: Option<TenantRow> = with_pool!(self, pool => {
            sqlx::query_as("SELECT id, cloud_id, display_name, created_at FROM tenants WHERE id = $1")
                .bind(tenant.0)
                .fetch_optional(pool)
                .await?
        });
        row.map(tenant_from_row).transpose()
    }

    /// The tenant whose SSO domain is `name` (ASCII form) while that domain is Online, in one
    /// query: what every request to a tenant domain asks first. A name still being
    /// provisioned, or one monitoring found no longer pointing at its tenant, routes nowhere. The
    /// address says whether `name` is the tenant's primary domain.
    pub async fn tenant_by_domain_name(&self, name: &str) -> Result<Option<(Tenant, SiteAddress)>> {
        let row: Option<(i64, String, String, i64, bool)> = with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT t.id, t.cloud_id, t.display_name, t.created_at, d.is_primary \
                 FROM tenants t JOIN domains d ON d.tenant_id = t.id \
                 WHERE d.name = $1 AND d.state = 'online'",
            )
            .bind(name)
            .fetch_optional(pool)
            .await?
        });
        row.map(|(id, cloud_id, display_name, created_at, primary)| {
            let tenant = tenant_from_row((id, cloud_id, display_name, created_at))?;
            let address = match primary {
                true => SiteAddress::Primary(name.to_string()),
                false => SiteAddress::Other(name.to_string()),
            };
            Ok((tenant, address))
        })
        .transpose()
    }

    /// Renames a tenant. Returns false when no tenant has that id.
    pub async fn rename_tenant(&self, tenant: TenantId, display_name: &str) -> Result<bool> {
        let affected = with_pool!(self, pool => {
            sqlx::query("UPDATE tenants SET display_name = $1 WHERE id = $2")
                .bind(display_name)
                .bind(tenant.0)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(affected == 1)
    }
}
