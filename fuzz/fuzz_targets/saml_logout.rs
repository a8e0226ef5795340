//! LogoutRequests and LogoutResponses as they reach `/saml/slo`, by either binding or as XML.
//! Any input must give an answer or a `RequestProblem`: never a panic, a hang or a blow-up.

#![no_main]

use libfuzzer_sys::fuzz_target;
use vestibule_saml::{
    decode_post, decode_redirect, parse_logout_request, parse_logout_response, RedirectQuery,
};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = parse_logout_request(text);
    let _ = parse_logout_response(text);
    let query = RedirectQuery::parse(text);
    for field in ["SAMLRequest", "SAMLResponse"] {
        if let Some(xml) = query
            .get(field)
            .and_then(|value| decode_redirect(&value).ok())
        {
            let _ = parse_logout_request(&xml);
            let _ = parse_logout_response(&xml);
        }
    }
    if let Ok(xml) = decode_post(text) {
        let _ = parse_logout_request(&xml);
        let _ = parse_logout_response(&xml);
    }
});
