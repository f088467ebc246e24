//! The checks behind a 422: object names, and the fields of the runbooks'
//! objects that the real API validates (encryption type, CSR request,
//! replicas, pausedUntil).

use serde_json::Value;

use super::catalog::ResourceType;
use super::errors::FieldCause;

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric())
}

pub const MAX_REPLICAS: i64 = 100;

pub fn check(rt: &ResourceType, name: &str, object: &Value) -> Vec<FieldCause> {
    let mut causes = Vec::new();
    if name.is_empty() {
        causes.push(FieldCause::required("metadata.name"));
    } else if !valid_name(name) {
        causes.push(FieldCause::invalid(
            "metadata.name",
            name,
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
        ));
    }
    let string_map = |pointer: &str| {
        object
            .pointer(pointer)
            .is_none_or(|m| m.is_null() || m.as_object().is_some_and(|m| m.values().all(Value::is_string)))
    };
    for (pointer, field) in [("/metadata/labels", "metadata.labels"), ("/metadata/annotations", "metadata.annotations")]
    {
        if !string_map(pointer) {
            causes.push(FieldCause::invalid(field, "", "must be a map of strings"));
        }
    }
    if !object
        .pointer("/metadata/finalizers")
        .is_none_or(|f| f.is_null() || f.as_array().is_some_and(|f| f.iter().all(Value::is_string)))
    {
        causes.push(FieldCause::invalid("metadata.finalizers", "", "must be a list of strings"));
    }
    for field in ["spec", "status"] {
        if object.get(field).is_some_and(|v| !(v.is_object() || v.is_null())) {
            causes.push(FieldCause::invalid(field, "", "must be an object"));
        }
    }
    match (rt.group, rt.kind) {
        ("config.openshift.io", "APIServer") => {
            if let Some(kind) = object.pointer("/spec/encryption/type").and_then(Value::as_str) {
                const SUPPORTED: &[&str] = &["", "identity", "aescbc", "aesgcm"];
                if !SUPPORTED.contains(&kind) {
                    causes.push(FieldCause::not_supported("spec.encryption.type", kind, SUPPORTED));
                }
            }
        }
        ("certificates.k8s.io", "CertificateSigningRequest") => {
            if object.pointer("/spec/request").and_then(Value::as_str).is_none_or(str::is_empty) {
                causes.push(FieldCause::required("spec.request"));
            }
            if object.pointer("/spec/signerName").and_then(Value::as_str).is_none_or(str::is_empty) {
                causes.push(FieldCause::required("spec.signerName"));
            }
        }
        ("apps", _) | ("hypershift.openshift.io", "NodePool") => {
            if let Some(replicas) = object.pointer("/spec/replicas") {
                match replicas.as_i64() {
                    Some(r) if r < 0 => causes.push(FieldCause::invalid(
                        "spec.replicas",
                        &replicas.to_string(),
                        "must be greater than or equal to 0",
                    )),
                    // The lab makes a pod object per replica; more than this is a typo, not a rehearsal.
                    Some(r) if r > MAX_REPLICAS => causes.push(FieldCause::invalid(
                        "spec.replicas",
                        &replicas.to_string(),
                        &format!("the lab runs at most {MAX_REPLICAS} replicas"),
                    )),
                    Some(_) => {}
                    None => {
                        causes.push(FieldCause::invalid("spec.replicas", &replicas.to_string(), "must be an integer"))
                    }
                }
            }
        }
        ("admissionregistration.k8s.io", _) => check_webhooks(object, &mut causes),
        ("hypershift.openshift.io", "HostedCluster") => {
            if let Some(paused) = object.pointer("/spec/pausedUntil").and_then(Value::as_str) {
                if !(paused.is_empty() || paused == "true" || humantime::parse_rfc3339(paused).is_ok()) {
                    causes.push(FieldCause::invalid("spec.pausedUntil", paused, "must be \"true\" or an RFC3339 date"));
                }
            }
        }
        _ => {}
    }
    causes
}

