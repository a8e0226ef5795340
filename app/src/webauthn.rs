//! The browser's half of a passkey ceremony. The server sends WebAuthn options as JSON; the
//! browser's own parsers (`PublicKeyCredential.parseCreationOptionsFromJSON` and
//! `parseRequestOptionsFromJSON`) turn them into what `navigator.credentials` takes, and the
//! credential's `toJSON()` is what goes back. Called through `Reflect`, so the front-end needs
//! no bindings beyond those it has.

use js_sys::{Function, Object, Promise, Reflect, JSON};
use web_sys::wasm_bindgen::{JsCast, JsValue};

/// Creates a passkey with the options of `begin_passkey`; the new credential as JSON.
pub async fn create(options: &str) -> Result<String, String> {
    ceremony("parseCreationOptionsFromJSON", "create", options).await
}

/// Asks for a passkey with the options of a sign-in; the assertion as JSON.
pub async fn get(options: &str) -> Result<String, String> {
    ceremony("parseRequestOptionsFromJSON", "get", options).await
}

const UNSUPPORTED: &str =
    "This browser cannot use passkeys here. Use a current browser, or your authenticator app.";

async fn ceremony(parser: &str, method: &str, options: &str) -> Result<String, String> {
    let window: JsValue = web_sys::window().ok_or(UNSUPPORTED)?.into();
    let class = Reflect::get(&window, &"PublicKeyCredential".into()).map_err(|_| UNSUPPORTED)?;
    let parse: Function = Reflect::get(&class, &parser.into())
        .ok()
        .and_then(|f| f.dyn_into().ok())
        .ok_or(UNSUPPORTED)?;
    let options =
        JSON::parse(options).map_err(|_| "The server's passkey options did not parse.")?;
    let public_key = parse.call1(&class, &options).map_err(described)?;
    let request = Object::new();
    Reflect::set(&request, &"publicKey".into(), &public_key).map_err(described)?;
    let navigator = Reflect::get(&window, &"navigator".into()).map_err(described)?;
    let credentials = Reflect::get(&navigator, &"credentials".into()).map_err(described)?;
    let call: Function = Reflect::get(&credentials, &method.into())
        .ok()
        .and_then(|f| f.dyn_into().ok())
        .ok_or(UNSUPPORTED)?;
    let promise: Promise = call
        .call1(&credentials, &request)
        .map_err(described)?
        .dyn_into()
        .map_err(described)?;
    let credential = wasm_bindgen_futures::JsFuture::from(promise)
        .await
        .map_err(described)?;
    let to_json: Function = Reflect::get(&credential, &"toJSON".into())
        .ok()
        .and_then(|f| f.dyn_into().ok())
        .ok_or(UNSUPPORTED)?;
    let json = to_json.call0(&credential).map_err(described)?;
    JSON::stringify(&json).map(String::from).map_err(described)
}

/// What went wrong, in words: the browser's DOMException names say whether the person
/// cancelled, the authenticator already had this account, or something else failed.
fn described(error: JsValue) -> String {
    let name = Reflect::get(&error, &"name".into())
        .ok()
        .and_then(|n| n.as_string())
        .unwrap_or_default();
    match name.as_str() {
        "NotAllowedError" | "AbortError" => {
            "The passkey request was cancelled or timed out. Try again.".to_string()
        }
        "InvalidStateError" => {
            "This authenticator already has a passkey for your account.".to_string()
        }
        "SecurityError" => {
            "The browser refused passkeys on this address (it needs https or localhost)."
                .to_string()
        }
        _ => {
            let message = Reflect::get(&error, &"message".into())
                .ok()
                .and_then(|m| m.as_string())
                .unwrap_or_else(|| "unknown error".to_string());
            format!("The passkey request failed: {message}")
        }
    }
}
