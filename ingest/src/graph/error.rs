//! Classified Graph errors: what went wrong, where, and whether trying again can help.

use std::time::Duration;

/// What kind of failure, which decides retrying and what an operator must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorKind {
    /// Credentials rejected (token endpoint error, or Graph refusing a fresh token). Fix the config.
    Auth,
    /// Graph denied the request (403): a missing application permission or admin consent, or a
    /// missing licence (the message says which). `permission` is the one the endpoint needs.
    Permission { permission: String },
    /// 429, or a 503/504 with `Retry-After`: the tenant's budget is spent; wait and retry.
    Throttled,
    /// Network errors, timeouts, 5xx: likely to pass on retry.
    Transient,
    /// A response (or a request Graph rejected as bad, other 4xx) that cannot be used as it is.
    Malformed,
    /// Our own settings are unusable (bad URL, unreadable certificate PEM, …).
    Config,
}

impl ErrorKind {
    /// Short stable name, used in `collector.error` event codes (`graph.permission`).
    pub fn code(&self) -> &'static str {
        match self {
            ErrorKind::Auth => "auth",
            ErrorKind::Permission { .. } => "permission",
            ErrorKind::Throttled => "throttled",
            ErrorKind::Transient => "transient",
            ErrorKind::Malformed => "malformed",
            ErrorKind::Config => "config",
        }
    }
}

/// A failed Graph (or token endpoint) request. `message` is a complete sentence for an operator: it
/// names the endpoint and, for a permission error, the permission to grant. It never holds secrets.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("tenant {tenant}: {message}")]
pub struct GraphError {
    pub kind: ErrorKind,
    /// The Graph path without query (`/auditLogs/directoryAudits`), or `oauth2/v2.0/token`.
    pub endpoint: String,
    /// The tenant's label ([`super::TenantSettings::name`]).
    pub tenant: String,
    pub status: Option<u16>,
    pub message: String,
    /// The server's `Retry-After`, when it sent one.
    pub retry_after: Option<Duration>,
}

impl GraphError {
    pub fn new(kind: ErrorKind, endpoint: &str, tenant: &str, message: impl Into<String>) -> Self {
        GraphError {
            kind,
            endpoint: endpoint.to_owned(),
            tenant: tenant.to_owned(),
            status: None,
            message: message.into(),
            retry_after: None,
        }
    }

    /// Throttled and transient failures are retried; the others need a person or a code change,
    /// so retrying would only burn the tenant's request budget.
    pub fn is_retriable(&self) -> bool {
        matches!(self.kind, ErrorKind::Throttled | ErrorKind::Transient)
    }

    fn with_status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }
}

/// The application permission an endpoint needs, for telling the operator what to grant.
pub fn permission_for(endpoint: &str) -> &'static str {
    let e = endpoint.to_ascii_lowercase();
    if e.contains("auditlogs/directoryaudits") {
        "AuditLog.Read.All"
    } else if e.contains("roleassignmentschedulerequests") {
        // Remediation's adminRemove (the only request privtrail makes there) writes.
        "RoleManagement.ReadWrite.Directory"
    } else if e.contains("rolemanagement/directory") {
        "RoleManagement.Read.Directory"
    } else if e.starts_with("/users") {
        "User.Read.All"
    } else {
        "the permission documented for this endpoint"
    }
}

/// Remote text is untrusted and unbounded: keep one line, at most 300 characters.
fn tidy(s: &str) -> String {
    let line = s.lines().next().unwrap_or("").trim();
    let mut out: String = line.chars().take(300).collect();
    if out.len() < line.len() {
        out.push('…');
    }
    out
}

/// `{"error":{"code":…,"message":…}}`, Graph's error shape.
fn graph_error_body(body: &[u8]) -> (String, String) {
    let v: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let err = &v["error"];
    let code = err["code"].as_str().unwrap_or("").to_owned();
    let msg = err["message"].as_str().unwrap_or("").to_owned();
    (tidy(&code), tidy(&msg))
}

fn is_licence_error(code: &str, msg: &str) -> bool {
    let t = format!("{code} {msg}").to_ascii_lowercase();
    ["premium", "licen", "sku", "p1 ", "p2 "]
        .iter()
        .any(|k| t.contains(k))
}

/// Classifies a non-success Graph response.
pub(crate) fn from_graph_response(
    status: u16,
    body: &[u8],
    endpoint: &str,
    tenant: &str,
    retry_after: Option<Duration>,
) -> GraphError {
    let (code, msg) = graph_error_body(body);
    let detail = if code.is_empty() {
        format!("{status}")
    } else {
        format!("{status} {code}")
    };
    let (kind, message) = match status {
        401 => (
            ErrorKind::Auth,
            format!("Graph rejected the access token for {endpoint} ({detail}): {msg}"),
        ),
        403 => {
            let permission = permission_for(endpoint).to_owned();
            let message = if is_licence_error(&code, &msg) {
                format!(
                    "Graph request to {endpoint} was denied ({detail}): the tenant lacks the \
                     Microsoft Entra ID Premium (P1/P2) licence this endpoint needs: {msg}"
                )
            } else {
                format!(
                    "Graph request to {endpoint} was denied ({detail}): grant the application \
                     permission {permission} and admin consent"
                )
            };
            (ErrorKind::Permission { permission }, message)
        }
        429 => (
            ErrorKind::Throttled,
            format!("Graph throttled requests to {endpoint} ({detail})"),
        ),
        503 | 504 if retry_after.is_some() => (
            ErrorKind::Throttled,
            format!("Graph asked to slow down on {endpoint} ({detail})"),
        ),
        408 | 500..=599 => (
            ErrorKind::Transient,
            format!("Graph request to {endpoint} failed ({detail}): {msg}"),
        ),
        _ => (
            ErrorKind::Malformed,
            format!("Graph rejected the request to {endpoint} ({detail}): {msg}"),
        ),
    };
    let mut e = GraphError::new(kind, endpoint, tenant, message).with_status(status);
    e.retry_after = retry_after;
    e
}

