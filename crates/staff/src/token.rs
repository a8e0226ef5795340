use rand::distributions::{Alphanumeric, DistString};

pub use vestibule_secrets::token::{random_token, token_hash};

/// A random password for `vestibule staff add` when none is given: 24 letters and digits
/// (about 143 bits).
pub fn generate_password() -> String {
    Alphanumeric.sample_string(&mut rand::rngs::OsRng, 24)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_passwords_are_long_letters_and_digits() {
        let (a, b) = (generate_password(), generate_password());
        assert_eq!(a.len(), 24);
        assert_ne!(a, b);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric()));
    }
}
