//! What authentication and authorization need to know of a request, whatever carried it.

/// The request's route, id, source address and parameters.
#[derive(Clone, Debug)]
pub struct RequestCtx {
    /// API Gateway's route key, e.g. `POST /iam/orgs/{orgId}/api-keys`.
    pub route_key: String,
    /// API Gateway's request id: in every problem body, audit event and log line.
    pub request_id: String,
    /// The client address API Gateway saw (never a client-supplied header).
    pub source_ip: Option<String>,
}
