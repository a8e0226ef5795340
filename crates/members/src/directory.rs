//! The built-in member directory, managed by the tenant's admins in the dashboard.

use vestibule_domain::{Email, InvalidInput, Seconds, TenantId, Timestamp};
use vestibule_secrets::token::{random_token, token_hash};
use vestibule_storage::{Conflict, DirectoryMemberRecord, MemberResetRecord, StorageError};

use crate::{Members, MembersError};

/// A member to add, as the dashboard's form sends it.
#[derive(Debug, Clone, Default)]
pub struct NewDirectoryMember {
    pub username: String,
    pub email: String,
    pub given_name: String,
    pub family_name: String,
    pub password: String,
}

/// A directory member as the dashboard lists them: never the password hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryMember {
    pub id: i64,
    /// The `sub` applications know the member by.
    pub subject: String,
    pub username: String,
    pub email: String,
    pub given_name: String,
    pub family_name: String,
    pub created_at: Timestamp,
}

impl From<DirectoryMemberRecord> for DirectoryMember {
    fn from(record: DirectoryMemberRecord) -> Self {
        Self {
            id: record.id,
            subject: record.subject,
            username: record.username,
            email: record.email,
            given_name: record.given_name,
            family_name: record.family_name,
            created_at: record.created_at,
        }
    }
}

/// Usernames are compared without regard to case or surrounding spaces.
pub(crate) fn normalise_username(username: &str) -> String {
    username.trim().to_lowercase()
}

fn check_username(username: &str) -> Result<(), InvalidInput> {
    let ok = (1..=64).contains(&username.chars().count())
        && username
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '@' | '+'));
    if ok {
        Ok(())
    } else {
        Err(InvalidInput::new(
            "username",
            "A username is 1 to 64 letters, digits, and . _ - @ +, without spaces.",
        ))
    }
}

fn check_name(field: &'static str, value: &str) -> Result<String, InvalidInput> {
    let value = value.trim();
    if value.chars().count() > 100 || value.chars().any(char::is_control) {
        return Err(InvalidInput::new(
            field,
            "A name is at most 100 characters on one line.",
        ));
    }
    Ok(value.to_string())
}

impl Members {
    pub async fn directory(&self, tenant: TenantId) -> Result<Vec<DirectoryMember>, MembersError> {
        Ok(self
            .store
            .directory_members(tenant)
            .await?
            .into_iter()
            .map(DirectoryMember::from)
            .collect())
    }

    /// Adds a member with an initial password (argon2id, at least 12 characters).
    pub async fn add_directory_member(
        &self,
        tenant: TenantId,
        new: NewDirectoryMember,
        now: Timestamp,
    ) -> Result<DirectoryMember, MembersError> {
        let username = normalise_username(&new.username);
        check_username(&username)?;
        let email = Email::parse(&new.email)?;
        let given_name = check_name("given_name", &new.given_name)?;
        let family_name = check_name("family_name", &new.family_name)?;
        let password_hash = self.hasher.hash(&new.password).await?;
        let record = DirectoryMemberRecord {
            id: 0,
            tenant,
            // Opaque and new: a `sub` is never reassigned (OpenID Connect Core §2), so a later
            // member with this username is someone else to every application.
            subject: format!("directory:{}", vestibule_secrets::token::random_token()),
            username,
            email: email.to_string(),
            given_name,
            family_name,
            password_hash,
            created_at: now,
            updated_at: now,
        };
        match self.store.insert_directory_member(&record).await {
            Ok(record) => {
                tracing::info!(tenant = tenant.0, member = %record.username, "directory member added");
                Ok(record.into())
            }
            Err(StorageError::Conflict(Conflict::MemberUsername)) => Err(InvalidInput::new(
                "username",
                "A member with this username already exists.",
            )
            .into()),
            Err(error) => Err(error.into()),
        }
    }

    /// Sets a new password for one of the tenant's members.
    pub async fn set_directory_password(
        &self,
        tenant: TenantId,
        id: i64,
        password: &str,
        now: Timestamp,
    ) -> Result<(), MembersError> {
        let hash = self.hasher.hash(password).await?;
        if self
            .store
            .set_directory_password(tenant, id, &hash, now)
            .await?
        {
            Ok(())
        } else {
            Err(MembersError::NotFound)
        }
    }

    /// Removes one of the tenant's members, ends their sessions and revokes their tokens.
    pub async fn remove_directory_member(
        &self,
        tenant: TenantId,
        id: i64,
        now: Timestamp,
    ) -> Result<(), MembersError> {
        if self.store.delete_directory_member(tenant, id, now).await? {
            Ok(())
        } else {
            Err(MembersError::NotFound)
        }
    }

