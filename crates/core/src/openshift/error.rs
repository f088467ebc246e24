//! What went wrong talking to the API, by kind: callers match the variant (a
//! 404 is "not there", a 409 "changed since it was read", a timeout "not
//! known") instead of reading the words. Each variant's text is the one line
//! the user sees, saying what was being done and, where we can, what to do.

use std::path::PathBuf;
use std::time::Duration;

/// An API call that failed, or a connection that could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// 401: the credentials were refused.
    #[error("{what}: the API refused the credentials (401 Unauthorized): log in again or check the kubeconfig's user")]
    Unauthorized { what: String },
    /// 403: this user may not.
    #[error("{what}: not allowed (403 Forbidden): {message}")]
    Forbidden { what: String, message: String },
    /// 404: no such object, or the API does not serve the type.
    #[error("{what}: not found (404): {message}")]
    NotFound { what: String, message: String },
    /// 409: changed since it was read (or already there).
    #[error("{what}: {message} (409 {reason})")]
    Conflict { what: String, message: String, reason: String },
    /// 422: the API refused the object as written.
    #[error("{what}: {message} (422 {reason})")]
    Invalid { what: String, message: String, reason: String },
    /// Any other status the API answered with (a 5xx, 429, ...).
    #[error("{what}: {message} ({code} {reason})")]
    Status { what: String, code: u16, message: String, reason: String },
    /// No answer within our time limit: whether it was done is not known.
    #[error("{what}: no answer{}{}", from_server(server), within_limit(limit))]
    Timeout { what: String, server: Option<String>, limit: Option<Duration> },
    /// The API was not reached, or its answer was lost (refused, reset, TLS, an unreadable body).
    #[error("{what}: the API did not answer: {detail}")]
    Transport { what: String, detail: String },
    /// An answer that could not be read as what was asked for.
    #[error("{detail}")]
    Decode { detail: String },
    /// `--kubeconfig FILE` cannot be read.
    #[error("cannot read the kubeconfig {}: {detail}", path.display())]
    KubeconfigUnreadable { path: PathBuf, detail: String },
    /// No --kubeconfig, and none found through KUBECONFIG or ~/.kube/config.
    #[error("no kubeconfig to reach the API ({detail}): give --kubeconfig FILE or set KUBECONFIG")]
    NoKubeconfig { detail: String },
    /// The kubeconfig was read but cannot be used (no such context, bad credentials' files, ...).
    #[error("the kubeconfig cannot be used: {detail}")]
    KubeconfigUnusable { detail: String },
    /// No client could be made from a usable kubeconfig.
    #[error("cannot make a client for {server}: {detail}")]
    NoClient { server: String, detail: String },
}

fn from_server(server: &Option<String>) -> String {
    server.as_ref().map(|s| format!(" from {s}")).unwrap_or_default()
}

fn within_limit(limit: &Option<Duration>) -> String {
    limit.map(|l| format!(" within {}", humantime::format_duration(l))).unwrap_or_default()
}

impl ApiError {
    /// kube's error while doing `what`, by the status the API answered with (or none).
    pub fn from_kube(what: impl Into<String>, error: &kube::Error) -> ApiError {
        let what = what.into();
        match error {
            kube::Error::Api(status) => {
                let (message, reason) = (status.message.clone(), status.reason.clone());
                match status.code {
                    401 => ApiError::Unauthorized { what },
                    403 => ApiError::Forbidden { what, message },
                    404 => ApiError::NotFound { what, message },
                    409 => ApiError::Conflict { what, message, reason },
                    422 => ApiError::Invalid { what, message, reason },
                    code => ApiError::Status { what, code, message, reason },
                }
            }
            other => ApiError::Transport { what, detail: other.to_string() },
        }
    }

    /// No answer from `server` within `limit` (a `tokio::time::timeout` that ran out).
    pub fn timeout(what: impl Into<String>, server: &str, limit: Duration) -> ApiError {
        ApiError::Timeout { what: what.into(), server: Some(server.to_string()), limit: Some(limit) }
    }

    /// The HTTP status the API answered with; None when it did not answer.
    pub fn code(&self) -> Option<u16> {
        match self {
            ApiError::Unauthorized { .. } => Some(401),
            ApiError::Forbidden { .. } => Some(403),
            ApiError::NotFound { .. } => Some(404),
            ApiError::Conflict { .. } => Some(409),
            ApiError::Invalid { .. } => Some(422),
            ApiError::Status { code, .. } => Some(*code),
            _ => None,
        }
    }

    pub fn is_not_found(&self) -> bool {
        matches!(self, ApiError::NotFound { .. })
    }

