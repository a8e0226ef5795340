//! Staff second factors: the authenticator app's sealed secret, recovery codes, passkeys,
//! sign-ins waiting for a second factor, and a Cloud ID's rule that its admins must have one.

use sqlx::Connection;
use vestibule_domain::{StaffId, TenantId, Timestamp};

use crate::store::with_pool;
use crate::{Result, Store};

/// An authenticator app as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TotpRecord {
    pub sealed_secret: String,
    /// The newest step a code was accepted for.
    pub last_step: i64,
    pub created_at: Timestamp,
    /// `None` while the staff member is still setting it up.
    pub confirmed_at: Option<Timestamp>,
}

/// What a request needs to know about a staff member's second factor in one round trip.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SecondFactorState {
    /// A confirmed authenticator app.
    pub authenticator_app: bool,
    pub passkeys: i64,
    /// Their Cloud ID requires one (always false for operators).
    pub required_by_tenant: bool,
}

impl SecondFactorState {
    /// Whether a right password alone no longer signs them in.
    pub fn enrolled(&self) -> bool {
        self.authenticator_app || self.passkeys > 0
    }
}

/// A staff member's passkey as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyRecord {
    pub id: i64,
    pub staff: StaffId,
    /// Base64url, as authenticators name it.
    pub credential_id: String,
    pub name: String,
    /// webauthn-rs's record of it, as JSON.
    pub passkey: String,
    pub created_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
}

type PasskeyRow = (i64, i64, String, String, String, i64, Option<i64>);

fn passkey_record(row: PasskeyRow) -> PasskeyRecord {
    let (id, staff, credential_id, name, passkey, created_at, last_used_at) = row;
    PasskeyRecord {
        id,
        staff: StaffId(staff),
        credential_id,
        name,
        passkey,
        created_at: Timestamp(created_at),
        last_used_at: last_used_at.map(Timestamp),
    }
}

type TotpRow = (String, i64, i64, Option<i64>);

impl Store {
    /// Starts setting up an authenticator app: stores its secret unconfirmed, replacing an
    /// unfinished one. False when a confirmed app exists (it must be removed first).
    pub async fn begin_staff_totp(
        &self,
        staff: StaffId,
        sealed_secret: &str,
        now: Timestamp,
    ) -> Result<bool> {
        let changed = with_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO staff_totp (staff_id, sealed_secret, created_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (staff_id) DO UPDATE SET sealed_secret = $2, created_at = $3, \
                 last_step = 0 WHERE staff_totp.confirmed_at IS NULL",
            )
            .bind(staff.0)
            .bind(sealed_secret)
            .bind(now.0)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(changed == 1)
    }

