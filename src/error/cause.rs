//! A field-level problem of an invalid object: Kubernetes' `StatusCause`.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::StatusCause;
use serde::Serialize;

/// One field-level problem, rendered as a `StatusCause`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cause {
    /// Kubernetes cause type, e.g. `FieldValueInvalid`, `FieldValueRequired`.
    pub reason: String,
    /// Human-readable explanation, without the field path.
    pub message: String,
    /// JSONPath-like field path, e.g. `spec.containers[0].image`.
    pub field: String,
}

impl Cause {
    /// A cause of the given Kubernetes type.
    pub fn new(reason: &str, field: impl Into<String>, message: impl Into<String>) -> Self {
        Cause {
            reason: reason.to_string(),
            message: message.into(),
            field: field.into(),
        }
    }
    /// `FieldValueInvalid`.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new("FieldValueInvalid", field, message)
    }
    /// `FieldValueRequired`.
    pub fn required(field: impl Into<String>) -> Self {
        Self::new("FieldValueRequired", field, "Required value")
    }
    /// `FieldValueForbidden`.
    pub fn forbidden(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new("FieldValueForbidden", field, message)
    }
    /// `FieldValueNotSupported`.
    pub fn not_supported(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new("FieldValueNotSupported", field, message)
    }
    /// `FieldValueTooLong`.
    pub fn too_long(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new("FieldValueTooLong", field, message)
    }
    /// `FieldValueDuplicate`.
    pub fn duplicate(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new("FieldValueDuplicate", field, message)
    }
    /// The same cause with another message.
    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = message.into();
        self
    }
    /// As a Kubernetes `StatusCause`. Its message is the error's body with its type in front,
    /// as kube-apiserver's `field.Error.ErrorBody()` makes it (`Unsupported value: "x": ...`);
    /// only the Status's own message also names the field.
    pub fn to_status_cause(&self) -> StatusCause {
        StatusCause {
            field: Some(self.field.clone()),
            message: Some(self.body()),
            reason: Some(self.reason.clone()),
        }
    }
    /// Renders as Kubernetes does in a message: `spec.x: Invalid value: ...`.
    pub fn render(&self) -> String {
        format!("{}: {}", self.field, self.body())
    }
    /// The type's words, then the detail: `Invalid value: "x": must be ...`, or the words alone.
    fn body(&self) -> String {
        let kind = match self.reason.as_str() {
            "FieldValueRequired" => "Required value",
            "FieldValueForbidden" => "Forbidden",
            "FieldValueNotSupported" => "Unsupported value",
            "FieldValueTooLong" => "Too long",
            "FieldValueDuplicate" => "Duplicate value",
            _ => "Invalid value",
        };
        if self.message == kind {
            kind.to_string()
        } else {
            format!("{kind}: {}", self.message)
        }
    }
}

impl super::Error {
    /// `Ok` when no cause was found, else 422 for the `kind` named `name` with the causes.
    pub fn invalid_unless_empty(
        kind: &'static str,
        name: Option<&str>,
        causes: Vec<Cause>,
    ) -> Result<(), Self> {
        if causes.is_empty() {
            return Ok(());
        }
        Err(super::Error::Invalid {
            kind,
            name: name.unwrap_or_default().to_string(),
            causes,
        })
    }
}
