//! Time-based one-time passwords (RFC 6238 over RFC 4226's HOTP): the second factor an
//! authenticator app on the staff member's phone computes from a shared secret and the clock.
//!
//! HMAC-SHA-1 with 6 digits and 30-second steps is what every authenticator app implements by
//! default; SHA-1's collision weakness does not touch HMAC. A code is accepted for the step
//! before and after the current one (clock drift), and never twice: the step it matched is
//! remembered and only later steps are accepted afterwards.

use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};
use subtle::ConstantTimeEq;
use vestibule_domain::Timestamp;

/// Seconds per step.
pub const STEP: i64 = 30;
/// Digits per code.
pub const DIGITS: u32 = 6;

/// The shared secret: 160 bits, as RFC 4226 recommends for HMAC-SHA-1.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpSecret([u8; 20]);

impl std::fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpSecret(…)")
    }
}

impl TotpSecret {
    pub fn generate() -> Self {
        let mut bytes = [0u8; 20];
        // The system RNG failing is not recoverable and happens only on a broken host.
        #[allow(clippy::expect_used)]
        SystemRandom::new()
            .fill(&mut bytes)
            .expect("the system random number generator works");
        Self(bytes)
    }

    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(Self)
    }

    /// The secret from its base32 form (any case, spaces ignored), as an app would read it.
    pub fn from_base32(text: &str) -> Option<Self> {
        let mut bytes = Vec::with_capacity(20);
        let (mut buffer, mut bits) = (0u32, 0u32);
        for c in text.chars().filter(|c| !c.is_whitespace() && *c != '=') {
            let value = match c.to_ascii_uppercase() {
                letter @ 'A'..='Z' => letter as u32 - 'A' as u32,
                digit @ '2'..='7' => digit as u32 - '2' as u32 + 26,
                _ => return None,
            };
            buffer = (buffer << 5) | value;
            bits += 5;
            if bits >= 8 {
                bits -= 8;
                bytes.push(u8::try_from((buffer >> bits) & 0xff).ok()?);
            }
        }
        Self::from_bytes(&bytes)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The secret as people type it into an app: base32 (RFC 4648) in groups of four.
    pub fn base32_grouped(&self) -> String {
        let plain = base32(&self.0);
        plain
            .as_bytes()
            .chunks(4)
            .map(|chunk| String::from_utf8_lossy(chunk).into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The `otpauth://` URI authenticator apps read from a QR code (Google Authenticator's
    /// key URI format, which every app follows).
    pub fn otpauth_uri(&self, issuer: &str, account: &str) -> String {
        let encode = |text: &str| percent_encode(text);
        format!(
            "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP}",
            encode(issuer),
            encode(account),
            base32(&self.0),
            encode(issuer),
        )
    }

    /// The code for a step, as the number RFC 4226 §5.3 truncates to `digits`.
    fn hotp(&self, counter: u64, digits: u32) -> u32 {
        let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &self.0);
        let tag = hmac::sign(&key, &counter.to_be_bytes());
        let mac = tag.as_ref();
        let offset = usize::from(mac[mac.len() - 1] & 0x0f);
        let binary = (u32::from(mac[offset]) & 0x7f) << 24
            | u32::from(mac[offset + 1]) << 16
            | u32::from(mac[offset + 2]) << 8
            | u32::from(mac[offset + 3]);
        binary % 10u32.pow(digits)
    }

    /// The code an app shows at `at`, zero-padded.
    pub fn code_at(&self, at: Timestamp) -> String {
        let step = step_of(at);
        format!(
            "{:0width$}",
            self.hotp(step, DIGITS),
            width = DIGITS as usize
        )
    }

    /// The step `code` is valid for at `now` (the current one, or one either side), if it is
    /// later than `last_used`; `None` otherwise. Spaces in the code are ignored.
    pub fn verify(&self, code: &str, now: Timestamp, last_used: i64) -> Option<i64> {
        let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
        if code.len() != DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let current = now.0.div_euclid(STEP);
        let mut matched = None;
        // Every candidate is compared, in constant time, so timing does not say which matched.
        for step in [current - 1, current, current + 1] {
            let Ok(counter) = u64::try_from(step) else {
                continue;
            };
            let expected = format!(
                "{:0width$}",
                self.hotp(counter, DIGITS),
                width = DIGITS as usize
            );
            let equal: bool = expected.as_bytes().ct_eq(code.as_bytes()).into();
            if equal && step > last_used {
                matched = Some(step);
            }
        }
        matched
    }
}

fn step_of(at: Timestamp) -> u64 {
    u64::try_from(at.0.div_euclid(STEP)).unwrap_or(0)
}

/// RFC 4648 base32 without padding (what otpauth URIs carry).
pub(crate) fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &byte in bytes {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((buffer >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

fn percent_encode(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~' | b'@') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B, HMAC-SHA-1 column: the seed is the ASCII of "12345678901234567890",
    /// codes are 8 digits.
    #[test]
    fn rfc_6238_test_vectors() {
        let secret = TotpSecret::from_bytes(b"12345678901234567890").unwrap();
        for (time, code) in [
            (59_i64, 94_287_082_u32),
            (1_111_111_109, 7_081_804),
            (1_111_111_111, 14_050_471),
            (1_234_567_890, 89_005_924),
            (2_000_000_000, 69_279_037),
            (20_000_000_000, 65_353_130),
        ] {
            assert_eq!(secret.hotp(step_of(Timestamp(time)), 8), code, "T = {time}");
        }
        // The six-digit codes apps show are the same numbers' last six digits.
        assert_eq!(secret.code_at(Timestamp(59)), "287082");
        assert_eq!(secret.code_at(Timestamp(1_111_111_109)), "081804");
    }

    /// RFC 4226 Appendix D: HOTP values for counters 0 to 9.
    #[test]
    fn rfc_4226_test_vectors() {
        let secret = TotpSecret::from_bytes(b"12345678901234567890").unwrap();
        let expected = [
            755_224, 287_082, 359_152, 969_429, 338_314, 254_676, 287_922, 162_583, 399_871,
            520_489,
        ];
        for (counter, code) in expected.into_iter().enumerate() {
            assert_eq!(secret.hotp(counter as u64, 6), code);
        }
    }

    #[test]
    fn a_code_is_accepted_one_step_either_side_and_never_twice() {
        let secret = TotpSecret::from_bytes(b"12345678901234567890").unwrap();
        let now = Timestamp(1_111_111_111);
        let step = now.0 / STEP;
        let code = secret.code_at(now);
        assert_eq!(secret.verify(&code, now, 0), Some(step));
        assert_eq!(
            secret.verify(&format!("{} {}", &code[..3], &code[3..]), now, 0),
            Some(step)
        );
        assert_eq!(secret.verify(&code, Timestamp(now.0 + STEP), 0), Some(step));
        assert_eq!(secret.verify(&code, Timestamp(now.0 - STEP), 0), Some(step));
        assert_eq!(secret.verify(&code, Timestamp(now.0 + 2 * STEP), 0), None);
        assert_eq!(
            secret.verify(&code, now, step),
            None,
            "a used step is not accepted again"
        );
        assert_eq!(secret.verify("12345", now, 0), None);
        assert_eq!(secret.verify("abcdef", now, 0), None);
    }

    #[test]
    fn base32_and_the_uri_match_what_apps_expect() {
        // RFC 4648 §10.
        assert_eq!(base32(b"foobar"), "MZXW6YTBOI");
        assert_eq!(base32(b"f"), "MY");
        let secret = TotpSecret::from_bytes(b"12345678901234567890").unwrap();
        assert_eq!(
            base32(secret.as_bytes()),
            "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
        );
        assert_eq!(
            secret.base32_grouped(),
            "GEZD GNBV GY3T QOJQ GEZD GNBV GY3T QOJQ"
        );
        assert_eq!(
            TotpSecret::from_base32(&secret.base32_grouped().to_lowercase()),
            Some(secret.clone())
        );
        assert_eq!(TotpSecret::from_base32("not base32!"), None);
        assert_eq!(
            secret.otpauth_uri("Vestibule (dashboard.example.org)", "ops@example.org"),
            "otpauth://totp/Vestibule%20%28dashboard.example.org%29:ops@example.org?\
             secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Vestibule%20%28dashboard.example.org%29\
             &algorithm=SHA1&digits=6&period=30"
        );
    }
}