    pub async fn staff_totp(&self, staff: StaffId) -> Result<Option<TotpRecord>> {
        let row: Option<TotpRow> = with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT sealed_secret, last_step, created_at, confirmed_at FROM staff_totp \
                 WHERE staff_id = $1",
            )
            .bind(staff.0)
            .fetch_optional(pool)
            .await?
        });
        Ok(row.map(
            |(sealed_secret, last_step, created_at, confirmed_at)| TotpRecord {
                sealed_secret,
                last_step,
                created_at: Timestamp(created_at),
                confirmed_at: confirmed_at.map(Timestamp),
            },
        ))
    }

    /// Confirms an app being set up, with the step its first code matched, and stores its
    /// recovery codes (replacing any). False when there was nothing unconfirmed to confirm.
    pub async fn confirm_staff_totp(
        &self,
        staff: StaffId,
        step: i64,
        recovery_code_hashes: &[String],
        now: Timestamp,
    ) -> Result<bool> {
        let confirmed = with_pool!(self, pool => {
            let mut connection = pool.acquire().await?;
            let mut tx = connection.begin().await?;
            let confirmed = sqlx::query(
                "UPDATE staff_totp SET confirmed_at = $1, last_step = $2 \
                 WHERE staff_id = $3 AND confirmed_at IS NULL",
            )
            .bind(now.0)
            .bind(step)
            .bind(staff.0)
            .execute(&mut *tx)
            .await?
            .rows_affected()
                == 1;
            if confirmed {
                sqlx::query("DELETE FROM staff_recovery_codes WHERE staff_id = $1")
                    .bind(staff.0)
                    .execute(&mut *tx)
                    .await?;
                for hash in recovery_code_hashes {
                    sqlx::query(
                        "INSERT INTO staff_recovery_codes (staff_id, code_hash) VALUES ($1, $2)",
                    )
                    .bind(staff.0)
                    .bind(hash)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
            }
            confirmed
        });
        Ok(confirmed)
    }

    /// Records that a code for `step` was used: true only when `step` is later than every step
    /// used before, so of two requests with the same code only one succeeds.
    pub async fn use_totp_step(&self, staff: StaffId, step: i64) -> Result<bool> {
        let changed = with_pool!(self, pool => {
            sqlx::query(
                "UPDATE staff_totp SET last_step = $1 \
                 WHERE staff_id = $2 AND last_step < $1 AND confirmed_at IS NOT NULL",
            )
            .bind(step)
            .bind(staff.0)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(changed == 1)
    }

    /// Uses up a recovery code; true when it was one of the staff member's unused codes.
    pub async fn use_recovery_code(&self, staff: StaffId, code_hash: &str) -> Result<bool> {
        let deleted = with_pool!(self, pool => {
            sqlx::query("DELETE FROM staff_recovery_codes WHERE staff_id = $1 AND code_hash = $2")
                .bind(staff.0)
                .bind(code_hash)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(deleted == 1)
    }

    pub async fn recovery_codes_left(&self, staff: StaffId) -> Result<i64> {
        Ok(with_pool!(self, pool => {
            sqlx::query_scalar("SELECT COUNT(*) FROM staff_recovery_codes WHERE staff_id = $1")
                .bind(staff.0)
                .fetch_one(pool)
                .await?
        }))
    }

    /// Removes a staff member's authenticator app and recovery codes; false when they had none.
    pub async fn delete_staff_totp(&self, staff: StaffId) -> Result<bool> {
        let deleted = with_pool!(self, pool => {
            let mut connection = pool.acquire().await?;
            let mut tx = connection.begin().await?;
            sqlx::query("DELETE FROM staff_recovery_codes WHERE staff_id = $1")
                .bind(staff.0)
                .execute(&mut *tx)
                .await?;
            let deleted = sqlx::query("DELETE FROM staff_totp WHERE staff_id = $1")
                .bind(staff.0)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            tx.commit().await?;
            deleted
        });
        Ok(deleted == 1)
    }

    /// Whether a staff member has a confirmed app and whether their Cloud ID requires one.
    pub async fn second_factor_state(
        &self,
        staff: StaffId,
        tenant: Option<TenantId>,
    ) -> Result<SecondFactorState> {
        let (app, passkeys, required): (i64, i64, bool) = with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT (SELECT COUNT(*) FROM staff_totp \
                         WHERE staff_id = $1 AND confirmed_at IS NOT NULL), \
                        (SELECT COUNT(*) FROM staff_passkeys WHERE staff_id = $1), \
                        COALESCE((SELECT require_second_factor FROM tenants WHERE id = $2), FALSE)",
            )
            .bind(staff.0)
            .bind(tenant.map(|t| t.0))
            .fetch_one(pool)
            .await?
        });
        Ok(SecondFactorState {
            authenticator_app: app > 0,
            passkeys,
            required_by_tenant: required,
        })
    }

    pub async fn set_tenant_requires_second_factor(
        &self,
        tenant: TenantId,
        required: bool,
    ) -> Result<()> {
        with_pool!(self, pool => {
            sqlx::query("UPDATE tenants SET require_second_factor = $1 WHERE id = $2")
                .bind(required)
                .bind(tenant.0)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    // --- passkeys -------------------------------------------------------------------------------

    /// Stores a new passkey; a credential already registered (to anyone) is a conflict.
    pub async fn insert_staff_passkey(
        &self,
        staff: StaffId,
        credential_id: &str,
        name: &str,
        passkey: &str,
        now: Timestamp,
    ) -> Result<i64> {
        Ok(with_pool!(self, pool => {
            sqlx::query_scalar(
                "INSERT INTO staff_passkeys (staff_id, credential_id, name, passkey, created_at) \
                 VALUES ($1, $2, $3, $4, $5) RETURNING id",
            )
            .bind(staff.0)
            .bind(credential_id)
            .bind(name)
            .bind(passkey)
            .bind(now.0)
            .fetch_one(pool)
            .await?
        }))
    }

    /// A staff member's passkeys, oldest first.
    pub async fn staff_passkeys(&self, staff: StaffId) -> Result<Vec<PasskeyRecord>> {
        let rows: Vec<PasskeyRow> = with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT id, staff_id, credential_id, name, passkey, created_at, last_used_at \
                 FROM staff_passkeys WHERE staff_id = $1 ORDER BY id",
            )
            .bind(staff.0)
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().map(passkey_record).collect())
    }

    /// Records a sign-in with a passkey: its updated record (signature counter, backup state)
    /// and when.
    pub async fn record_staff_passkey_use(
        &self,
        id: i64,
        passkey: &str,
        now: Timestamp,
    ) -> Result<()> {
        with_pool!(self, pool => {
            sqlx::query("UPDATE staff_passkeys SET passkey = $1, last_used_at = $2 WHERE id = $3")
                .bind(passkey)
                .bind(now.0)
                .bind(id)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Removes one of a staff member's passkeys; false when they have none by that id.
    pub async fn delete_staff_passkey(&self, staff: StaffId, id: i64) -> Result<bool> {
        let deleted = with_pool!(self, pool => {
            sqlx::query("DELETE FROM staff_passkeys WHERE staff_id = $1 AND id = $2")
                .bind(staff.0)
                .bind(id)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(deleted == 1)
    }

    /// Removes every passkey of a staff member; how many there were.
    pub async fn delete_staff_passkeys(&self, staff: StaffId) -> Result<u64> {
        Ok(with_pool!(self, pool => {
            sqlx::query("DELETE FROM staff_passkeys WHERE staff_id = $1")
                .bind(staff.0)
                .execute(pool)
                .await?
                .rows_affected()
        }))
    }

    // --- sign-ins waiting for the second factor ------------------------------------------------

    pub async fn insert_sign_in_challenge(
        &self,
        token_hash: &str,
        staff: StaffId,
        now: Timestamp,
        expires_at: Timestamp,
    ) -> Result<()> {
        with_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO staff_sign_in_challenges (token_hash, staff_id, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(token_hash)
            .bind(staff.0)
            .bind(now.0)
            .bind(expires_at.0)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Who a live challenge is for, without using it up (a wrong code may be corrected).
    pub async fn sign_in_challenge(
        &self,
        token_hash: &str,
        now: Timestamp,
    ) -> Result<Option<StaffId>> {
        let id: Option<i64> = with_pool!(self, pool => {
            sqlx::query_scalar(
                "SELECT staff_id FROM staff_sign_in_challenges \
                 WHERE token_hash = $1 AND expires_at > $2",
            )
            .bind(token_hash)
            .bind(now.0)
            .fetch_optional(pool)
            .await?
        });
        Ok(id.map(StaffId))
    }

    /// Uses a challenge up (and sweeps expired ones); true when it was still there.
    pub async fn take_sign_in_challenge(&self, token_hash: &str, now: Timestamp) -> Result<bool> {
        let taken = with_pool!(self, pool => {
            let taken = sqlx::query(
                "DELETE FROM staff_sign_in_challenges WHERE token_hash = $1 AND expires_at > $2",
            )
            .bind(token_hash)
            .bind(now.0)
            .execute(pool)
            .await?
            .rows_affected();
            sqlx::query("DELETE FROM staff_sign_in_challenges WHERE expires_at <= $1")
                .bind(now.0)
                .execute(pool)
                .await?;
            taken
        });
        Ok(taken == 1)
    }
}
