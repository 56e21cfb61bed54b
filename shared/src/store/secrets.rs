//! The Secrets Manager adapter: the only module that calls `aws_sdk_secretsmanager`. Reads a
//! secret's string and says why it could not, keeping the SDK's cause for the one log line.

use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueError;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;

use crate::domain::ApiError;

/// Why a secret could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// There is no such secret (or no such stage of it).
    #[error("secret {0} does not exist")]
    NotFound(String),
    /// Throttled, timed out, a 5xx, or a network failure: the caller may retry later.
    #[error("secret {name} could not be read now")]
    Unavailable {
        name: String,
        #[source]
        cause: anyhow::Error,
    },
    /// Refused (AccessDenied, a KMS key it may not use) or not a string: a misconfiguration.
    #[error("secret {name} cannot be read by this function")]
    Misconfigured {
        name: String,
        #[source]
        cause: anyhow::Error,
    },
}

/// Failures of the service's own secrets: 503 when they may pass, 500 when they will not.
impl From<SecretError> for ApiError {
    fn from(err: SecretError) -> Self {
        match err {
            SecretError::Unavailable { .. } => Self::ServiceUnavailable(anyhow::Error::new(err)),
            SecretError::NotFound(_) | SecretError::Misconfigured { .. } => Self::Internal(anyhow::Error::new(err)),
        }
    }
}

/// Reads secrets.
#[derive(Clone, Debug)]
pub struct SecretStore {
    client: Client,
}

impl SecretStore {
    /// A store over `client`.
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    /// The string of secret `name`, at `stage` (`AWSCURRENT` when `None`, as AWS answers).
    pub async fn read(&self, name: &str, stage: Option<&str>) -> Result<String, SecretError> {
        let out = self
            .client
            .get_secret_value()
            .secret_id(name)
            .set_version_stage(stage.map(String::from))
            .send()
            .await
            .map_err(|err| classify(name, err))?;
        out.secret_string.ok_or_else(|| SecretError::Misconfigured {
            name: name.to_string(),
            cause: anyhow::anyhow!("the secret has no SecretString"),
        })
    }
}

fn classify(name: &str, err: SdkError<GetSecretValueError, HttpResponse>) -> SecretError {
    let name = name.to_string();
    if let Some(service) = err.as_service_error() {
        if matches!(service, GetSecretValueError::ResourceNotFoundException(_)) {
            return SecretError::NotFound(name);
        }
        let throttled = matches!(service.code(), Some("ThrottlingException" | "InternalServiceError"))
            || matches!(service, GetSecretValueError::InternalServiceError(_));
        if !throttled {
            let code = service.code().unwrap_or("unknown").to_string();
            return SecretError::Misconfigured { name, cause: anyhow::Error::new(err).context(code) };
        }
    }
    SecretError::Unavailable { name, cause: anyhow::Error::new(err) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_that_may_come_back_is_503_one_that_will_not_is_500_and_both_keep_their_cause() {
        let cause = || anyhow::anyhow!("AccessDeniedException: not authorized to perform GetSecretValue");
        let refused: ApiError = SecretError::Misconfigured { name: "iam/pepper".into(), cause: cause() }.into();
        let ApiError::Internal(source) = refused else { panic!("a refusal is a 500: {refused:?}") };
        let logged = format!("{source:#}");
        assert!(logged.contains("iam/pepper") && logged.contains("AccessDeniedException"), "{logged}");
        let later: ApiError = SecretError::Unavailable { name: "iam/pepper".into(), cause: cause() }.into();
        assert!(matches!(later, ApiError::ServiceUnavailable(_)));
    }
}
