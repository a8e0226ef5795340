//! The HTML of the hosted member pages. Plain server-rendered HTML with one stylesheet: these
//! pages must work without JavaScript, on any phone, on the tenant's own domain. Written with
//! maud, so the markup is checked when it compiles and every value is escaped.

use axum::http::{header, HeaderValue};
use axum::response::{Html, IntoResponse, Response};
use maud::{html, Markup, DOCTYPE};
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
    /// Where members sign out of iMIS itself, when Settings name it (iMIS tenants only).
    pub imis_sign_out: Option<String>,
    /// Whether "Forgot your password?" is offered: a directory tenant on an installation that
    /// sends e-mail.
    pub password_reset: bool,
}

/// An error page's words: what happened and what to try.
pub struct Page {
    pub title: String,
    pub happened: String,
    pub try_next: String,
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

fn frame(branding: &Branding, title: &str, body: Markup) -> Html<String> {
    let name = &branding.name;
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · " (name) }
                link rel="stylesheet" href="/branding/site.css";
            }
            body {
                main {
                    header.brand {
                        @if let Some(version) = branding.logo_version {
                            img src={ "/branding/logo?v=" (version) } alt=(name);
                        }
                        span { (name) }
                    }
                    (body)
                    @if !branding.support_contact.is_empty() {
                        footer.muted { "Need help? Contact " (support_link(&branding.support_contact)) "." }
                    }
                }
            }
        }
    };
    Html(page.into_string())
}

/// The support contact as a link a member can follow: an e-mail address (mailto:), an https://
/// address, or a telephone number (tel:); anything else stays text. Only these three schemes
/// are ever written, so an admin's value cannot become a script link.
fn support_link(contact: &str) -> Markup {
    let contact = contact.trim();
    let email = contact.contains('@')
        && !contact.starts_with('@')
        && contact
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._%+-@".contains(c));
    let web = contact.starts_with("https://") && !contact.contains(char::is_whitespace);
    let digits = contact.chars().filter(char::is_ascii_digit).count();
    let phone = digits >= 7
        && contact
            .chars()
            .all(|c| c.is_ascii_digit() || " +-().".contains(c));
    if email {
        html! { a href={ "mailto:" (contact) } { (contact) } }
    } else if web {
        html! { a href=(contact) { (contact) } }
    } else if phone {
        let dial: String = contact
            .chars()
            .filter(|c| c.is_ascii_digit() || *c == '+')
            .collect();
        html! { a href={ "tel:" (dial) } { (contact) } }
    } else {
        html! { (contact) }
    }
}

