//! App templates: the settings a kind of application needs, so adding one starts from what its
//! vendor documents instead of a blank form. A template only fills the add form; the admin sees
//! every value, and why, before anything is saved, and nothing remembers the template later.
//!
//! Vendor templates say only what the vendor's public documentation says (named in `source`);
//! addresses that differ per customer are shown as examples, never filled in.

use crate::views::{OidcAppForm, SamlAppForm};

/// Where a vendor documents what its side needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Source {
    pub title: &'static str,
    pub url: &'static str,
}

/// A starting point for an OpenID Connect client app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OidcTemplate {
    /// In the address (`?template=moodle`).
    pub id: &'static str,
    pub name: &'static str,
    pub summary: &'static str,
    /// The app's name in the form; empty for generic templates.
    pub app_name: &'static str,
    /// What a redirect URI of this kind of app looks like (a placeholder, not a value).
    pub redirect_uri_example: &'static str,
    pub public: bool,
    pub password: bool,
    pub consent: bool,
    pub algorithm: &'static str,
    /// One line per choice the template makes, in words.
    pub why: &'static [&'static str],
    pub source: Option<Source>,
}

/// A starting point for a SAML service provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SamlTemplate {
    pub id: &'static str,
    pub name: &'static str,
    pub summary: &'static str,
    pub app_name: &'static str,
    pub entity_id_example: &'static str,
    pub acs_example: &'static str,
    pub single_logout_example: &'static str,
    /// `unspecified`, `email_address`, `persistent` or `transient`.
    pub name_id_format: &'static str,
    pub unspecified_is_imis_id: bool,
    /// `attribute = Property` lines; empty keeps the form's defaults.
    pub attributes: &'static str,
    /// `assertion`, `response` or `both`.
    pub signed: &'static str,
    pub require_signed_requests: bool,
    pub why: &'static [&'static str],
    pub source: Option<Source>,
}

/// Every OpenID Connect template, generic first; the first is the form's default.
pub const OIDC_TEMPLATES: &[OidcTemplate] = &[
    OidcTemplate {
        id: "web",
        name: "Web application",
        summary: "A site whose server signs members in (most event and community platforms).",
        app_name: "",
        redirect_uri_example: "https://events.example.org/oidc/callback",
        public: false,
        password: false,
        consent: false,
        algorithm: "RS256",
        why: &[
            "Confidential: the site's server keeps a client secret, so only it can redeem a sign-in code.",
            "Authorization code flow, with PKCE when the site sends it: what every current OpenID Connect library uses.",
            "RS256: the ID token is checked with the public keys at the JWKS URL, the default of every library.",
        ],
        source: None,
    },
    OidcTemplate {
        id: "spa",
        name: "Single-page or mobile app",
        summary: "An app that runs in the browser or on a phone and cannot keep a secret.",
        app_name: "",
        redirect_uri_example: "https://app.example.org/callback",
        public: true,
        password: false,
        consent: false,
        algorithm: "RS256",
        why: &[
            "Public: code in a browser or on a phone cannot keep a secret, so none is issued.",
            "PKCE required: it binds each sign-in code to the app that asked for it.",
            "RS256: the app checks tokens with the published keys, with no secret to share.",
        ],
        source: None,
    },
    OidcTemplate {
        id: "password",
        name: "Password grant (legacy)",
        summary: "Only for a vendor that cannot send members to the sign-in page.",
        app_name: "",
        redirect_uri_example: "https://legacy.example.org/callback",
        public: false,
        password: true,
        consent: false,
        algorithm: "RS256",
        why: &[
            "Password grant: the vendor's server receives the member's password and sends it on, so use it only when redirects are impossible.",
            "Confidential: the grant is accepted only with the client secret.",
            "A redirect URI is still registered, so the app can move to the code flow later without a new registration.",
        ],
        source: None,
    },
    OidcTemplate {
        id: "moodle",
        name: "Moodle (OAuth 2 services)",
        summary: "Moodle's own OAuth 2 service, set up as a custom service.",
        app_name: "Moodle",
        redirect_uri_example: "https://moodle.example.org/admin/oauth2callback.php",
        public: false,
        password: false,
        consent: false,
        algorithm: "RS256",
        why: &[
            "The redirect URI is your Moodle address followed by /admin/oauth2callback.php.",
            "Confidential: Moodle's service form asks for the client ID and secret.",
            "Give Moodle the issuer as its service base URL: it reads the endpoints from the discovery document.",
            "Moodle asks for the openid, profile and email scopes; the ID token carries the member's e-mail address through the claim mapping.",
        ],
        source: Some(Source {
            title: "MoodleDocs: OAuth 2 services",
            url: "https://docs.moodle.org/en/OAuth_2_services",
        }),
    },
    OidcTemplate {
        id: "wordpress",
        name: "WordPress (OpenID Connect Generic Client)",
        summary: "WordPress sites with the OpenID Connect Generic Client plugin.",
        app_name: "WordPress",
        redirect_uri_example:
            "https://www.example.org/wp-admin/admin-ajax.php?action=openid-connect-authorize",
        public: false,
        password: false,
        consent: false,
        algorithm: "RS256",
        why: &[
            "The plugin's redirect URI is your site's /wp-admin/admin-ajax.php?action=openid-connect-authorize (or the alternate one its settings offer).",
            "Confidential: the plugin uses the authorization code flow with the client secret.",
            "The plugin's settings take the login, token, userinfo and end-session endpoints from the vendor sheet.",
        ],
        source: Some(Source {
            title: "WordPress.org: OpenID Connect Generic Client, FAQ",
            url: "https://wordpress.org/plugins/daggerhart-openid-connect-generic/",
        }),
    },
];