/// Classifies a token endpoint error (`{"error":"invalid_client","error_description":"AADSTS…"}`).
pub(crate) fn from_token_response(
    status: u16,
    body: &[u8],
    tenant: &str,
    retry_after: Option<Duration>,
) -> GraphError {
    const ENDPOINT: &str = "oauth2/v2.0/token";
    let v: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let error = tidy(v["error"].as_str().unwrap_or(""));
    let desc = v["error_description"].as_str().unwrap_or("");
    let aadsts =
        aadsts_code(desc).or_else(|| v["error_codes"][0].as_u64().map(|c| format!("AADSTS{c}")));
    let mut detail = status.to_string();
    for part in [Some(error), aadsts].into_iter().flatten() {
        if !part.is_empty() {
            detail.push(' ');
            detail.push_str(&part);
        }
    }
    let desc =
        tidy(desc.split_once(": ").map_or(
            desc,
            |(c, rest)| {
                if c.starts_with("AADSTS") { rest } else { desc }
            },
        ));
    let (kind, what) = match status {
        429 => (ErrorKind::Throttled, "was throttled"),
        408 | 500..=599 => (ErrorKind::Transient, "failed"),
        _ => (
            ErrorKind::Auth,
            "was refused, check the client id, secret or certificate",
        ),
    };
    let message = format!("token request {what} ({detail}): {desc}");
    let mut e = GraphError::new(kind, ENDPOINT, tenant, message).with_status(status);
    e.retry_after = retry_after;
    e
}

/// `AADSTS7000215` from `"AADSTS7000215: Invalid client secret provided. …"`.
fn aadsts_code(desc: &str) -> Option<String> {
    let start = desc.find("AADSTS")?;
    let digits: String = desc[start + 6..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    (!digits.is_empty()).then(|| format!("AADSTS{digits}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forbidden_names_the_permission() {
        let body = br#"{"error":{"code":"Authorization_RequestDenied","message":"Insufficient privileges to complete the operation."}}"#;
        let e = from_graph_response(403, body, "/auditLogs/directoryAudits", "contoso", None);
        assert_eq!(
            e.kind,
            ErrorKind::Permission {
                permission: "AuditLog.Read.All".into()
            }
        );
        assert!(!e.is_retriable());
        assert_eq!(
            e.message,
            "Graph request to /auditLogs/directoryAudits was denied (403 \
             Authorization_RequestDenied): grant the application permission AuditLog.Read.All \
             and admin consent"
        );
        let e = from_graph_response(403, b"", "/users/{id}", "t", None);
        assert!(e.message.contains("User.Read.All"));
        let e = from_graph_response(
            403,
            b"",
            "/roleManagement/directory/roleDefinitions",
            "t",
            None,
        );
        assert!(e.message.contains("RoleManagement.Read.Directory"));
    }

    #[test]
    fn licence_errors_say_so() {
        let body = br#"{"error":{"code":"Authentication_RequestFromNonPremiumTenantOrB2CTenant","message":"Neither tenant is B2C or tenant doesn't have premium license"}}"#;
        let e = from_graph_response(403, body, "/auditLogs/directoryAudits", "t", None);
        assert!(matches!(e.kind, ErrorKind::Permission { .. }));
        assert!(e.message.contains("licence"), "{}", e.message);
    }

    #[test]
    fn token_errors_carry_the_aadsts_code() {
        let body = br#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided.\r\nTrace ID: x","error_codes":[7000215]}"#;
        let e = from_token_response(400, body, "t", None);
        assert_eq!(e.kind, ErrorKind::Auth);
        assert!(!e.is_retriable());
        assert!(
            e.message.contains("invalid_client AADSTS7000215"),
            "{}",
            e.message
        );
        assert!(
            e.message.ends_with("Invalid client secret provided."),
            "{}",
            e.message
        );
        assert!(from_token_response(503, b"", "t", None).is_retriable());
    }

    #[test]
    fn throttling_and_server_errors_are_retriable() {
        let ra = Some(Duration::from_secs(1));
        assert_eq!(
            from_graph_response(429, b"", "/x", "t", ra).kind,
            ErrorKind::Throttled
        );
        assert_eq!(
            from_graph_response(503, b"", "/x", "t", ra).kind,
            ErrorKind::Throttled
        );
        assert_eq!(
            from_graph_response(503, b"", "/x", "t", None).kind,
            ErrorKind::Transient
        );
        assert_eq!(
            from_graph_response(400, b"", "/x", "t", None).kind,
            ErrorKind::Malformed
        );
    }

    #[test]
    fn each_endpoint_names_the_permission_it_needs() {
        for (endpoint, permission) in [
            ("/auditLogs/directoryAudits", "AuditLog.Read.All"),
            (
                "/roleManagement/directory/roleAssignmentScheduleInstances",
                "RoleManagement.Read.Directory",
            ),
            (
                "/roleManagement/directory/roleAssignmentScheduleRequests",
                "RoleManagement.ReadWrite.Directory",
            ),
            ("/users/{id}", "User.Read.All"),
        ] {
            assert_eq!(permission_for(endpoint), permission, "{endpoint}");
            let e = from_graph_response(403, b"", endpoint, "t", None);
            assert!(e.message.contains(permission), "{}", e.message);
        }
    }
}