fn sign_in_text(branding: &Branding) -> Markup {
    html! {
        @for line in branding.sign_in_text.lines().filter(|line| !line.trim().is_empty()) {
            p { (line) }
        }
    }
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
fn again_notice(signed_in_as: Option<&str>) -> Markup {
    html! {
        @if let Some(name) = signed_in_as {
            p.notice role="status" {
                "The application asks you to sign in again. You are still signed in as "
                (name) "; nothing changes until you do."
            }
        }
    }
}

/// Sign-in for tenants on iMIS: one button to the membership site's sign-in.
pub fn imis_login(
    branding: &Branding,
    return_to: &str,
    signed_in_as: Option<&str>,
) -> Html<String> {
    let name = &branding.name;
    let body = html! {
        h1 { "Sign in" }
        (again_notice(signed_in_as))
        (sign_in_text(branding))
        p {
            "You sign in with your " (name) " account on the membership site, then come \
             straight back here."
        }
        a.button href={ "/login/imis?return_to=" (query_value(return_to)) } {
            "Sign in with your " (name) " account"
        }
    };
    frame(branding, "Sign in", body)
}

/// Sign-in for tenants on the member directory: username and password.
pub fn password_login(
    branding: &Branding,
    return_to: &str,
    error: Option<&str>,
    signed_in_as: Option<&str>,
) -> Html<String> {
    let body = html! {
        h1 { "Sign in" }
        @if let Some(message) = error {
            p.error role="alert" { (message) }
        }
        (again_notice(signed_in_as))
        (sign_in_text(branding))
        form method="post" action="/login" {
            input type="hidden" name="return_to" value=(return_to);
            label for="username" { "Username" }
            input type="text" id="username" name="username" autocomplete="username"
                autocapitalize="none" spellcheck="false" required;
            label for="password" { "Password" }
            input type="password" id="password" name="password"
                autocomplete="current-password" required;
            button type="submit" { "Sign in" }
        }
        @if branding.password_reset {
            p.aside {
                a href={ "/password/forgot?return_to=" (query_value(return_to)) } {
                    "Forgot your password?"
                }
            }
        }
    };
    frame(branding, "Sign in", body)
}

/// Asks who forgot their password: a username, or the e-mail address on the account.
pub fn forgot_password(branding: &Branding, return_to: &str, error: Option<&str>) -> Html<String> {
    let body = html! {
        h1 { "Forgot your password?" }
        @if let Some(message) = error {
            p.error role="alert" { (message) }
        }
        p { "Enter your username or the e-mail address on your account. We will e-mail you a link to choose a new password." }
        form method="post" action="/password/forgot" {
            input type="hidden" name="return_to" value=(return_to);
            label for="who" { "Username or e-mail address" }
            input type="text" id="who" name="who" autocomplete="username"
                autocapitalize="none" spellcheck="false" required;
            button type="submit" { "Send the link" }
        }
        p.aside { a href={ "/login?return_to=" (query_value(return_to)) } { "Back to sign in" } }
    };
    frame(branding, "Forgot your password", body)
}

/// The same answer whether or not anyone matched: it must not tell who has an account.
pub fn reset_link_sent(branding: &Branding, return_to: &str) -> Html<String> {
    let body = html! {
        h1 { "Check your e-mail" }
        p role="status" {
            "If an account matches, a link to choose a new password is on its way to the e-mail \
             address on it. The link works once, for one hour."
        }
        p.aside { a href={ "/login?return_to=" (query_value(return_to)) } { "Back to sign in" } }
    };
    frame(branding, "Check your e-mail", body)
}

/// The new password form a reset link opens.
pub fn choose_password(
    branding: &Branding,
    token: &str,
    username: &str,
    error: Option<&str>,
) -> Html<String> {
    let body = html! {
        h1 { "Choose a new password" }
        @if let Some(message) = error {
            p.error role="alert" { (message) }
        }
        p { "For the username " strong { (username) } ". Choosing a new password signs you out everywhere." }
        form method="post" action="/password/reset" {
            input type="hidden" name="token" value=(token);
            label for="password" { "New password (at least 12 characters)" }
            input type="password" id="password" name="password" autocomplete="new-password"
                minlength="12" required;
            label for="confirm" { "Repeat the new password" }
            input type="password" id="confirm" name="confirm" autocomplete="new-password"
                minlength="12" required;
            button type="submit" { "Set the new password" }
        }
    };
    frame(branding, "Choose a new password", body)
}

pub fn password_changed(branding: &Branding) -> Html<String> {
    let body = html! {
        h1 { "Your password is changed" }
        p role="status" { "Sign in with your new password." }
        p { a.button href="/login" { "Sign in" } }
    };
    frame(branding, "Password changed", body)
}

/// An application on the signed-in page's launcher: its name and where its sign-in starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LauncherApp {
    pub name: String,
    pub href: String,
}

/// How long until `until`, in words that need no time zone: "8 hours", "45 minutes".
fn time_left(until: vestibule_domain::Timestamp, now: vestibule_domain::Timestamp) -> String {
    let minutes = ((until - now).0.max(0) + 59) / 60;
    let plural = |n: i64, unit: &str| format!("{n} {unit}{}", if n == 1 { "" } else { "s" });
    match minutes {
        0..=1 => "a minute".to_string(),
        2..=89 => plural(minutes, "minute"),
        _ if minutes < 36 * 60 => plural((minutes + 30) / 60, "hour"),
        _ => plural((minutes + 12 * 60) / (24 * 60), "day"),
    }
}