    // --- forgotten passwords -------------------------------------------------------------------

    /// "Forgot password", first half: the members of the tenant's directory known by `who` (a
    /// username, or an e-mail address several members may share); empty when nobody matches.
    /// The caller answers the same either way, and makes a link with
    /// [`Members::password_reset_link`] only for a member it can mail at once, since a new link
    /// replaces the one sent before.
    pub async fn members_known_as(
        &self,
        tenant: TenantId,
        who: &str,
    ) -> Result<Vec<DirectoryMember>, MembersError> {
        let who = who.trim();
        let by_username = || async {
            Ok::<_, MembersError>(
                self.store
                    .directory_member_by_username(tenant, &normalise_username(who))
                    .await?
                    .into_iter()
                    .collect::<Vec<_>>(),
            )
        };
        let members = if who.contains('@') {
            let by_email = match Email::parse(who) {
                Ok(email) => {
                    self.store
                        .directory_members_by_email(tenant, email.as_str())
                        .await?
                }
                Err(_) => Vec::new(),
            };
            if by_email.is_empty() {
                // Usernames may contain @ too.
                by_username().await?
            } else {
                by_email
            }
        } else {
            by_username().await?
        };
        Ok(members.into_iter().map(DirectoryMember::from).collect())
    }

    /// "Forgot password", first half: takes one of the client address's
    /// [`crate::MemberPolicy::reset_requests_per_address`] requests this window, or answers how long
    /// to wait. Each request may mail someone, so one address cannot make the server write to
    /// every member; any number arriving at once take at most the limit.
    pub async fn take_reset_request(
        &self,
        tenant: TenantId,
        client: &str,
        now: Timestamp,
    ) -> Result<Result<(), Seconds>, MembersError> {
        let bucket = format!("member-reset-address:{}:{client}", tenant.0);
        let (limit, window) = (
            self.policy.reset_requests_per_address,
            self.policy.failure_window,
        );
        let taken = self.store.take_place(&bucket, limit, window, now).await?;
        Ok(taken.map(|_| ()))
    }

    /// "Forgot password", second half: a reset link for `member`, replacing the links sent to
    /// them before, valid for [`Policy::reset_link_lifetime`].
    pub async fn password_reset_link(
        &self,
        tenant: TenantId,
        member: &DirectoryMember,
        now: Timestamp,
    ) -> Result<String, MembersError> {
        let token = random_token();
        self.store
            .replace_member_reset_token(&MemberResetRecord {
                token_hash: token_hash(&token),
                tenant,
                member_id: member.id,
                created_at: now,
                expires_at: now + self.policy.reset_link_lifetime,
            })
            .await?;
        tracing::info!(tenant = tenant.0, member = %member.username, "password reset link made");
        Ok(token)
    }

    /// The member a live reset link is for, without using it up (the page that asks for the
    /// new password names them).
    pub async fn reset_link_member(
        &self,
        tenant: TenantId,
        token: &str,
        now: Timestamp,
    ) -> Result<DirectoryMember, MembersError> {
        let id = self
            .store
            .member_reset_token(tenant, &token_hash(token), now)
            .await?
            .ok_or(MembersError::ResetLinkInvalid)?;
        self.store
            .directory_member_by_id(tenant, id)
            .await?
            .map(DirectoryMember::from)
            .ok_or(MembersError::ResetLinkInvalid)
    }

    /// Uses a reset link: sets the member's new password, which ends their sessions and
    /// revokes the tokens the old one opened. A password too short to use leaves the link
    /// working, so the member can try again.
    pub async fn reset_password(
        &self,
        tenant: TenantId,
        token: &str,
        password: &str,
        now: Timestamp,
    ) -> Result<DirectoryMember, MembersError> {
        let member = self.reset_link_member(tenant, token, now).await?;
        let hash = self.hasher.hash(password).await?;
        let id = self
            .store
            .take_member_reset_token(tenant, &token_hash(token), now)
            .await?
            .ok_or(MembersError::ResetLinkInvalid)?;
        if !self
            .store
            .set_directory_password(tenant, id, &hash, now)
            .await?
        {
            return Err(MembersError::ResetLinkInvalid);
        }
        tracing::info!(tenant = tenant.0, member = %member.username, "password reset");
        Ok(member)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_plain_and_case_insensitive() {
        assert_eq!(normalise_username("  Jane.Doe "), "jane.doe");
        assert!(check_username("jane.doe@acme").is_ok());
        assert!(check_username("").is_err());
        assert!(check_username("jane doe").is_err());
        assert!(check_username("<script>").is_err());
        assert!(check_username(&"x".repeat(65)).is_err());
    }
}