    /// Whether the API answered no for certain (nothing was changed), as opposed
    /// to no answer, or a server error that may come after the write.
    pub fn answered_no(&self) -> bool {
        self.code().is_some_and(|code| code < 500)
    }
}

/// For the callers that still carry errors as text: `?` turns an ApiError into its line.
impl From<ApiError> for String {
    fn from(error: ApiError) -> String {
        error.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: u16, reason: &str, message: &str) -> kube::Error {
        let status: kube::core::Status =
            serde_json::from_value(serde_json::json!({"code": code, "reason": reason, "message": message})).unwrap();
        kube::Error::Api(Box::new(status))
    }

    #[test]
    fn each_status_the_api_answers_maps_to_its_variant_and_says_what_it_said_before() {
        let what = "reading etcds.operator.openshift.io/cluster";
        let cases = [
            (401, "Unauthorized", "Unauthorized", "reading etcds.operator.openshift.io/cluster: the API refused the credentials (401 Unauthorized): log in again or check the kubeconfig's user"),
            (403, "Forbidden", "etcds is forbidden", "reading etcds.operator.openshift.io/cluster: not allowed (403 Forbidden): etcds is forbidden"),
            (404, "NotFound", "etcds \"cluster\" not found", "reading etcds.operator.openshift.io/cluster: not found (404): etcds \"cluster\" not found"),
            (409, "Conflict", "the object has been modified", "reading etcds.operator.openshift.io/cluster: the object has been modified (409 Conflict)"),
            (422, "Invalid", "spec.x: Invalid value", "reading etcds.operator.openshift.io/cluster: spec.x: Invalid value (422 Invalid)"),
            (503, "ServiceUnavailable", "try later", "reading etcds.operator.openshift.io/cluster: try later (503 ServiceUnavailable)"),
        ];
        for (code, reason, message, said) in cases {
            let error = ApiError::from_kube(what, &status(code, reason, message));
            assert_eq!(error.code(), Some(code));
            assert_eq!(error.to_string(), said);
            assert_eq!(String::from(error.clone()), said);
            let variant_fits = match code {
                401 => matches!(error, ApiError::Unauthorized { .. }),
                403 => matches!(error, ApiError::Forbidden { .. }),
                404 => matches!(error, ApiError::NotFound { .. }) && error.is_not_found(),
                409 => matches!(error, ApiError::Conflict { .. }),
                422 => matches!(error, ApiError::Invalid { .. }),
                _ => matches!(error, ApiError::Status { code: 503, .. }) && !error.answered_no(),
            };
            assert!(variant_fits, "{code}: {error:?}");
        }
    }

    #[test]
    fn no_answer_is_a_timeout_or_a_transport_failure() {
        let timeout = ApiError::timeout("listing CSRs", "https://api.lab:6443", Duration::from_secs(15));
        assert_eq!(timeout.to_string(), "listing CSRs: no answer from https://api.lab:6443 within 15s");
        assert_eq!(timeout.code(), None);
        assert!(!timeout.answered_no());
        let bare =
            ApiError::Timeout { what: "deleting pod/x".into(), server: None, limit: Some(Duration::from_secs(3)) };
        assert_eq!(bare.to_string(), "deleting pod/x: no answer within 3s");
        let no_limit = ApiError::Timeout { what: "listing x".into(), server: Some("https://a".into()), limit: None };
        assert_eq!(no_limit.to_string(), "listing x: no answer from https://a");
        let reset = ApiError::from_kube("watching", &kube::Error::Service("connection reset".into()));
        assert!(matches!(reset, ApiError::Transport { .. }));
        assert_eq!(reset.to_string(), "watching: the API did not answer: ServiceError: connection reset");
    }

    #[tokio::test]
    async fn a_call_that_outlasts_the_limit_is_a_timeout() {
        let config = kube::Config::new("https://127.0.0.1:9".parse().unwrap());
        let connection = super::super::Connection {
            client: kube::Client::try_from(config).unwrap(),
            server: "https://api.lab:6443".into(),
            namespace: "default".into(),
            request_timeout: Duration::from_millis(20),
        };
        let never = std::future::pending::<Result<(), kube::Error>>();
        let error = super::super::within(&connection, "reading x", never).await.unwrap_err();
        assert!(matches!(&error, ApiError::Timeout { server: Some(s), limit: Some(l), .. }
            if s == "https://api.lab:6443" && *l == Duration::from_millis(30)));
        assert_eq!(error.to_string(), "reading x: no answer from https://api.lab:6443 within 30ms");
    }
}