pub fn signed_in(
    branding: &Branding,
    session: &MemberSession,
    launcher: &[LauncherApp],
    now: vestibule_domain::Timestamp,
) -> Html<String> {
    let member = &session.member;
    let body = html! {
        h1 { "You are signed in" }
        @if launcher.is_empty() {
            p {
                "Welcome, " (member.name) ". " (branding.name) "'s sites that use single                  sign-on let you in without signing in again."
            }
        } @else {
            p { "Welcome, " (member.name) ". Open one of " (branding.name) "'s sites:" }
            ul.launcher {
                @for app in launcher {
                    li { a href=(app.href) { (app.name) } }
                }
            }
        }
        dl {
            dt { "Signed in as" }
            dd { (member.username) }
            @if !member.email.is_empty() {
                dt { "E-mail" }
                dd { (member.email) }
            }
            dt { "Signed in for" }
            dd {
                "another " (time_left(session.expires_at, now))
                " " span.muted {
                    "(until "
                    time datetime=(session.expires_at.to_string()) { (session.expires_at.to_utc_string()) }
                    ")"
                }
            }
        }
        form method="post" action="/logout" {
            button type="submit" { "Sign out" }
        }
        script src="/local-time.js" {}
    };
    frame(branding, "Signed in", body)
}

/// Rewrites each `<time>` of a page written in UTC into the viewer's own zone, keeping UTC on
/// hover; without it the page reads in UTC. Served as `/local-time.js` (the pages' policy lets
/// only scripts of the site's own run).
pub const LOCAL_TIME_SCRIPT: &str = "\
for (const time of document.querySelectorAll('time[datetime]')) {
  const at = new Date(time.getAttribute('datetime'));
  if (isNaN(at)) continue;
  time.title = time.textContent;
  time.textContent = at.toLocaleString(undefined, {
    day: 'numeric', month: 'short', year: 'numeric',
    hour: '2-digit', minute: '2-digit', timeZoneName: 'short',
  });
}
";

/// A page that runs scripts of the site's own (`/saml/post.js`, `/local-time.js`) and still
/// nothing else.
pub fn with_own_scripts(page: Html<String>) -> Response {
    let mut response = page.into_response();
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
             frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    response
}

pub fn signed_out(branding: &Branding) -> Html<String> {
    let body = html! {
        h1 { "You are signed out" }
        p { "You have signed out of single sign-on on this browser." }
        @if let Some(imis) = &branding.imis_sign_out {
            p {
                "You may still be signed in to " (branding.name) "'s member site, where you \
                 signed in with your member account. On a shared computer, sign out there too."
            }
            a.button href=(imis) { "Sign out of the member site" }
            " "
            a.button.secondary href="/login" { "Sign in again" }
        } @else {
            p.muted {
                "If you signed in with your " (branding.name) " member account on its own site, \
                 that site may still have you signed in: on a shared computer, sign out there \
                 too, or close the browser."
            }
            a.button href="/login" { "Sign in again" }
        }
    };
    frame(branding, "Signed out", body)
}

pub fn error(branding: &Branding, page: &Page) -> Html<String> {
    let body = html! {
        h1 { (page.title) }
        p { (page.happened) }
        p { (page.try_next) }
        a.button href="/login" { "Go to sign-in" }
    };
    frame(branding, &page.title, body)
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
    let body = html! {
        h1 { "Sign out?" }
        p {
            (member) ", do you want to sign out of " (branding.name) " on this browser?"
            @if let Some(application) = application {
                " " (application) " asks you to sign out."
            }
        }
        form method="post" action="/oidc/logout" {
            @for (name, value) in fields {
                input type="hidden" name=(name) value=(value);
            }
            button type="submit" name="decision" value="sign_out" { "Sign out" }
            " "
            a.button.secondary href="/" { "Stay signed in" }
        }
    };
    frame(branding, "Sign out?", body)
}

