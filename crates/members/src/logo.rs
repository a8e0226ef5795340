//! The logo on a tenant's hosted pages: small raster images only, recognised by their bytes.

use vestibule_domain::{InvalidInput, TenantId, Timestamp};
use vestibule_storage::LogoRecord;

use crate::{Members, MembersError};

/// Large enough for a crisp header logo, small enough to serve from the database.
pub const MAX_LOGO_BYTES: usize = 256 * 1024;

/// A stored logo, ready to serve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logo {
    pub content_type: String,
    pub data: Vec<u8>,
    pub updated_at: Timestamp,
}

/// The image type, from the file's first bytes. The name and the browser's declared type are
/// not trusted; SVG is refused because it can carry scripts.
fn sniff(data: &[u8]) -> Option<&'static str> {
    if data.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if data.starts_with(&[0xff, 0xd8, 0xff]) {
        Some("image/jpeg")
    } else if data.starts_with(b"GIF87a") || data.starts_with(b"GIF89a") {
        Some("image/gif")
    } else if data.len() >= 12 && &data[..4] == b"RIFF" && &data[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

impl Members {
    /// Checks and stores the tenant's logo.
    pub async fn set_logo(
        &self,
        tenant: TenantId,
        data: Vec<u8>,
        now: Timestamp,
    ) -> Result<(), MembersError> {
        if data.is_empty() {
            return Err(InvalidInput::new("logo", "Choose an image file to upload.").into());
        }
        if data.len() > MAX_LOGO_BYTES {
            return Err(InvalidInput::new(
                "logo",
                format!(
                    "The logo is {} KB; the limit is {} KB. Save it smaller and upload it again.",
                    data.len().div_ceil(1024),
                    MAX_LOGO_BYTES / 1024
                ),
            )
            .into());
        }
        let content_type = sniff(&data).ok_or_else(|| {
            InvalidInput::new(
                "logo",
                "Upload a PNG, JPEG, GIF or WebP image. SVG is not accepted because it can \
                 carry scripts.",
            )
        })?;
        self.store
            .put_tenant_logo(
                tenant,
                &LogoRecord {
                    content_type: content_type.to_string(),
                    data,
                    updated_at: now,
                },
            )
            .await?;
        Ok(())
    }

    pub async fn logo(&self, tenant: TenantId) -> Result<Option<Logo>, MembersError> {
        Ok(self.store.tenant_logo(tenant).await?.map(|record| Logo {
            content_type: record.content_type,
            data: record.data,
            updated_at: record.updated_at,
        }))
    }

    /// When the logo was last changed, if there is one: pages link `/branding/logo?v=…` with
    /// it, so they need not read the image.
    pub async fn logo_version(&self, tenant: TenantId) -> Result<Option<Timestamp>, MembersError> {
        Ok(self.store.tenant_logo_updated_at(tenant).await?)
    }

    pub async fn remove_logo(&self, tenant: TenantId) -> Result<(), MembersError> {
        Ok(self.store.delete_tenant_logo(tenant).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_raster_images_and_refuses_the_rest() {
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n...."), Some("image/png"));
        assert_eq!(sniff(&[0xff, 0xd8, 0xff, 0xe0]), Some("image/jpeg"));
        assert_eq!(sniff(b"GIF89a..."), Some("image/gif"));
        assert_eq!(sniff(b"RIFF\0\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(sniff(b"<svg xmlns=\"http://www.w3.org/2000/svg\">"), None);
        assert_eq!(sniff(b"<html><script>"), None);
    }
}