/// The webhooks of a Validating- or MutatingWebhookConfiguration, as
/// admissionregistration.k8s.io/v1 validates them.
fn check_webhooks(object: &Value, causes: &mut Vec<FieldCause>) {
    let Some(webhooks) = object.get("webhooks").filter(|w| !w.is_null()) else { return };
    let Some(webhooks) = webhooks.as_array() else {
        causes.push(FieldCause::invalid("webhooks", "", "must be a list"));
        return;
    };
    let text = |v: &Value| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string());
    let mut names: Vec<&str> = Vec::new();
    for (i, webhook) in webhooks.iter().enumerate() {
        let field = |name: &str| format!("webhooks[{i}].{name}");
        let name = webhook.get("name").and_then(Value::as_str).unwrap_or("");
        if name.is_empty() {
            causes.push(FieldCause::required(&field("name")));
        } else if !(valid_name(name) && name.split('.').count() >= 3) {
            causes.push(FieldCause::invalid(
                &field("name"),
                name,
                "should be a domain with at least three segments separated by dots",
            ));
        } else if names.contains(&name) {
            causes.push(FieldCause {
                reason: "FieldValueDuplicate",
                field: field("name"),
                message: format!("Duplicate value: \"{name}\""),
            });
        } else {
            names.push(name);
        }
        let choices: [(&str, &[&str], bool); 3] = [
            ("failurePolicy", &["Fail", "Ignore"], false),
            ("matchPolicy", &["Equivalent", "Exact"], false),
            ("sideEffects", &["None", "NoneOnDryRun"], true),
        ];
        for (key, supported, required) in choices {
            match webhook.get(key).filter(|v| !v.is_null()) {
                None if required => causes.push(FieldCause::required(&field(key))),
                None => {}
                Some(value) if value.as_str().is_some_and(|v| supported.contains(&v)) => {}
                Some(value) => causes.push(FieldCause::not_supported(&field(key), &text(value), supported)),
            }
        }
        let versions = webhook.get("admissionReviewVersions").and_then(Value::as_array);
        if versions.is_none_or(Vec::is_empty) {
            causes.push(FieldCause::required(&field("admissionReviewVersions")));
        } else if !versions.is_some_and(|v| v.iter().any(|v| v == "v1" || v == "v1beta1")) {
            causes.push(FieldCause::invalid(
                &field("admissionReviewVersions"),
                "",
                "must include at least one of v1, v1beta1",
            ));
        }
        if let Some(timeout) = webhook.get("timeoutSeconds").filter(|v| !v.is_null()) {
            if !timeout.as_i64().is_some_and(|t| (1..=30).contains(&t)) {
                causes.push(FieldCause::invalid(
                    &field("timeoutSeconds"),
                    &text(timeout),
                    "the timeout value must be between 1 and 30 seconds",
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::catalog;
    use super::*;
    use serde_json::json;

    #[test]
    fn an_unknown_encryption_type_is_invalid() {
        let rt = catalog::get(catalog::find("config.openshift.io", "v1", "apiservers").unwrap());
        let causes = check(rt, "cluster", &json!({"spec": {"encryption": {"type": "rot13"}}}));
        assert_eq!(causes.len(), 1);
        assert_eq!(causes[0].field, "spec.encryption.type");
        assert!(check(rt, "cluster", &json!({"spec": {"encryption": {"type": "aesgcm"}}})).is_empty());
        assert_eq!(check(rt, "Cluster", &json!({})).len(), 1);
    }

    #[test]
    fn shapes_the_controllers_rely_on_are_enforced() {
        let rt = catalog::get(catalog::find("apps", "v1", "deployments").unwrap());
        assert_eq!(check(rt, "d", &json!({"spec": "x"}))[0].field, "spec");
        assert_eq!(check(rt, "d", &json!({"metadata": {"labels": "x"}}))[0].field, "metadata.labels");
        assert_eq!(check(rt, "d", &json!({"spec": {"replicas": 100_000_000}}))[0].field, "spec.replicas");
        assert!(check(rt, "d", &json!({"spec": {"replicas": 3}, "metadata": {"labels": {"app": "x"}}})).is_empty());
    }

    #[test]
    fn webhooks_take_only_the_failure_policies_the_api_knows() {
        let rt = catalog::get(
            catalog::find("admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations").unwrap(),
        );
        let hook = |policy: &str| {
            json!({"webhooks": [{"name": "policy.lab.example.io", "failurePolicy": policy,
                "sideEffects": "None", "admissionReviewVersions": ["v1"]}]})
        };
        assert!(check(rt, "lab-policy", &hook("Ignore")).is_empty());
        assert!(check(rt, "lab-policy", &hook("Fail")).is_empty());
        let causes = check(rt, "lab-policy", &hook("Sometimes"));
        assert_eq!(causes.len(), 1);
        assert_eq!(causes[0].field, "webhooks[0].failurePolicy");
        assert_eq!(causes[0].message, r#"Unsupported value: "Sometimes": supported values: "Fail", "Ignore""#);
        let missing = check(rt, "lab-policy", &json!({"webhooks": [{"name": "short"}]}));
        let fields: Vec<&str> = missing.iter().map(|c| c.field.as_str()).collect();
        assert_eq!(fields, ["webhooks[0].name", "webhooks[0].sideEffects", "webhooks[0].admissionReviewVersions"]);
        assert!(check(rt, "lab-policy", &json!({})).is_empty());
    }
}