/// "Continue as <name>?": an iMIS sign-in this browser did not start here, or one that would
/// replace `current`'s session. Nothing changes until the member presses a button.
pub fn confirm_sign_in(
    branding: &Branding,
    member: &Member,
    current: Option<&Member>,
    return_to: &str,
) -> Html<String> {
    let body = html! {
        h1 { "Continue as " (member.name) "?" }
        p {
            "You are about to sign in to " (branding.name) " as " strong { (member.name) }
            " (" (member.username) "). If you did not just sign in as this member, choose Cancel."
        }
        @if let Some(current) = current {
            p {
                "This browser is signed in as " (current.name) " (" (current.username)
                "); continuing signs them out."
            }
        }
        form method="post" action="/imis/continue" {
            input type="hidden" name="return_to" value=(return_to);
            button type="submit" name="decision" value="continue" {
                "Continue as " (member.name)
            }
            " "
            button.secondary type="submit" name="decision" value="cancel" { "Cancel" }
        }
    };
    frame(branding, "Continue?", body)
}

/// The consent page: which application, what it will receive, yes or no.
pub fn consent(
    branding: &Branding,
    application: &str,
    member: &str,
    scopes: &[String],
    request: &str,
) -> Html<String> {
    let shares_profile = scopes.iter().any(|s| s == "profile");
    let body = html! {
        h1 { "Share your details?" }
        p {
            (member) ", " strong { (application) } " asks to sign you in with your "
            (branding.name) " account. It will receive:"
        }
        ul {
            li { "that you are a member, with an identifier" }
            @if shares_profile {
                li { "your profile: name, e-mail address and membership details" }
            }
        }
        form method="post" action="/oidc/consent" {
            input type="hidden" name="request" value=(request);
            button type="submit" name="decision" value="allow" { "Allow" }
            " "
            button.secondary type="submit" name="decision" value="deny" { "Deny" }
        }
    };
    frame(branding, "Share your details?", body)
}

/// The SAML HTTP-POST binding's page: a form carrying the signed message to the service
/// provider, sent by `/saml/post.js` at once, or by the member's click without JavaScript.
pub fn saml_post(branding: &Branding, application: &str, message: &SamlPost<'_>) -> Html<String> {
    let body = html! {
        h1 { "Signing you in to " (application) }
        form method="post" action=(message.url) id="saml-post" {
            input type="hidden" name=(message.field) value=(message.value);
            @if let Some(state) = message.relay_state {
                input type="hidden" name="RelayState" value=(state);
            }
            p { "If nothing happens, continue to " (application) "." }
            button type="submit" { "Continue" }
        }
        script src="/saml/post.js" {}
    };
    frame(branding, "Signing you in", body)
}

/// What the POST page carries.
pub struct SamlPost<'a> {
    pub url: &'a str,
    pub field: &'a str,
    pub value: &'a str,
    pub relay_state: Option<&'a str>,
}

/// One line of a test sign-in's report: a check and whether it passed.
pub struct ReportCheck<'a> {
    pub name: &'a str,
    pub passed: bool,
    pub detail: &'a str,
}

