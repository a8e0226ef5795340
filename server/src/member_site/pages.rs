//! The HTML of the hosted member pages. Plain server-rendered HTML with one stylesheet: these
//! pages must work without JavaScript, on any phone, on the tenant's own domain.

use axum::response::Html;
use vestibule_members::{Member, MemberSession};

/// How a tenant's pages look, from their Settings.
#[derive(Debug, Clone)]
pub struct Branding {
    pub name: String,
    /// A validated `#rrggbb`, or empty for the default.
    pub colour: String,
    pub sign_in_text: String,
    pub support_contact: String,
    /// When the logo was last changed, if there is one: busts caches on change.
    pub logo_version: Option<i64>,
}

/// An error page's words: what happened and what to try.
pub struct Page {
    pub title: String,
    pub happened: String,
    pub try_next: String,
}

pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// The shared stylesheet with the tenant's colour.
pub fn stylesheet(branding: &Branding) -> String {
    let mut css = include_str!("../../../style/member.css").to_string();
    let valid = branding.colour.len() == 7
        && branding.colour.starts_with('#')
        && branding.colour[1..].chars().all(|c| c.is_ascii_hexdigit());
    if valid {
        css.push_str(&format!(":root {{ --brand: {}; }}\n", branding.colour));
    }
    css
}

fn frame(branding: &Branding, title: &str, body: &str) -> Html<String> {
    let name = escape(&branding.name);
    let logo = match branding.logo_version {
        Some(version) => format!("<img src=\"/branding/logo?v={version}\" alt=\"{name}\">"),
        None => String::new(),
    };
    let support = if branding.support_contact.is_empty() {
        String::new()
    } else {
        format!(
            "<footer class=\"muted\">Need help? Contact {}.</footer>",
            escape(&branding.support_contact)
        )
    };
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · {name}</title><link rel=\"stylesheet\" href=\"/branding/site.css\">\
         </head><body><main><header class=\"brand\">{logo}<span>{name}</span></header>\
         {body}{support}</main></body></html>",
        title = escape(title),
    ))
}

fn sign_in_text(branding: &Branding) -> String {
    branding
        .sign_in_text
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| format!("<p>{}</p>", escape(line)))
        .collect()
}

/// What stays as it is in a query-string value: RFC 3986's unreserved characters, and `/`
/// (so a `return_to` path stays readable).
const QUERY_VALUE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');

/// Percent-encodes a query-string value.
pub(crate) fn query_value(value: &str) -> String {
    percent_encoding::utf8_percent_encode(value, QUERY_VALUE).to_string()
}

/// Why the sign-in page is shown to a member who is signed in: an application asked for a
/// fresh sign-in. Their session stays until they sign in again.
fn again_notice(signed_in_as: Option<&str>) -> String {
    signed_in_as
        .map(|name| {
            format!(
                "<p class=\"notice\" role=\"status\">The application asks you to sign in again. \
                 You are still signed in as {}; nothing changes until you do.</p>",
                escape(name)
            )
        })
        .unwrap_or_default()
}

/// Sign-in for tenants on iMIS: one button to the membership site's sign-in.
pub fn imis_login(
    branding: &Branding,
    return_to: &str,
    signed_in_as: Option<&str>,
) -> Html<String> {
    let body = format!(
        "<h1>Sign in</h1>{again}{text}<p>You sign in with your {name} account on the membership site, \
         then come straight back here.</p>\
         <a class=\"button\" href=\"/login/imis?return_to={return_to}\">Sign in with your {name} \
         account</a>",
        again = again_notice(signed_in_as),
        text = sign_in_text(branding),
        name = escape(&branding.name),
        return_to = query_value(return_to),
    );
    frame(branding, "Sign in", &body)
}

/// Sign-in for tenants on the member directory: username and password.
pub fn password_login(
    branding: &Branding,
    return_to: &str,
    error: Option<&str>,
    signed_in_as: Option<&str>,
) -> Html<String> {
    let error = error
        .map(|message| format!("<p class=\"error\" role=\"alert\">{}</p>", escape(message)))
        .unwrap_or_default();
    let body = format!(
        "<h1>Sign in</h1>{error}{again}{text}<form method=\"post\" action=\"/login\">\
         <input type=\"hidden\" name=\"return_to\" value=\"{return_to}\">\
         <label for=\"username\">Username</label>\
         <input type=\"text\" id=\"username\" name=\"username\" autocomplete=\"username\" \
         autocapitalize=\"none\" spellcheck=\"false\" required>\
         <label for=\"password\">Password</label>\
         <input type=\"password\" id=\"password\" name=\"password\" \
         autocomplete=\"current-password\" required>\
         <button type=\"submit\">Sign in</button></form>",
        again = again_notice(signed_in_as),
        text = sign_in_text(branding),
        return_to = escape(return_to),
    );
    frame(branding, "Sign in", &body)
}

pub fn signed_in(branding: &Branding, session: &MemberSession) -> Html<String> {
    let member = &session.member;
    let email = if member.email.is_empty() {
        String::new()
    } else {
        format!("<dt>E-mail</dt><dd>{}</dd>", escape(&member.email))
    };
    let body = format!(
        "<h1>You are signed in</h1><p>Welcome, {name}. You can now open {brand}'s event, \
         learning and community sites without signing in again.</p>\
         <dl><dt>Signed in as</dt><dd>{username}</dd>{email}<dt>Until</dt><dd>{until}</dd></dl>\
         <form method=\"post\" action=\"/logout\"><button type=\"submit\">Sign out</button></form>",
        name = escape(&member.name),
        brand = escape(&branding.name),
        username = escape(&member.username),
        until = session.expires_at.to_utc_string(),
    );
    frame(branding, "Signed in", &body)
}

