//! The signed-in frame: top bar, navigation and the tenant context of the Cloud SSO pages.

use leptos::prelude::*;
use leptos_router::components::{Outlet, Redirect, A};
use leptos_router::hooks::use_params_map;

use crate::api::{current_staff, tenant, AppError, Me, SignOut, TenantView};

/// The signed-in staff member, shared with the pages inside [`Frame`].
#[derive(Clone)]
pub struct Session(pub Me);

/// The tenant whose pages are shown, shared with the pages inside [`TenantLayout`].
#[derive(Clone)]
pub struct CurrentTenant(pub TenantView);

/// Loads the session and renders `children` inside the dashboard frame, or sends the visitor to
/// the sign-in page.
#[component]
pub fn Frame(
    /// The Cloud ID whose navigation to show, if any.
    #[prop(optional, into)]
    cloud_id: Option<Signal<String>>,
    children: ChildrenFn,
) -> impl IntoView {
    let me = Resource::new_blocking(|| (), |_| current_staff());
    let children = StoredValue::new(children);
    view! {
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match me.await {
                    Ok(Some(me)) => {
                        provide_context(Session(me.clone()));
                        view! {
                            <div class="frame">
                                <TopBar me=me.clone()/>
                                <div class="frame-body">
                                    <Navigation me=me cloud_id=cloud_id/>
                                    <main class="content" id="content">
                                        {children.with_value(|children| children())}
                                    </main>
                                </div>
                            </div>
                        }
                            .into_any()
                    }
                    Ok(None) | Err(AppError::NotSignedIn) => go_to("/login").into_any(),
                    Err(error) => view! { <ErrorPage error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn TopBar(me: Me) -> impl IntoView {
    let sign_out = ServerAction::<SignOut>::new();
    Effect::new(move |_| {
        if let Some(Ok(())) = sign_out.value().get() {
            let _ = window().location().set_href("/login");
        }
    });
    let role = if me.is_operator {
        "Operator"
    } else {
        "Tenant admin"
    };
    view! {
        <header class="topbar">
            <a class="skip-link" href="#content">"Skip to content"</a>
            <a class="brand" href="/">"Vestibule"</a>
            <div class="who">
                <span class="who-email">{me.email.clone()}</span>
                <span class="badge">{role}</span>
                <ActionForm action=sign_out attr:class="inline">
                    <input type="hidden" name="csrf" value=me.csrf.clone()/>
                    <button type="submit" class="button subtle">"Sign out"</button>
                </ActionForm>
            </div>
        </header>
    }
}

#[component]
fn Navigation(me: Me, cloud_id: Option<Signal<String>>) -> impl IntoView {
    let tenant_links = cloud_id.map(|cloud_id| {
        let link = move |page: &'static str| move || format!("/t/{}/{page}", cloud_id.get());
        view! {
            <p class="nav-heading">"Cloud SSO"</p>
            <ul>
                <li><A href=link("domain")>"Domain Setup"</A></li>
                <li><A href=link("settings")>"Settings"</A></li>
                <li><A href=link("oidc")>"OIDC Client Apps"</A></li>
                <li><A href=link("saml")>"SAML Client Apps"</A></li>
            </ul>
            <p class="nav-heading">"Cloud ID"</p>
            <ul>
                <li><A href=link("team")>"Team"</A></li>
            </ul>
        }
    });
    view! {
        <nav class="sidebar" aria-label="Dashboard">
            {me.is_operator.then(|| view! {
                <p class="nav-heading">"Platform"</p>
                <ul>
                    <li><A href="/tenants">"Tenants"</A></li>
                </ul>
            })}
            {tenant_links}
        </nav>
    }
}

/// The frame for one tenant's pages: checks the caller may see this Cloud ID, then renders the
/// page with the tenant in context.
#[component]
pub fn TenantLayout() -> impl IntoView {
    let params = use_params_map();
    let cloud_id = Signal::derive(move || params.read().get("cloud_id").unwrap_or_default());
    let current = Resource::new_blocking(move || cloud_id.get(), tenant);
    view! {
        <Frame cloud_id=cloud_id>
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match current.await {
                        Ok(tenant) => {
                            provide_context(CurrentTenant(tenant.clone()));
                            view! {
                                <p class="tenant-name">
                                    {tenant.display_name.clone()}
                                    <span class="cloud-id">{tenant.cloud_id.clone()}</span>
                                </p>
                                <Outlet/>
                            }
                                .into_any()
                        }
                        Err(error) => view! { <ErrorPage error/> }.into_any(),
                    }
                })}
            </Suspense>
        </Frame>
    }
}

/// Sends the browser elsewhere: an HTTP redirect while rendering on the server (the session is
/// resolved before headers go out), client-side navigation after hydration.
pub fn go_to(path: &str) -> impl IntoView {
    #[cfg(feature = "ssr")]
    leptos_axum::redirect(path);
    let path = path.to_string();
    view! { <Redirect path=path/> }
}

/// A readable error in place of a page.
#[component]
pub fn ErrorPage(error: AppError) -> impl IntoView {
    let title = match error {
        AppError::Forbidden => "No access",
        AppError::NotFound => "Not found",
        _ => "Something went wrong",
    };
    view! {
        <section class="error-page" role="alert">
            <h1>{title}</h1>
            <p>{error.to_string()}</p>
            <p><a href="/">"Back to the dashboard"</a></p>
        </section>
    }
}
