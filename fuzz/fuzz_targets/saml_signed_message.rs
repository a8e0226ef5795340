//! A signed message as it reaches `/saml/sso` or `/saml/slo` from an app with a certificate:
//! the signature's shape check, then libxmlsec1 on its restricted context. Any input must end
//! in a `RequestProblem` or a verified element: never a panic, a hang, a file or a socket
//! opened (run under `strace -f -e trace=openat,connect` to watch for the last two).

#![no_main]

use libfuzzer_sys::fuzz_target;
use vestibule_saml::{decode_post, inspect_signature, verified_element, SignatureShape};

/// Any certificate will do: what is fuzzed is everything before the signature value matters.
const CERTIFICATE: &[u8] = include_bytes!("../corpus/sp-certificate.der");

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for xml in [Some(text.to_string()), decode_post(text).ok()]
        .into_iter()
        .flatten()
    {
        if inspect_signature(&xml) == Ok(SignatureShape::Enveloped) {
            let _ = verified_element(&xml, CERTIFICATE);
        }
    }
});