/// The report of an admin's test sign-in: what the built-in test relying party or service
/// provider checked, and what it received (claims, attributes), never a token.
pub fn test_report(
    branding: &Branding,
    heading: &str,
    intro: &str,
    checks: &[ReportCheck<'_>],
    sections: &[(&str, String)],
) -> Html<String> {
    let passed = checks.iter().all(|check| check.passed);
    let body = html! {
        h1 { (heading) }
        p { (intro) }
        p.test-verdict {
            @if passed { strong { "Every check passed." } }
            @else { strong { "Some checks failed: see below." } }
        }
        table.test-checks {
            thead { tr { th { "Check" } th { "Result" } th { "Details" } } }
            tbody {
                @for check in checks {
                    tr {
                        td { (check.name) }
                        td { @if check.passed { "Passed" } @else { "Failed" } }
                        td { (check.detail) }
                    }
                }
            }
        }
        @for (title, content) in sections {
            h2 { (title) }
            pre.test-detail { (content) }
        }
        p.muted {
            "Nothing issued in this test can be used by the app: it was sent to the test's own \
             address on this domain, and the test's access tokens are revoked. The Flight \
             recorder of the app lists the exchanges."
        }
    };
    frame(branding, heading, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOSTILE: &str = "\"><script>alert(1)</script>";

    fn branding() -> Branding {
        Branding {
            name: HOSTILE.to_string(),
            colour: "#123456;} body{display:none".to_string(),
            sign_in_text: HOSTILE.to_string(),
            support_contact: HOSTILE.to_string(),
            logo_version: Some(7),
            imis_sign_out: Some(format!("https://imis.example/{HOSTILE}")),
            password_reset: true,
        }
    }

    /// Every value a tenant admin, an application or a request chooses is text on the page,
    /// never markup: in element content and in attribute values alike.
    #[test]
    fn values_from_admins_and_requests_are_escaped_everywhere() {
        let branding = branding();
        let pages = [
            imis_login(&branding, HOSTILE, Some(HOSTILE)).0,
            password_login(&branding, HOSTILE, Some(HOSTILE), Some(HOSTILE)).0,
            error(
                &branding,
                &Page {
                    title: HOSTILE.into(),
                    happened: HOSTILE.into(),
                    try_next: HOSTILE.into(),
                },
            )
            .0,
            confirm_sign_out(&branding, HOSTILE, Some(HOSTILE), &[(HOSTILE, HOSTILE)]).0,
            consent(&branding, HOSTILE, HOSTILE, &["profile".into()], HOSTILE).0,
            saml_post(
                &branding,
                HOSTILE,
                &SamlPost {
                    url: HOSTILE,
                    field: HOSTILE,
                    value: HOSTILE,
                    relay_state: Some(HOSTILE),
                },
            )
            .0,
            signed_out(&branding).0,
        ];
        for page in pages {
            assert!(!page.contains("<script>alert"), "{page}");
            assert!(!page.contains("\"><script"), "{page}");
            assert!(page.contains("&quot;&gt;&lt;script&gt;"), "{page}");
        }
    }

    #[test]
    fn the_support_contact_is_a_link_only_in_safe_schemes() {
        let link = |contact: &str| support_link(contact).into_string();
        assert_eq!(
            link("help@acme.test"),
            r#"<a href="mailto:help@acme.test">help@acme.test</a>"#
        );
        assert_eq!(
            link("https://acme.test/help"),
            r#"<a href="https://acme.test/help">https://acme.test/help</a>"#
        );
        assert_eq!(
            link("+1 (555) 010-2030"),
            r#"<a href="tel:+15550102030">+1 (555) 010-2030</a>"#
        );
        assert_eq!(link("the front desk"), "the front desk");
        // Never another scheme, and no mail headers smuggled into a mailto: link.
        assert!(!link("javascript:alert(1)").contains("href"));
        assert!(!link("help@acme.test?bcc=x@evil.test").contains("href"));
        assert!(!link("http://acme.test/help").contains("href"));
    }

    #[test]
    fn only_a_hex_colour_reaches_the_stylesheet() {
        assert!(!stylesheet(&branding()).contains("display:none"));
        let plain = Branding {
            colour: "#a1b2c3".into(),
            ..branding()
        };
        assert!(stylesheet(&plain).ends_with(":root { --brand: #a1b2c3; }\n"));
    }

    #[test]
    fn time_left_reads_without_a_time_zone() {
        use vestibule_domain::{Seconds, Timestamp};
        let now = Timestamp(1_800_000_000);
        let left = |seconds: i64| time_left(now + Seconds(seconds), now);
        assert_eq!(left(-5), "a minute");
        assert_eq!(left(30), "a minute");
        assert_eq!(left(45 * 60), "45 minutes");
        assert_eq!(left(8 * 3600 - 20), "8 hours");
        assert_eq!(left(3600 + 25 * 60), "85 minutes");
        assert_eq!(left(2 * 3600), "2 hours");
        assert_eq!(left(30 * 24 * 3600), "30 days");
    }
}
