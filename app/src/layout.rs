//! The signed-in frame: top bar, navigation and the tenant context of the Cloud SSO pages.

use std::sync::Arc;

use leptos::prelude::*;
use leptos_router::components::{Redirect, A};
use leptos_router::hooks::{use_location, use_params_map};

use crate::api::{current_staff, tenant, AppError, Me, SignOut, TenantView};

/// Loads the session and renders `page` inside the dashboard frame, or sends the visitor to the
/// sign-in page. The page gets the session as a value rather than through context, so the server
/// and the hydrating browser always build the same tree.
///
/// Pages create their resources and actions before this frame (never inside `page`), so every
/// resource has a lasting owner and the request's context on the server.
///
/// Someone who must set up a second factor first is sent to Your account, unless this is it
/// (`for_setup`).
#[component]
pub fn Frame<P>(page: P, #[prop(optional)] for_setup: bool) -> impl IntoView
where
    P: Fn(Me) -> AnyView + Clone + Send + Sync + 'static,
{
    frame(Arc::new(page), for_setup)
}

/// A page's content given the session. The frames take it as a trait object so their code is
/// compiled once, not once per page (each copy cost the browser's wasm tens of kilobytes).
type PageContent = Arc<dyn Fn(Me) -> AnyView + Send + Sync>;

/// A Cloud ID's page content given the session and the tenant.
type TenantContent = Arc<dyn Fn(Me, TenantView) -> AnyView + Send + Sync>;

fn frame(page: PageContent, for_setup: bool) -> AnyView {
    let me = Resource::new_blocking(|| (), |_| current_staff());
    view! {
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || {
                let page = page.clone();
                Suspend::new(async move {
                match me.await {
                    Ok(Some(me)) if me.must_add_second_factor && !for_setup => {
                        go_to("/account").into_any()
                    }
                    Ok(Some(me)) => chrome(me.clone(), None, page(me)),
                    Ok(None) | Err(AppError::NotSignedIn) => go_to("/login").into_any(),
                    Err(error) => view! { <ErrorPage error/> }.into_any(),
                }
            })}}
        </Suspense>
    }
    .into_any()
}

/// Like [`Frame`] for the pages of one Cloud ID (`/t/:cloud_id/…`): also loads the tenant, which
/// the server refuses unless the caller may see it, and hands both to `page`.
#[component]
pub fn TenantFrame<P>(page: P) -> impl IntoView
where
    P: Fn(Me, TenantView) -> AnyView + Clone + Send + Sync + 'static,
{
    tenant_frame(Arc::new(page))
}

fn tenant_frame(page: TenantContent) -> AnyView {
    let params = use_params_map();
    let cloud_id = move || params.read().get("cloud_id").unwrap_or_default();
    let me = Resource::new_blocking(|| (), |_| current_staff());
    let current = Resource::new_blocking(cloud_id, tenant);
    view! {
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || {
                let page = page.clone();
                Suspend::new(async move {
                match (me.await, current.await) {
                    (Ok(None) | Err(AppError::NotSignedIn), _) => go_to("/login").into_any(),
                    (Ok(Some(me)), _) if me.must_add_second_factor => go_to("/account").into_any(),
                    (Err(error), _) => view! { <ErrorPage error/> }.into_any(),
                    (Ok(Some(me)), Ok(tenant)) => {
                        let heading = view! {
                            <p class="tenant-name">
                                {tenant.display_name.clone()}
                                <span class="cloud-id">{tenant.cloud_id.clone()}</span>
                            </p>
                        };
                        // Said once, above every page: forms still show, and a change is
                        // refused with the same words beside the button pressed.
                        let read_only = me.read_only.then(|| view! {
                            <p class="notice read-only" role="note">
                                "Read-only access: you can see everything in this Cloud ID and change nothing. Ask one of its admins for a change."
                            </p>
                        });
                        let content = view! { {heading} {read_only} {page(me.clone(), tenant.clone())} };
                        chrome(me, Some(tenant.cloud_id), content.into_any())
                    }
                    (Ok(Some(me)), Err(error)) => {
                        chrome(me, None, view! { <ErrorPage error/> }.into_any())
                    }
                }
            })}}
        </Suspense>
    }
    .into_any()
}

