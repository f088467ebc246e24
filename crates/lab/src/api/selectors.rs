//! Label and field selectors as the API server parses them
//! (`k8s-app=etcd`, `env!=prod`, `tier in (a,b)`, `!canary`;
//! `spec.nodeName==master-0`, `metadata.name=x`).

use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
enum Requirement {
    Equals(String, String),
    NotEquals(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct LabelSelector(Vec<Requirement>);

/// Splits on commas that are not inside parentheses.
fn split_terms(text: &str) -> Vec<String> {
    let mut terms = Vec::new();
    let mut depth = 0usize;
    let mut current = String::new();
    for c in text.chars() {
        match c {
            '(' => {
                depth += 1;
                current.push(c);
            }
            ')' => {
                depth = depth.saturating_sub(1);
                current.push(c);
            }
            ',' if depth == 0 => terms.push(std::mem::take(&mut current)),
            _ => current.push(c),
        }
    }
    terms.push(current);
    terms.into_iter().map(|t| t.trim().to_string()).filter(|t| !t.is_empty()).collect()
}

fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 316
        && key.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
}

fn set_values(text: &str) -> Option<Vec<String>> {
    let inner = text.trim().strip_prefix('(')?.strip_suffix(')')?;
    Some(inner.split(',').map(|v| v.trim().to_string()).collect())
}

impl LabelSelector {
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut requirements = Vec::new();
        for term in split_terms(text) {
            let bad = || format!("unable to parse requirement: invalid label selector term {term:?}");
            let requirement = if let Some(key) = term.strip_prefix('!') {
                Requirement::NotExists(key.trim().to_string())
            } else if let Some((key, value)) = term.split_once("!=") {
                Requirement::NotEquals(key.trim().to_string(), value.trim().to_string())
            } else if let Some((key, value)) = term.split_once("==").or_else(|| term.split_once('=')) {
                Requirement::Equals(key.trim().to_string(), value.trim().to_string())
            } else if let Some((key, rest)) = term.split_once(" notin ") {
                Requirement::NotIn(key.trim().to_string(), set_values(rest).ok_or_else(bad)?)
            } else if let Some((key, rest)) = term.split_once(" in ") {
                Requirement::In(key.trim().to_string(), set_values(rest).ok_or_else(bad)?)
            } else {
                Requirement::Exists(term.clone())
            };
            let key = match &requirement {
                Requirement::Equals(k, _)
                | Requirement::NotEquals(k, _)
                | Requirement::In(k, _)
                | Requirement::NotIn(k, _)
                | Requirement::Exists(k)
                | Requirement::NotExists(k) => k,
            };
            if !valid_key(key) {
                return Err(bad());
            }
            requirements.push(requirement);
        }
        Ok(Self(requirements))
    }

    pub fn matches(&self, object: &Value) -> bool {
        let labels = object.pointer("/metadata/labels");
        let label = |key: &str| labels.and_then(|l| l.get(key)).and_then(Value::as_str);
        self.0.iter().all(|r| match r {
            Requirement::Equals(k, v) => label(k) == Some(v.as_str()),
            Requirement::NotEquals(k, v) => label(k) != Some(v.as_str()),
            Requirement::In(k, vs) => label(k).is_some_and(|l| vs.iter().any(|v| v == l)),
            Requirement::NotIn(k, vs) => label(k).is_none_or(|l| vs.iter().all(|v| v != l)),
            Requirement::Exists(k) => label(k).is_some(),
            Requirement::NotExists(k) => label(k).is_none(),
        })
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct FieldSelector(Vec<(String, bool, String)>);

/// The fields each kind lets a client select on (as the real server, which
/// answers 400 for any other).
fn selectable(kind: &str, field: &str) -> bool {
    if matches!(field, "metadata.name" | "metadata.namespace") {
        return true;
    }
    match kind {
        "Pod" => matches!(
            field,
            "spec.nodeName"
                | "spec.restartPolicy"
                | "spec.schedulerName"
                | "spec.serviceAccountName"
                | "status.phase"
                | "status.podIP"
                | "status.nominatedNodeName"
        ),
        "Node" => field == "spec.unschedulable",
        "Secret" => field == "type",
        "Namespace" => field == "status.phase",
        "CertificateSigningRequest" => field == "spec.signerName",
        _ => false,
    }
}

fn field_value(object: &Value, field: &str) -> String {
    let pointer = format!("/{}", field.replace('.', "/"));
    match object.pointer(&pointer) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Bool(b)) => b.to_string(),
        Some(Value::Number(n)) => n.to_string(),
        // Unset booleans select as their default, as on a real server.
        _ if field == "spec.unschedulable" => "false".to_string(),
        _ => String::new(),
    }
}

impl FieldSelector {
    pub fn parse(text: &str, kind: &str) -> Result<Self, String> {
        let mut terms = Vec::new();
        for term in text.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            let (field, equal, value) = if let Some((f, v)) = term.split_once("!=") {
                (f, false, v)
            } else if let Some((f, v)) = term.split_once("==").or_else(|| term.split_once('=')) {
                (f, true, v)
            } else {
                return Err(format!("invalid selector: '{text}'; can't understand '{term}'"));
            };
            let field = field.trim();
            if !selectable(kind, field) {
                return Err(format!("field label not supported: {field}"));
            }
            terms.push((field.to_string(), equal, value.trim().to_string()));
        }
        Ok(Self(terms))
    }

    pub fn matches(&self, object: &Value) -> bool {
        self.0.iter().all(|(field, equal, value)| (field_value(object, field) == *value) == *equal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod() -> Value {
        json!({"metadata": {"name": "etcd-master-0", "namespace": "openshift-etcd",
            "labels": {"k8s-app": "etcd", "app": "etcd", "revision": "7"}},
            "spec": {"nodeName": "master-0"}, "status": {"phase": "Running"}})
    }

    #[test]
    fn label_selectors_as_kubectl_sends_them() {
        let matches = |s: &str| LabelSelector::parse(s).map(|sel| sel.matches(&pod()));
        assert_eq!(matches("k8s-app=etcd"), Ok(true));
        assert_eq!(matches("k8s-app==etcd,app=etcd"), Ok(true));
        assert_eq!(matches("app=etcd-data"), Ok(false));
        assert_eq!(matches("revision in (6,7)"), Ok(true));
        assert_eq!(matches("revision notin (6,7)"), Ok(false));
        assert_eq!(matches("!canary"), Ok(true));
        assert_eq!(matches("canary"), Ok(false));
        assert_eq!(matches("app!=etcd"), Ok(false));
        assert_eq!(matches(""), Ok(true));
        assert!(matches("a b c").is_err());
    }

    #[test]
    fn field_selectors_allow_only_the_kinds_fields() {
        let sel = FieldSelector::parse("spec.nodeName==master-0", "Pod").unwrap();
        assert!(sel.matches(&pod()));
        assert!(!FieldSelector::parse("metadata.name!=etcd-master-0", "Pod").unwrap().matches(&pod()));
        assert_eq!(
            FieldSelector::parse("spec.hostname=x", "Pod"),
            Err("field label not supported: spec.hostname".to_string())
        );
        assert!(FieldSelector::parse("spec.nodeName=x", "Secret").is_err());
    }
}