pub fn signed_out(branding: &Branding) -> Html<String> {
    frame(
        branding,
        "Signed out",
        "<h1>You are signed out</h1><p>You have signed out of single sign-on on this \
         browser.</p><a class=\"button\" href=\"/login\">Sign in again</a>",
    )
}

pub fn error(branding: &Branding, page: &Page) -> Html<String> {
    let body = format!(
        "<h1>{title}</h1><p>{happened}</p><p>{try_next}</p>\
         <a class=\"button\" href=\"/login\">Go to sign-in</a>",
        title = escape(&page.title),
        happened = escape(&page.happened),
        try_next = escape(&page.try_next),
    );
    frame(branding, &page.title, &body)
}

/// RP-initiated logout without proof that the signed-in member asked: a same-origin form that
/// ends the session only when the member presses the button. `fields` are the logout
/// request's own parameters, sent back with the answer.
pub fn confirm_sign_out(
    branding: &Branding,
    member: &str,
    application: Option<&str>,
    fields: &[(&str, &str)],
) -> Html<String> {
    let asked_by = application
        .map(|name| format!(" {} asks you to sign out.", escape(name)))
        .unwrap_or_default();
    let hidden: String = fields
        .iter()
        .map(|(name, value)| {
            format!(
                "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
                escape(name),
                escape(value)
            )
        })
        .collect();
    let body = format!(
        "<h1>Sign out?</h1><p>{member}, do you want to sign out of {brand} on this browser?\
         {asked_by}</p><form method=\"post\" action=\"/oidc/logout\">{hidden}\
         <button type=\"submit\" name=\"decision\" value=\"sign_out\">Sign out</button> \
         <a class=\"button secondary\" href=\"/\">Stay signed in</a></form>",
        member = escape(member),
        brand = escape(&branding.name),
    );
    frame(branding, "Sign out?", &body)
}

/// "Continue as <name>?": an iMIS sign-in this browser did not start here, or one that would
/// replace `current`'s session. Nothing changes until the member presses a button.
pub fn confirm_sign_in(
    branding: &Branding,
    member: &Member,
    current: Option<&Member>,
    return_to: &str,
) -> Html<String> {
    let replacing = current
        .map(|current| {
            format!(
                "<p>This browser is signed in as {} ({}); continuing signs them out.</p>",
                escape(&current.name),
                escape(&current.username)
            )
        })
        .unwrap_or_default();
    let body = format!(
        "<h1>Continue as {name}?</h1><p>You are about to sign in to {brand} as <strong>{name}\
         </strong> ({username}). If you did not just sign in as this member, choose \
         Cancel.</p>{replacing}<form method=\"post\" action=\"/imis/continue\">\
         <input type=\"hidden\" name=\"return_to\" value=\"{return_to}\">\
         <button type=\"submit\" name=\"decision\" value=\"continue\">Continue as {name}</button> \
         <button type=\"submit\" name=\"decision\" value=\"cancel\" class=\"secondary\">Cancel</button>\
         </form>",
        name = escape(&member.name),
        username = escape(&member.username),
        brand = escape(&branding.name),
        return_to = escape(return_to),
    );
    frame(branding, "Continue?", &body)
}

/// The consent page: which application, what it will receive, yes or no.
pub fn consent(
    branding: &Branding,
    application: &str,
    member: &str,
    scopes: &[String],
    request: &str,
) -> Html<String> {
    let shares = if scopes.iter().any(|s| s == "profile") {
        "<li>that you are a member, with an identifier</li><li>your profile: name, e-mail \
         address and membership details</li>"
    } else {
        "<li>that you are a member, with an identifier</li>"
    };
    let body = format!(
        "<h1>Share your details?</h1><p>{member}, <strong>{application}</strong> asks to sign \
         you in with your {brand} account. It will receive:</p><ul>{shares}</ul>\
         <form method=\"post\" action=\"/oidc/consent\">\
         <input type=\"hidden\" name=\"request\" value=\"{request}\">\
         <button type=\"submit\" name=\"decision\" value=\"allow\">Allow</button> \
         <button type=\"submit\" name=\"decision\" value=\"deny\" class=\"secondary\">Deny</button>\
         </form>",
        member = escape(member),
        application = escape(application),
        brand = escape(&branding.name),
        request = escape(request),
    );
    frame(branding, "Share your details?", &body)
}

/// The SAML HTTP-POST binding's page: a form carrying the signed message to the service
/// provider, sent by `/saml/post.js` at once, or by the member's click without JavaScript.
pub fn saml_post(branding: &Branding, application: &str, message: &SamlPost<'_>) -> Html<String> {
    let relay_state = message
        .relay_state
        .map(|state| {
            format!(
                "<input type=\"hidden\" name=\"RelayState\" value=\"{}\">",
                escape(state)
            )
        })
        .unwrap_or_default();
    let body = format!(
        "<h1>Signing you in to {application}</h1>\
         <form method=\"post\" action=\"{url}\" id=\"saml-post\">\
         <input type=\"hidden\" name=\"{field}\" value=\"{value}\">{relay_state}\
         <p>If nothing happens, continue to {application}.</p>\
         <button type=\"submit\">Continue</button></form>\
         <script src=\"/saml/post.js\"></script>",
        application = escape(application),
        url = escape(message.url),
        field = escape(message.field),
        value = escape(message.value),
    );
    frame(branding, "Signing you in", &body)
}

/// What the POST page carries.
pub struct SamlPost<'a> {
    pub url: &'a str,
    pub field: &'a str,
    pub value: &'a str,
    pub relay_state: Option<&'a str>,
}
