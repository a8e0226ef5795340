//! `application/x-www-form-urlencoded` bodies and query strings, as browsers and applications
//! send them. Included with `#[path = "support/form.rs"] mod form_encoding;` by the tests that
//! post forms.

/// One value, percent-encoded (RFC 3986 unreserved characters stay).
pub fn urlencode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `key=value&…` with the values encoded (the keys are the tests' own plain names).
pub fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", urlencode(v)))
        .collect::<Vec<_>>()
        .join("&")
}