/// A page of one Cloud ID: the [`TenantFrame`], the page's `title`, and `body` once `data`
/// has loaded (or the error page instead). `data` is made by the page, before this frame (see
/// [`Frame`]), and reloads whenever the page's actions change what it shows.
#[component]
pub fn TenantPage<T, B>(
    title: &'static str,
    data: Resource<Result<T, AppError>>,
    body: B,
) -> impl IntoView
where
    T: Clone + Send + Sync + serde::Serialize + serde::de::DeserializeOwned + 'static,
    B: Fn(Me, TenantView, T) -> AnyView + Clone + Send + Sync + 'static,
{
    // Only the wait for `data` depends on the page's types; the frame, title and transition
    // around it are compiled once (see `PageContent`).
    let load: PageLoad = Arc::new(move |me, tenant| {
        let body = body.clone();
        Box::pin(async move {
            match data.await {
                Ok(loaded) => body(me, tenant, loaded),
                Err(error) => view! { <ErrorPage error/> }.into_any(),
            }
        })
    });
    tenant_page(title, load)
}

/// A page's content once its data has loaded, as a future.
type PageLoad = Arc<
    dyn Fn(Me, TenantView) -> std::pin::Pin<Box<dyn std::future::Future<Output = AnyView> + Send>>
        + Send
        + Sync,
>;

fn tenant_page(title: &'static str, load: PageLoad) -> AnyView {
    tenant_frame(Arc::new(move |me: Me, tenant: TenantView| {
        let load = load.clone();
        view! {
            <leptos_meta::Title text=title/>
            <h1>{title}</h1>
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(load(me.clone(), tenant.clone()))}
            </Transition>
        }
        .into_any()
    }))
}

/// The signed-in frame around a page's content.
fn chrome(me: Me, cloud_id: Option<String>, content: AnyView) -> AnyView {
    view! {
        <div class="frame">
            <TopBar me=me.clone()/>
            <div class="frame-body">
                <Navigation me=me cloud_id=cloud_id/>
                <main class="content" id="content">{content}</main>
            </div>
        </div>
    }
    .into_any()
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
    } else if me.read_only {
        "Read-only"
    } else {
        "Tenant admin"
    };
    view! {
        <header class="topbar">
            <a class="skip-link" href="#content">"Skip to content"</a>
            <a class="brand" href="/">"Vestibule"</a>
            <div class="who">
                <a class="who-email" href="/account" title="Your account">{me.email.clone()}</a>
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
fn Navigation(me: Me, cloud_id: Option<String>) -> impl IntoView {
    let tenant_links = cloud_id.map(|cloud_id| {
        let link = |page: &str| format!("/t/{cloud_id}/{page}");
        view! {
            <p class="nav-heading">"Cloud SSO"</p>
            <ul>
                <li><A href=link("domain")>"Domain Setup"</A></li>
                <li><A href=link("settings")>"Settings"</A></li>
                <li><A href=link("branding")>"Branding"</A></li>
                <li><A href=link("members")>"Members"</A></li>
                <li><A href=link("oidc")>"OIDC Client Apps"</A></li>
                <li><A href=link("saml")>"SAML Client Apps"</A></li>
            </ul>
            <p class="nav-heading">"Cloud ID"</p>
            <ul>
                <li><A href=link("team")>"Team"</A></li>
                <li><A href=link("audit")>"Audit log"</A></li>
            </ul>
        }
    });
    // On a phone the links wait behind "Menu" (a disclosure, so it opens without the wasm);
    // on wider screens the stylesheet shows them always. Following a link folds it again.
    let menu = NodeRef::<leptos::html::Details>::new();
    let location = use_location();
    Effect::new(move |_| {
        location.pathname.track();
        if let Some(menu) = menu.get_untracked() {
            let _ = menu.remove_attribute("open");
        }
    });
    view! {
        <nav class="sidebar" aria-label="Dashboard">
            <details class="nav-menu" node_ref=menu>
                <summary class="nav-menu-toggle">"Menu"</summary>
                {me.is_operator.then(|| view! {
                    <p class="nav-heading">"Platform"</p>
                    <ul>
                        <li><A href="/tenants">"Tenants"</A></li>
                    </ul>
                })}
                {tenant_links}
            </details>
        </nav>
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
    #[cfg(feature = "ssr")]
    let _ = crate::ssr::respond::<()>(Err(error.clone()));
    let title = match error {
        AppError::Forbidden => "No access",
        AppError::ReadOnly => "Read-only access",
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
