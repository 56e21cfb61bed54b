//! A minimal stand-in for the Lambda Runtime API (the HTTP interface a custom runtime polls), enough
//! to run a real function binary outside AWS: it hands out invocation events one at a time, records
//! each response (or init/invocation error) with the instant it arrived, and holds a `next` poll
//! open while it has no event, as an idle Lambda sandbox does. The cold-start bench gives it one
//! event; the warm-invocation bench gives it one after another ([`RuntimeApi::invoke`]).
//!
//! Served paths (API version 2018-06-01): `GET /runtime/invocation/next`,
//! `POST /runtime/invocation/{id}/response`, `POST /runtime/invocation/{id}/error` and
//! `POST /runtime/init/error`.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{Notify, mpsc};

const PREFIX: &str = "/2018-06-01/runtime";

/// What the function answered, and when it arrived.
#[derive(Debug)]
pub struct Outcome {
    pub at: Instant,
    /// `response`, `invocation error` or `init error`.
    pub kind: &'static str,
    pub body: Vec<u8>,
}

struct State {
    events: Mutex<VecDeque<Vec<u8>>>,
    arrived: Notify,
    invocations: AtomicU64,
    outcomes: mpsc::UnboundedSender<Outcome>,
}

/// A Runtime API on a loopback port.
pub struct RuntimeApi {
    /// `127.0.0.1:<port>`: the value of `AWS_LAMBDA_RUNTIME_API`.
    pub address: String,
    state: Arc<State>,
    outcomes: mpsc::UnboundedReceiver<Outcome>,
    server: tokio::task::JoinHandle<()>,
}

impl RuntimeApi {
    /// Starts serving `event` (the invocation payload, e.g. an API Gateway v2 event) to the first
    /// `next` poll.
    pub async fn start(event: Vec<u8>) -> anyhow::Result<Self> {
        let api = Self::idle().await?;
        api.queue(event);
        Ok(api)
    }

    /// Starts serving, with no event yet: every `next` poll waits for [`RuntimeApi::invoke`].
    pub async fn idle() -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?.to_string();
        let (tx, rx) = mpsc::unbounded_channel();
        let state = Arc::new(State {
            events: Mutex::new(VecDeque::new()),
            arrived: Notify::new(),
            invocations: AtomicU64::new(0),
            outcomes: tx,
        });
        let serving = state.clone();
        let server = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { return };
                let state = serving.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| answer(state.clone(), req));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(Self { address, state, outcomes: rx, server })
    }

    fn queue(&self, event: Vec<u8>) {
        self.state.events.lock().expect("lock").push_back(event);
        self.state.arrived.notify_one();
    }

    /// Waits for the function's answer to the next invocation handed out.
    pub async fn outcome(&mut self) -> anyhow::Result<Outcome> {
        self.outcomes.recv().await.ok_or_else(|| anyhow::anyhow!("the Runtime API stopped"))
    }

    /// Hands `event` to the function's (pending or next) poll and waits for its answer.
    pub async fn invoke(&mut self, event: Vec<u8>) -> anyhow::Result<Outcome> {
        self.queue(event);
        self.outcome().await
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn answer(state: Arc<State>, req: hyper::Request<Incoming>) -> Result<hyper::Response<Full<Bytes>>, Infallible> {
    let at = Instant::now();
    let path = req.uri().path().to_string();
    let method = req.method().clone();
    let body = req.into_body().collect().await.map(|b| b.to_bytes().to_vec()).unwrap_or_default();
    let Some(rest) = path.strip_prefix(PREFIX) else { return Ok(reply(404, Vec::new())) };
    let finish = |kind: &'static str, body: Vec<u8>| {
        let _ = state.outcomes.send(Outcome { at, kind, body });
        reply(202, br#"{"status":"OK"}"#.to_vec())
    };
    Ok(match (method.as_str(), rest) {
        ("GET", "/invocation/next") => {
            // Idle sandbox: the poll stays open until an event comes (or the process is stopped).
            let event = loop {
                let arrived = state.arrived.notified();
                if let Some(event) = state.events.lock().expect("lock").pop_front() {
                    break event;
                }
                arrived.await;
            };
            let n = state.invocations.fetch_add(1, Ordering::Relaxed) + 1;
            hyper::Response::builder()
                .status(200)
                .header("content-type", "application/json")
                .header("lambda-runtime-aws-request-id", format!("invocation-{n:08}"))
                .header("lambda-runtime-deadline-ms", deadline_ms().to_string())
                .header(
                    "lambda-runtime-invoked-function-arn",
                    "arn:aws:lambda:eu-west-1:123456789012:function:cold-start",
                )
                .header("lambda-runtime-trace-id", "Root=1-00000000-000000000000000000000000")
                .body(Full::new(Bytes::from(event)))
                .expect("valid response")
        }
        ("POST", "/init/error") => finish("init error", body),
        ("POST", rest) if rest.ends_with("/response") => finish("response", body),
        ("POST", rest) if rest.ends_with("/error") => finish("invocation error", body),
        _ => reply(404, Vec::new()),
    })
}

fn reply(status: u16, body: Vec<u8>) -> hyper::Response<Full<Bytes>> {
    hyper::Response::builder().status(status).body(Full::new(Bytes::from(body))).expect("valid response")
}

fn deadline_ms() -> u128 {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    (now + std::time::Duration::from_secs(10)).as_millis()
}
