//! One session policy for everyone who signs in: staff on the dashboard and members on a
//! tenant's domain. The two kinds of session live in different tables and carry different
//! things, but end by the same rules.

use crate::{Seconds, Timestamp};

/// How long a session lasts: it ends after `idle_timeout` without use, and `absolute_timeout`
/// after sign-in however busy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionLifetime {
    pub idle_timeout: Seconds,
    pub absolute_timeout: Seconds,
}

/// What a stored session is worth at a given moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionCheck {
    /// Past one of its timeouts: delete it and treat the visitor as signed out.
    Ended,
    /// In use. `touch` says to record this use: at most once a minute, so a page with many
    /// requests costs one write while the idle timeout still slides.
    Live { touch: bool },
}

impl SessionLifetime {
    /// How often use is written back.
    pub const TOUCH_INTERVAL: Seconds = Seconds(60);

    /// When a session started at `signed_in` ends however busy it is.
    pub fn expires_at(&self, signed_in: Timestamp) -> Timestamp {
        signed_in + self.absolute_timeout
    }

    pub fn check(
        &self,
        last_seen_at: Timestamp,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> SessionCheck {
        if expires_at <= now || last_seen_at + self.idle_timeout <= now {
            SessionCheck::Ended
        } else {
            SessionCheck::Live {
                touch: now - last_seen_at >= Self::TOUCH_INTERVAL,
            }
        }
    }

    /// Sessions last seen before this are idle past their timeout: what a sweep deletes,
    /// beside those past `expires_at`.
    pub fn idle_since(&self, now: Timestamp) -> Timestamp {
        now - self.idle_timeout
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIFETIME: SessionLifetime = SessionLifetime {
        idle_timeout: Seconds::minutes(30),
        absolute_timeout: Seconds::hours(10),
    };
    const START: Timestamp = Timestamp(1_800_000_000);

    #[test]
    fn a_session_slides_with_use_and_ends_when_idle_or_old() {
        let expires = LIFETIME.expires_at(START);
        let check = |seen: Timestamp, now: Timestamp| LIFETIME.check(seen, expires, now);
        assert_eq!(
            check(START, START + Seconds(59)),
            SessionCheck::Live { touch: false }
        );
        assert_eq!(
            check(START, START + Seconds(60)),
            SessionCheck::Live { touch: true }
        );
        let idle_end = START + LIFETIME.idle_timeout;
        assert_eq!(
            check(START, idle_end - Seconds(1)),
            SessionCheck::Live { touch: true }
        );
        assert_eq!(check(START, idle_end), SessionCheck::Ended);
        // Busy to the last minute, it still ends at the absolute timeout.
        assert_eq!(check(expires - Seconds(1), expires), SessionCheck::Ended);
        assert_eq!(LIFETIME.idle_since(idle_end), START);
    }
}