/// Every SAML template, generic first; the first is the form's default.
pub const SAML_TEMPLATES: &[SamlTemplate] = &[
    SamlTemplate {
        id: "generic",
        name: "SAML service provider",
        summary: "Any SAML 2.0 service provider. Importing its metadata fills the rest.",
        app_name: "",
        entity_id_example: "https://sp.example.org/saml/metadata",
        acs_example: "https://sp.example.org/saml/acs",
        single_logout_example: "https://sp.example.org/saml/logout",
        name_id_format: "persistent",
        unspecified_is_imis_id: false,
        attributes: "",
        signed: "assertion",
        require_signed_requests: false,
        why: &[
            "Persistent NameID: an opaque identifier that stays the same for each member and differs per app.",
            "The assertion is signed, which every service provider checks.",
            "email, firstName and lastName attributes carry the member's profile.",
        ],
        source: None,
    },
    SamlTemplate {
        id: "zoom",
        name: "Zoom",
        summary: "Zoom's single sign-on for accounts with an approved vanity URL.",
        app_name: "Zoom",
        entity_id_example: "yourcompany.zoom.us",
        acs_example: "https://yourcompany.zoom.us/saml/SSO",
        single_logout_example: "https://yourcompany.zoom.us/saml/SingleLogout",
        name_id_format: "email_address",
        unspecified_is_imis_id: false,
        attributes: "urn:oid:0.9.2342.19200300.100.1.3 = Email\nurn:oid:2.5.4.42 = FirstName\nurn:oid:2.5.4.4 = LastName",
        signed: "assertion",
        require_signed_requests: false,
        why: &[
            "Zoom creates an account from the NameID, so it is the member's e-mail address.",
            "Zoom reads the e-mail (urn:oid:0.9.2342.19200300.100.1.3), given name (urn:oid:2.5.4.42) and surname (urn:oid:2.5.4.4) attributes.",
            "Replace yourcompany with your Zoom vanity name, or import https://yourcompany.zoom.us/saml/metadata/sp.",
        ],
        source: Some(Source {
            title: "Zoom Support: Getting started with SSO",
            url: "https://support.zoom.us/hc/en-us/articles/201363003-Getting-Started-with-SSO",
        }),
    },
    SamlTemplate {
        id: "higher-logic",
        name: "Higher Logic Thrive Community",
        summary: "Higher Logic's community sites, signed in through the association's database.",
        app_name: "Higher Logic",
        entity_id_example: "(from the SP metadata Higher Logic sends you)",
        acs_example: "(from the SP metadata Higher Logic sends you)",
        single_logout_example: "",
        name_id_format: "unspecified",
        unspecified_is_imis_id: true,
        attributes: "",
        signed: "both",
        require_signed_requests: true,
        why: &[
            "Higher Logic identifies each member by the NameID, which must be their identifier in your database: the iMIS ID.",
            "Higher Logic requires signed responses: the response and the assertion are both signed.",
            "Higher Logic signs its requests: import its SP metadata so its certificate checks them.",
        ],
        source: Some(Source {
            title: "Higher Logic Support: Single Sign-On (SAML and OIDC)",
            url: "https://support.higherlogic.com/hc/en-us/articles/360058532211-Single-Sign-On-SAML-and-OIDC",
        }),
    },
];

