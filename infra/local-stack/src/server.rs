//! The HTTP front: routes a request by the template, hands the v2 event to the function, and
//! answers what the function answered. Unknown routes get API Gateway's own 404. Beside the
//! template, the stack serves the development identity provider and the console.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use lambda_http::Body;
use shared::App;
use tokio::net::TcpListener;

use crate::console::ConsoleSite;
use crate::event::{IncomingRequest, event_json};
use crate::functions;
use crate::idp::LocalIdp;
use crate::template::Template;

/// A request answered by the function that serves its route, as API Gateway would route it.
pub async fn dispatch(app: &App, template: &Template, incoming: IncomingRequest) -> http::Response<Vec<u8>> {
    let Some((route, params)) = template.route_for(&incoming.method, &incoming.path) else {
        return plain(404, r#"{"message":"Not Found"}"#);
    };
    let mut event = event_json(route, &params, &incoming);
    if let Some(authorizer) = &route.authorizer {
        match run_authorizer(app, template, authorizer, &event).await {
            Ok(context) => event["requestContext"]["authorizer"] = serde_json::json!({ "lambda": context }),
            Err(response) => return response,
        }
    }
    let request = match lambda_http::request::from_str(&event.to_string()) {
        Ok(request) => request,
        Err(err) => {
            tracing::error!(error = %err, "could not build the API Gateway event");
            return plain(500, r#"{"message":"Internal Server Error"}"#);
        }
    };
    let Some(response) = functions::invoke(app, &route.function, request).await else {
        tracing::error!(function = route.function, "the template names a function this stack does not link");
        return plain(502, r#"{"message":"Internal Server Error"}"#);
    };
    let (parts, body) = response.into_parts();
    let bytes = match body {
        Body::Text(text) => text.into_bytes(),
        Body::Binary(bytes) => bytes,
        _ => Vec::new(),
    };
    http::Response::from_parts(parts, bytes)
}

/// API Gateway's side of a REQUEST authorizer (payload 2.0, simple responses): without the
/// identity source (the Authorization header) 401 without calling it; a deny is 403; an allow
/// passes its context on to the route as `requestContext.authorizer.lambda`.
async fn run_authorizer(
    app: &App,
    template: &Template,
    authorizer: &str,
    event: &serde_json::Value,
) -> Result<serde_json::Value, http::Response<Vec<u8>>> {
    let Some(authorization) = event["headers"].get("authorization").and_then(|v| v.as_str()) else {
        return Err(plain(401, r#"{"message":"Unauthorized"}"#));
    };
    let mut request = event.clone();
    let object = request.as_object_mut().expect("an event is an object");
    object.remove("body");
    object.remove("isBase64Encoded");
    object.insert("type".into(), "REQUEST".into());
    let route_key = event["routeKey"].as_str().unwrap_or_default().to_string();
    object.insert("identitySource".into(), serde_json::json!([authorization, route_key]));
    object.insert(
        "routeArn".into(),
        format!("arn:aws:execute-api:local:000000000000:local/$default/{}", route_key.replacen(' ', "", 1)).into(),
    );
    let request = serde_json::from_value(request).map_err(|err| {
        tracing::error!(error = %err, "could not build the authorizer event");
        plain(500, r#"{"message":"Internal Server Error"}"#)
    })?;
    let environment = template.environment.get(authorizer);
    match functions::authorize(app, authorizer, environment, request).await {
        Some(Ok(decision)) if decision.is_authorized => Ok(decision.context),
        Some(Ok(_)) => Err(plain(403, r#"{"message":"Forbidden"}"#)),
        // An authorizer that fails (rather than denies) is API Gateway's 500.
        Some(Err(err)) => {
            tracing::warn!(error = format!("{:#}", anyhow::Error::new(err)), "the authorizer failed");
            Err(plain(500, r#"{"message":"Internal Server Error"}"#))
        }
        None => Err(plain(500, r#"{"message":"Internal Server Error"}"#)),
    }
}

fn plain(status: u16, body: &str) -> http::Response<Vec<u8>> {
    http::Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(body.as_bytes().to_vec())
        .expect("valid response")
}

/// API Gateway's payload limit; larger bodies are refused before any function runs.
const MAX_PAYLOAD: usize = 10 * 1024 * 1024;

/// What the local stack serves beside the template's routes: the development identity provider
/// (under `idp::ISSUER_PATH`) and the console's built files (under `console::PATH`).
#[derive(Clone, Debug, Default)]
pub struct LocalExtras {
    pub idp: Option<Arc<LocalIdp>>,
    pub console: Option<ConsoleSite>,
    /// The development secret scanner, whose public key is served at `scanner::KEYS_PATH`.
    pub scanner: Option<Arc<crate::scanner::DevScanner>>,
    /// The development workload issuer (under `workload::ISSUER_PATH`).
    pub workload: Option<Arc<crate::workload::LocalWorkloadIssuer>>,
}

/// A request answered as the local stack answers it: by the development identity provider or the
/// console when the path is theirs, else by the template's route ([`dispatch`]).
pub async fn respond(
    app: &App,
    template: &Template,
    extras: &LocalExtras,
    incoming: IncomingRequest,
) -> http::Response<Vec<u8>> {
    if let Some(idp) = &extras.idp
        && let Some(response) = idp.answer(&incoming, app.clock.now())
    {
        return response;
    }
    if let Some(workload) = &extras.workload
        && let Some(response) = workload.answer(&incoming)
    {
        return response;
    }
    if let Some(console) = &extras.console
        && let Some(response) = console.answer(&incoming.method, &incoming.path)
    {
        return response;
    }
    if let Some(scanner) = &extras.scanner
        && incoming.method == "GET"
        && incoming.path == crate::scanner::KEYS_PATH
    {
        return http::Response::builder()
            .status(200)
            .header("content-type", "application/json")
            .body(scanner.public_keys().to_string().into_bytes())
            .expect("valid response");
    }
    dispatch(app, template, incoming).await
}

async fn answer(
    app: Arc<App>,
    template: Arc<Template>,
    extras: Arc<LocalExtras>,
    peer: SocketAddr,
    req: hyper::Request<Incoming>,
) -> http::Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let body = match http_body_util::Limited::new(body, MAX_PAYLOAD).collect().await {
        Ok(collected) => collected.to_bytes().to_vec(),
        Err(_) => {
            return plain(413, r#"{"message":"Request Entity Too Large"}"#).map(|b| Full::new(Bytes::from(b)));
        }
    };
    let incoming = IncomingRequest {
        method: parts.method.to_string(),
        path: parts.uri.path().to_string(),
        query: parts.uri.query().unwrap_or_default().to_string(),
        headers: parts
            .headers
            .iter()
            .filter_map(|(k, v)| v.to_str().ok().map(|v| (k.to_string(), v.to_string())))
            .collect(),
        body,
        source_ip: peer.ip().to_string(),
    };
    let started = std::time::Instant::now();
    let response = respond(&app, &template, &extras, incoming.clone()).await;
    tracing::info!(
        method = incoming.method,
        path = incoming.path,
        status = response.status().as_u16(),
        millis = started.elapsed().as_millis() as u64,
        "request"
    );
    response.map(|b| Full::new(Bytes::from(b)))
}

/// Serves until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    app: Arc<App>,
    template: Arc<Template>,
    extras: LocalExtras,
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    let extras = Arc::new(extras);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => accepted?,
            () = &mut shutdown => return Ok(()),
        };
        let (app, template, extras) = (app.clone(), template.clone(), extras.clone());
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let (app, template, extras) = (app.clone(), template.clone(), extras.clone());
                async move { Ok::<_, Infallible>(answer(app, template, extras, peer, req).await) }
            });
            if let Err(err) = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await {
                tracing::debug!(error = %err, "connection closed with an error");
            }
        });
    }
}
