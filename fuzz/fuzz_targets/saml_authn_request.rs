//! An AuthnRequest as it reaches `/saml/sso`: the raw query of the HTTP-Redirect binding
//! (base64 of raw DEFLATE), the form field of the HTTP-POST binding (base64), or the XML itself.
//! Any input must give an answer or a `RequestProblem`: never a panic, a hang or a blow-up.

#![no_main]

use libfuzzer_sys::fuzz_target;
use vestibule_saml::{
    decode_post, decode_redirect, parse_authn_request, relay_state, RedirectQuery,
};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = parse_authn_request(text);
    let query = RedirectQuery::parse(text);
    if let Some(value) = query.get("SAMLRequest") {
        if let Ok(xml) = decode_redirect(&value) {
            let _ = parse_authn_request(&xml);
        }
    }
    let _ = relay_state(query.get("RelayState").as_deref());
    if let Ok(xml) = decode_post(text) {
        let _ = parse_authn_request(&xml);
    }
});
