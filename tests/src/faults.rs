//! Fault injection: an SDK interceptor that sends chosen DynamoDB operations to a local server
//! answering with a chosen failure instead of the emulator, so the write never happens.

use std::sync::{Arc, Mutex};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextMut;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

/// What the failing server answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// 400 ThrottlingException.
    Throttle,
    /// 500 InternalServerError.
    Internal,
    /// No answer, ever: the SDK's attempt timeout ends the call.
    Timeout,
    /// 400 TransactionCanceledException with a TransactionConflict reason.
    Conflict,
    /// 400 TransactionCanceledException whose item at this position failed its condition (the
    /// service names the invariant by the position, as it does for DynamoDB's answer).
    ConditionFailed(usize),
}

impl Fault {
    fn path(self) -> String {
        match self {
            Self::Throttle => "/throttle".into(),
            Self::Internal => "/internal".into(),
            Self::Timeout => "/timeout".into(),
            Self::Conflict => "/conflict".into(),
            Self::ConditionFailed(position) => format!("/condition-failed/{position}"),
        }
    }
}

/// The interceptor: `arm("TransactWriteItems", fault, n)` fails the next `n` such requests;
/// `limit_reads_per_key(n)` throttles GetItems of one item past `n` in a wall-clock second (a
/// stand-in for DynamoDB's per-partition read limit, for the hot-key measurement).
#[derive(Clone, Debug, Default)]
pub struct Faults {
    server: String,
    plan: Arc<Mutex<Option<(String, Fault, usize)>>>,
    read_limit: Arc<Mutex<Option<ReadLimit>>>,
    /// Stops the server (and frees its port) when the last handle is dropped: held, never read.
    _stop: Arc<crate::Stop>,
}

#[derive(Debug)]
struct ReadLimit {
    per_second: usize,
    started: std::time::Instant,
    /// Reads per item key in the current second: (second since start, count).
    seen: std::collections::HashMap<String, (u64, usize)>,
    throttled: usize,
}

impl Faults {
    /// Starts the failing server.
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a port");
        let server = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(serve(listener)).abort_handle();
        Self { server, plan: Arc::default(), read_limit: Arc::default(), _stop: Arc::new(crate::Stop(vec![task])) }
    }

    /// Fails the next `times` requests of `operation` with `fault`.
    pub fn arm(&self, operation: &str, fault: Fault, times: usize) {
        *self.plan.lock().unwrap() = Some((operation.to_string(), fault, times));
    }

    /// Stops failing.
    pub fn disarm(&self) {
        *self.plan.lock().unwrap() = None;
    }

    /// Throttles reads (GetItem, BatchGetItem) of one item past `per_second` in any wall-clock second
    /// (None: no limit).
    pub fn limit_reads_per_key(&self, per_second: Option<usize>) {
        *self.read_limit.lock().unwrap() = per_second.map(|per_second| ReadLimit {
            per_second,
            started: std::time::Instant::now(),
            seen: std::collections::HashMap::new(),
            throttled: 0,
        });
    }

    /// GetItems the read limit has throttled since it was set.
    pub fn reads_throttled(&self) -> usize {
        self.read_limit.lock().unwrap().as_ref().map_or(0, |l| l.throttled)
    }

    /// Whether a read of `operation` names an item read more than the limit's count this second
    /// (a GetItem's key, or any key of a BatchGetItem: the warm authentication reads its two items
    /// in one).
    fn over_read_limit(&self, operation: &str, body: &[u8]) -> bool {
        let mut limit = self.read_limit.lock().unwrap();
        let Some(limit) = limit.as_mut() else { return false };
        let request: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
        let keys: Vec<&serde_json::Value> = match operation {
            "GetItem" => vec![&request["Key"]],
            "BatchGetItem" => request["RequestItems"]
                .as_object()
                .into_iter()
                .flat_map(|tables| tables.values())
                .flat_map(|table| table["Keys"].as_array().into_iter().flatten())
                .collect(),
            _ => return false,
        };
        let second = limit.started.elapsed().as_secs();
        let mut over = false;
        for key in keys {
            let item = format!("{}|{}", key["PK"]["S"], key["SK"]["S"]);
            let entry = limit.seen.entry(item).or_insert((second, 0));
            if entry.0 != second {
                *entry = (second, 0);
            }
            entry.1 += 1;
            over |= entry.1 > limit.per_second;
        }
        limit.throttled += usize::from(over);
        over
    }

    fn take(&self, operation: &str) -> Option<Fault> {
        let mut plan = self.plan.lock().unwrap();
        match plan.as_mut() {
            Some((op, fault, left)) if op == operation && *left > 0 => {
                *left -= 1;
                Some(*fault)
            }
            _ => None,
        }
    }
}

impl Intercept for Faults {
    fn name(&self) -> &'static str {
        "Faults"
    }

    fn modify_before_transmit(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let target = context.request().headers().get("x-amz-target").unwrap_or_default().to_string();
        let operation = target.rsplit('.').next().unwrap_or_default();
        if let Some(fault) = self.take(operation) {
            context.request_mut().set_uri(format!("{}{}", self.server, fault.path()))?;
        } else if self.over_read_limit(operation, context.request().body().bytes().unwrap_or_default()) {
            context.request_mut().set_uri(format!("{}{}", self.server, Fault::Throttle.path()))?;
        }
        Ok(())
    }
}

async fn serve(listener: tokio::net::TcpListener) {
    loop {
        let Ok((stream, _)) = listener.accept().await else { return };
        tokio::spawn(async move {
            let service = hyper::service::service_fn(|req: hyper::Request<hyper::body::Incoming>| async move {
                let path = req.uri().path();
                let (status, kind, extra) = match path {
                    "/throttle" => (400, "com.amazon.coral.availability#ThrottlingException", String::new()),
                    "/internal" => (500, "com.amazonaws.dynamodb.v20120810#InternalServerError", String::new()),
                    "/timeout" => std::future::pending().await,
                    "/conflict" => (
                        400,
                        "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
                        r#","CancellationReasons":[{"Code":"TransactionConflict","Message":"conflict"},{"Code":"None"},{"Code":"None"}]"#.into(),
                    ),
                    _ => {
                        let position: usize = path.rsplit('/').next().and_then(|p| p.parse().ok()).unwrap_or(0);
                        let mut reasons = vec![r#"{"Code":"None"}"#; position.max(2) + 1];
                        reasons[position] = r#"{"Code":"ConditionalCheckFailed","Message":"failed"}"#;
                        (
                            400,
                            "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
                            format!(r#","CancellationReasons":[{}]"#, reasons.join(",")),
                        )
                    }
                };
                let body = format!(r#"{{"__type":"{kind}","message":"injected"{extra}}}"#);
                Ok::<_, std::convert::Infallible>(
                    http::Response::builder()
                        .status(status)
                        .header("content-type", "application/x-amz-json-1.0")
                        .header("x-amzn-errortype", kind.rsplit('#').next().unwrap_or(kind))
                        .body(http_body_util::Full::new(hyper::body::Bytes::from(body)))
                        .unwrap(),
                )
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
        });
    }
}