/// The OpenID Connect template with this id, or the first.
pub fn oidc_template(id: Option<&str>) -> &'static OidcTemplate {
    id.and_then(|id| OIDC_TEMPLATES.iter().find(|template| template.id == id))
        .unwrap_or(&OIDC_TEMPLATES[0])
}

/// The SAML template with this id, or the first.
pub fn saml_template(id: Option<&str>) -> &'static SamlTemplate {
    id.and_then(|id| SAML_TEMPLATES.iter().find(|template| template.id == id))
        .unwrap_or(&SAML_TEMPLATES[0])
}

impl OidcTemplate {
    /// The add form's starting values.
    pub fn form(&self) -> OidcAppForm {
        let checked = |on: bool| on.then(|| "on".to_string());
        OidcAppForm {
            name: self.app_name.to_string(),
            public: checked(self.public),
            password: checked(self.password),
            consent: checked(self.consent),
            algorithm: self.algorithm.to_string(),
            ..OidcAppForm::default()
        }
    }
}

impl SamlTemplate {
    /// The add form's starting values: the defaults with this template's choices.
    pub fn apply(&self, defaults: SamlAppForm) -> SamlAppForm {
        let checked = |on: bool| on.then(|| "on".to_string());
        SamlAppForm {
            name: self.app_name.to_string(),
            name_id_format: self.name_id_format.to_string(),
            unspecified_is_imis_id: checked(self.unspecified_is_imis_id),
            attributes: if self.attributes.is_empty() {
                defaults.attributes.clone()
            } else {
                self.attributes.to_string()
            },
            signed: self.signed.to_string(),
            require_signed_requests: checked(self.require_signed_requests),
            ..defaults
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_vendor_templates_name_a_public_source() {
        let oidc = OIDC_TEMPLATES.iter().map(|t| (t.id, t.app_name, t.source));
        let saml = SAML_TEMPLATES.iter().map(|t| (t.id, t.app_name, t.source));
        let all: Vec<_> = oidc.chain(saml).collect();
        for (index, (id, app_name, source)) in all.iter().enumerate() {
            assert!(
                all[index + 1..].iter().all(|(other, _, _)| other != id),
                "{id} twice"
            );
            // A vendor template (one that names the app) says where its settings come from.
            if !app_name.is_empty() {
                let source = source.unwrap_or_else(|| panic!("{id} names no source"));
                assert!(source.url.starts_with("https://"), "{id}: {}", source.url);
            }
        }
    }

    #[test]
    fn unknown_or_missing_ids_start_from_the_generic_template() {
        assert_eq!(oidc_template(None).id, "web");
        assert_eq!(oidc_template(Some("nosuch")).id, "web");
        assert_eq!(oidc_template(Some("moodle")).app_name, "Moodle");
        assert_eq!(saml_template(Some("zoom")).name_id_format, "email_address");
        assert_eq!(saml_template(Some("<script>")).id, "generic");
    }

    #[test]
    fn a_saml_template_keeps_the_defaults_it_does_not_choose() {
        let defaults = SamlAppForm {
            attributes: "email = Email".into(),
            assertion_minutes: "5".into(),
            ..SamlAppForm::default()
        };
        let higher_logic = saml_template(Some("higher-logic")).apply(defaults.clone());
        assert_eq!(higher_logic.attributes, "email = Email");
        assert_eq!(higher_logic.assertion_minutes, "5");
        assert_eq!(higher_logic.unspecified_is_imis_id.as_deref(), Some("on"));
        assert_eq!(higher_logic.require_signed_requests.as_deref(), Some("on"));
        let zoom = saml_template(Some("zoom")).apply(defaults);
        assert!(zoom
            .attributes
            .starts_with("urn:oid:0.9.2342.19200300.100.1.3 = Email"));
    }
}
