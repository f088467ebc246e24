//! Kubernetes-shaped failures: every error the lab's API answers is a
//! `Status` object with the code, reason and message a real server gives, so
//! kubectl prints `Error from server (NotFound): ...` and kube-rs sees the
//! same `ErrorResponse` it would in production.

use serde_json::{json, Value};

use super::catalog::ResourceType;

#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
    pub details: Option<Value>,
}

fn details(rt: &ResourceType, name: &str) -> Value {
    let mut d = json!({"name": name, "kind": rt.plural});
    if !rt.group.is_empty() {
        d["group"] = json!(rt.group);
    }
    d
}

impl ApiError {
    pub(crate) fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        Self { code, reason, message: message.into(), details: None }
    }

    pub fn not_found(rt: &ResourceType, name: &str) -> Self {
        Self {
            details: Some(details(rt, name)),
            ..Self::new(404, "NotFound", format!("{} \"{name}\" not found", rt.qualified()))
        }
    }

    pub fn namespace_not_found(namespace: &str) -> Self {
        Self {
            details: Some(json!({"name": namespace, "kind": "namespaces"})),
            ..Self::new(404, "NotFound", format!("namespaces \"{namespace}\" not found"))
        }
    }

    /// An unknown path, group, version or resource.
    pub fn no_such_resource() -> Self {
        Self::new(404, "NotFound", "the server could not find the requested resource")
    }

    pub fn already_exists(rt: &ResourceType, name: &str) -> Self {
        Self {
            details: Some(details(rt, name)),
            ..Self::new(409, "AlreadyExists", format!("{} \"{name}\" already exists", rt.qualified()))
        }
    }

    /// 409 Conflict: "Operation cannot be fulfilled on <resource> "<name>": <why>".
    fn cannot_fulfil(rt: &ResourceType, name: &str, why: &str) -> Self {
        Self {
            details: Some(details(rt, name)),
            ..Self::new(
                409,
                "Conflict",
                format!("Operation cannot be fulfilled on {} \"{name}\": {why}", rt.qualified()),
            )
        }
    }

    pub fn conflict(rt: &ResourceType, name: &str) -> Self {
        Self::cannot_fulfil(
            rt,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        )
    }

    /// A delete whose preconditions no longer hold.
    pub fn precondition_failed(rt: &ResourceType, name: &str, field: &str, wanted: &str, actual: &str) -> Self {
        let label = if field == "uid" { "UID" } else { "ResourceVersion" };
        Self::cannot_fulfil(
            rt,
            name,
            &format!("Precondition failed: {label} in precondition: {wanted}, {label} in object meta: {actual}"),
        )
    }

    /// 422 with one cause per invalid field.
    pub fn invalid(rt: &ResourceType, name: &str, causes: &[FieldCause]) -> Self {
        let texts = causes.iter().map(FieldCause::text).collect::<Vec<_>>();
        let summary = if texts.len() == 1 { texts.join("") } else { format!("[{}]", texts.join(", ")) };
        let kind = if rt.group.is_empty() { rt.kind.to_string() } else { format!("{}.{}", rt.kind, rt.group) };
        let mut d = details(rt, name);
        d["kind"] = json!(rt.kind);
        d["causes"] = causes
            .iter()
            .map(|c| json!({"reason": c.reason, "message": c.message, "field": c.field}))
            .collect::<Vec<_>>()
            .into();
        Self { details: Some(d), ..Self::new(422, "Invalid", format!("{kind} \"{name}\" is invalid: {summary}")) }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    pub fn unauthorized() -> Self {
        Self::new(401, "Unauthorized", "Unauthorized")
    }

    pub fn forbidden(
        user: &str,
        verb: &str,
        rt: &ResourceType,
        sub: Option<&str>,
        namespace: Option<&str>,
        name: Option<&str>,
    ) -> Self {
        let resource = match sub {
            Some(sub) => format!("{}/{sub}", rt.plural),
            None => rt.plural.to_string(),
        };
        let subject = match name {
            Some(name) => format!("{} \"{name}\"", rt.qualified()),
            None => rt.qualified(),
        };
        let scope = match namespace {
            Some(ns) => format!("in the namespace \"{ns}\""),
            None => "at the cluster scope".to_string(),
        };
        let mut d = details(rt, name.unwrap_or(""));
        if let (None, Some(o)) = (name, d.as_object_mut()) {
            o.remove("name");
        }
        Self {
            details: Some(d),
            ..Self::new(
                403,
                "Forbidden",
                format!(
                    "{subject} is forbidden: User \"{user}\" cannot {verb} resource \"{resource}\" in API group \"{}\" {scope}",
                    rt.group
                ),
            )
        }
    }

    pub fn method_not_allowed(message: impl Into<String>) -> Self {
        Self::new(405, "MethodNotAllowed", message)
    }

    pub fn unsupported_media_type() -> Self {
        Self::new(
            415,
            "UnsupportedMediaType",
            "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json",
        )
    }

    pub fn too_large() -> Self {
        Self::new(413, "RequestEntityTooLarge", "Request entity too large: limit is 3145728")
    }

    /// A watch asked to resume from a revision the server no longer keeps.
    pub fn expired(requested: u64, oldest: u64) -> Self {
        Self::new(410, "Expired", format!("too old resource version: {requested} ({oldest})"))
    }

    pub fn status(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let Some(details) = &self.details {
            status["details"] = details.clone();
        }
        status
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct FieldCause {
    pub reason: &'static str,
    pub field: String,
    pub message: String,
}

impl FieldCause {
    pub fn required(field: &str) -> Self {
        Self { reason: "FieldValueRequired", field: field.into(), message: "Required value".into() }
    }

    pub fn not_supported(field: &str, value: &str, supported: &[&str]) -> Self {
        let list = supported.iter().map(|s| format!("\"{s}\"")).collect::<Vec<_>>().join(", ");
        Self {
            reason: "FieldValueNotSupported",
            field: field.into(),
            message: format!("Unsupported value: \"{value}\": supported values: {list}"),
        }
    }

    pub fn invalid(field: &str, value: &str, why: &str) -> Self {
        Self { reason: "FieldValueInvalid", field: field.into(), message: format!("Invalid value: \"{value}\": {why}") }
    }

    fn text(&self) -> String {
        format!("{}: {}", self.field, self.message)
    }
}
