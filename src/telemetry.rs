//! Logs: JSON lines in Cloud Logging's structured format (`severity`, `message`, `time`,
//! `logging.googleapis.com/trace`, `httpRequest`), or plain text for people.
//!
//! Why not tracing-stackdriver: without its `opentelemetry` feature it puts span fields under
//! a nested `span` object, where Cloud Logging does not look for the trace, and that feature
//! pulls in the opentelemetry stack. The formatter below is the part we need: every event
//! inside a request span carries the request's trace id at the top level, so Cloud Logging
//! groups a request's lines under its trace.

pub(crate) mod request;

use std::fmt;

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::{EnvFilter, fmt as tfmt};

/// `json` or `text`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Cloud Logging structured JSON.
    Json,
    /// Human-readable.
    Text,
}

/// Installs the global subscriber. `project` qualifies trace ids.
pub(crate) fn init(format: LogFormat, project: &str) {
    // hyper and rustls are chatty at debug; keep them at warn unless RUST_LOG says otherwise.
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,hyper=warn,rustls=warn,reqwest=warn"));
    let result = match format {
        LogFormat::Json => tfmt()
            .with_env_filter(filter)
            .fmt_fields(tfmt::format::JsonFields::new())
            .event_format(CloudLogging {
                project: project.to_string(),
            })
            .with_writer(std::io::stdout)
            .try_init(),
        LogFormat::Text => tfmt()
            .with_env_filter(filter)
            // Colours for a terminal only: escapes are noise in a file, and styling every
            // request span's fields was a twentieth of a pod `GET`'s time.
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .event_format(request::Text)
            .with_writer(std::io::stderr)
            .try_init(),
    };
    // A second init (tests) keeps the first subscriber.
    drop(result);
}

/// The Cloud Logging JSON formatter.
#[derive(Debug)]
pub(crate) struct CloudLogging {
    project: String,
}

struct Fields(Map<String, Value>);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.insert(
            field.name().to_string(),
            Value::String(format!("{value:?}")),
        );
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0
            .insert(field.name().to_string(), Value::String(value.to_string()));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().to_string(), value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().to_string(), value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().to_string(), value.into());
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().to_string(), value.into());
    }
}

fn severity(level: &Level) -> &'static str {
    match *level {
        Level::ERROR => "ERROR",
        Level::WARN => "WARNING",
        Level::INFO => "INFO",
        _ => "DEBUG",
    }
}

impl<S, N> FormatEvent<S, N> for CloudLogging
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut fields = Fields(Map::new());
        event.record(&mut fields);
        let mut out = Map::new();
        out.insert("severity".into(), severity(event.metadata().level()).into());
        out.insert("time".into(), jiff::Timestamp::now().to_string().into());
        out.insert("target".into(), event.metadata().target().into());
        if let Some(message) = fields.0.remove("message") {
            out.insert("message".into(), message);
        }
        request::with_current(|c| {
            if !c.trace.is_empty() {
                out.insert(
                    "logging.googleapis.com/trace".into(),
                    format!("projects/{}/traces/{}", self.project, c.trace).into(),
                );
            }
            out.insert("method".into(), c.method.as_str().into());
            out.insert("path".into(), c.path.as_str().into());
            if let Some(user) = c.user() {
                out.insert("user".into(), user.into());
            }
        });
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                let ext = span.extensions();
                let Some(formatted) = ext.get::<FormattedFields<N>>() else {
                    continue;
                };
                let Ok(Value::Object(span_fields)) =
                    serde_json::from_str::<Value>(formatted.as_str())
                else {
                    continue;
                };
                for (k, v) in span_fields {
                    if k == "trace" {
                        if let Some(id) = v.as_str().filter(|s| !s.is_empty()) {
                            out.insert(
                                "logging.googleapis.com/trace".into(),
                                format!("projects/{}/traces/{id}", self.project).into(),
                            );
                        }
                    } else {
                        out.insert(k, v);
                    }
                }
            }
        }
        for (k, v) in fields.0 {
            out.insert(k, v);
        }
        let line = serde_json::to_string(&Value::Object(out)).map_err(|_| fmt::Error)?;
        writeln!(writer, "{line}")
    }
}

/// The trace id of a request: `X-Cloud-Trace-Context: TRACE/SPAN;o=1` or W3C
/// `traceparent: 00-TRACE-SPAN-01`.
pub(crate) fn trace_id(cloud: Option<&str>, traceparent: Option<&str>) -> Option<String> {
    if let Some(t) = traceparent {
        let parts: Vec<&str> = t.split('-').collect();
        if parts.len() == 4
            && parts[1].len() == 32
            && parts[1].bytes().all(|b| b.is_ascii_hexdigit())
        {
            return Some(parts[1].to_ascii_lowercase());
        }
    }
    let c = cloud?;
    let id = c.split('/').next()?;
    (!id.is_empty() && id.len() <= 32 && id.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| id.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_headers() {
        assert_eq!(
            trace_id(Some("105445aa7843bc8bf206b12000100000/1;o=1"), None).as_deref(),
            Some("105445aa7843bc8bf206b12000100000")
        );
        assert_eq!(
            trace_id(
                None,
                Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
            )
            .as_deref(),
            Some("4bf92f3577b34da6a3ce929d0e0e4736")
        );
        assert_eq!(trace_id(Some("not hex/1"), None), None);
        assert_eq!(trace_id(None, None), None);
    }
}
