//! Lambda entry point: build the App and the route map once, then decide each request.

#![recursion_limit = "256"] // the nested futures of one authorization exceed the default 128 in layout

use aws_lambda_events::apigw::ApiGatewayV2CustomAuthorizerV2Request;
use lambda_runtime::{Error, LambdaEvent, run, service_fn};

#[tokio::main(flavor = "current_thread")] // one invocation at a time: no worker threads to start or wake
async fn main() -> Result<(), Error> {
    // SAFETY: first thing in main, on a current-thread runtime: the process has one thread.
    unsafe { shared::store::tls::prefer_bundle_file() };
    shared::telemetry::init();
    let app = shared::App::from_env().await?;
    let routes = authorizer::RouteActions::from_env()?;
    let (app, routes) = (&app, &routes);
    run(service_fn(move |event: LambdaEvent<ApiGatewayV2CustomAuthorizerV2Request>| async move {
        authorizer::handle(app, routes, event.payload).await.map_err(|err| {
            // Logged once, with its cause; Lambda records the same text as the invocation's error.
            let text = format!("{:#}", anyhow::Error::new(err));
            tracing::error!(request_id = event.context.request_id, error = text, "authorizer failed");
            Error::from(text)
        })
    }))
    .await
}
