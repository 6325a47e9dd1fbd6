//! What every log line written while a request is handled names: its trace id, method, path
//! and caller. Kept in a task-local [`RequestContext`] that the formatters read when a line is
//! written, instead of a `tracing` span opened per request: a span formats its fields into a
//! string when it opens (and again when `user` is recorded), takes a slot in the registry, and
//! is entered and left on every poll, about a tenth of a pod `GET`'s time (perf,
//! docs/benchmarks.md, issue 18's fifth part), though most requests never log a line. Read
//! lazily, the context costs nothing until something logs.
//!
//! A task-local is seen by what runs in the request's task, which is what a span instrumenting
//! the request's future covered too; neither follows a task the handler spawns.

use std::cell::OnceCell;
use std::fmt;
use std::future::Future;

use axum::http::Method;
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

/// One request's fields for its log lines.
#[derive(Debug)]
pub(crate) struct RequestContext {
    /// The trace id (`X-Cloud-Trace-Context` or `traceparent`), empty without one.
    pub(crate) trace: String,
    pub(crate) method: Method,
    pub(crate) path: String,
    /// Who asked: set by the authorization middleware once it knows ([`record_user`]).
    user: OnceCell<String>,
}

impl RequestContext {
    pub(crate) fn new(trace: String, method: Method, path: String) -> Self {
        RequestContext {
            trace,
            method,
            path,
            user: OnceCell::new(),
        }
    }

    /// The caller, once authenticated.
    pub(crate) fn user(&self) -> Option<&str> {
        self.user.get().map(String::as_str)
    }
}

tokio::task_local! {
    static REQUEST: RequestContext;
}

/// Runs `future` as the request `context` describes: every line it logs names the request.
pub(crate) async fn scope<F: Future>(context: RequestContext, future: F) -> F::Output {
    REQUEST.scope(context, future).await
}

/// Runs `f` with the current request's context, if this task is handling one.
pub(crate) fn with_current<R>(f: impl FnOnce(&RequestContext) -> R) -> Option<R> {
    REQUEST.try_with(f).ok()
}

/// Names the caller of the current request in its later log lines (the first name sticks).
pub(crate) fn record_user(name: &str) {
    with_current(|c| {
        c.user.get_or_init(|| name.to_string());
    });
}

/// The text format (`--log-format text`): the default `tracing_subscriber` line, with the
/// request's fields where the request span's were:
/// `TIME LEVEL request{trace=.. method=GET path=/x user=u}: message key=value`.
#[derive(Debug, Default)]
pub(crate) struct Text;

impl<S, N> FormatEvent<S, N> for Text
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
        let level = *event.metadata().level();
        let time = jiff::Timestamp::now();
        if writer.has_ansi_escapes() {
            write!(
                writer,
                "\x1b[2m{time:.6}\x1b[0m {}{level:>5}\x1b[0m ",
                colour(level)
            )?;
        } else {
            write!(writer, "{time:.6} {level:>5} ")?;
        }
        with_current(|c| {
            write!(
                writer,
                "request{{trace={} method={} path={}",
                c.trace, c.method, c.path
            )?;
            if let Some(user) = c.user() {
                write!(writer, " user={user}")?;
            }
            writer.write_str("}: ")
        })
        .transpose()?;
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                write!(writer, "{}", span.name())?;
                let ext = span.extensions();
                match ext.get::<FormattedFields<N>>() {
                    Some(f) if !f.is_empty() => write!(writer, "{{{f}}}: ")?,
                    _ => writer.write_str(": ")?,
                }
            }
        }
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}

fn colour(level: Level) -> &'static str {
    match level {
        Level::ERROR => "\x1b[31m",
        Level::WARN => "\x1b[33m",
        Level::INFO => "\x1b[32m",
        Level::DEBUG => "\x1b[34m",
        _ => "\x1b[35m",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// A writer that keeps what the subscriber writes.
    #[derive(Clone, Default)]
    pub(crate) struct Captured(pub(crate) Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("lock").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Captured {
        pub(crate) fn text(&self) -> String {
            String::from_utf8_lossy(&self.0.lock().expect("lock")).into_owned()
        }
    }

    #[test]
    fn a_line_logged_in_a_request_names_it_and_one_outside_does_not() {
        let out = Captured::default();
        let sink = out.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .event_format(Text)
            .with_writer(move || sink.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let context = RequestContext::new("abc".into(), Method::GET, "/api/v1/x".into());
            REQUEST.sync_scope(context, || {
                tracing::info!("before");
                record_user("alice@example.com");
                record_user("ignored");
                let inner = tracing::info_span!("gce", method = "insert");
                inner.in_scope(|| tracing::warn!(status = 404, "inside"));
            });
            tracing::info!("outside");
        });
        let text = out.text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(
            lines[0].ends_with("INFO request{trace=abc method=GET path=/api/v1/x}: before"),
            "{text}"
        );
        assert!(
            lines[1].ends_with(
                " WARN request{trace=abc method=GET path=/api/v1/x user=alice@example.com}: \
                 gce{method=\"insert\"}: inside status=404"
            ),
            "{text}"
        );
        assert!(lines[2].ends_with(" INFO outside"), "{text}");
    }

    #[test]
    fn a_cloud_logging_line_in_a_request_carries_its_trace_and_caller_at_the_top_level() {
        let out = Captured::default();
        let sink = out.clone();
        let subscriber = tracing_subscriber::fmt()
            .fmt_fields(tracing_subscriber::fmt::format::JsonFields::new())
            .event_format(super::super::CloudLogging {
                project: "p".into(),
            })
            .with_writer(move || sink.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let context = RequestContext::new("abc".into(), Method::POST, "/pods".into());
            REQUEST.sync_scope(context, || {
                record_user("bob@example.com");
                tracing::info!(status = 409, "request rejected");
            });
            let untraced = RequestContext::new(String::new(), Method::GET, "/x".into());
            REQUEST.sync_scope(untraced, || tracing::error!("no trace"));
        });
        let text = out.text();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("a JSON line"))
            .collect();
        assert_eq!(lines.len(), 2, "{text}");
        let first = &lines[0];
        assert_eq!(
            first["logging.googleapis.com/trace"],
            "projects/p/traces/abc"
        );
        assert_eq!(first["method"], "POST");
        assert_eq!(first["path"], "/pods");
        assert_eq!(first["user"], "bob@example.com");
        assert_eq!(first["status"], 409);
        assert_eq!(first["severity"], "INFO");
        assert_eq!(first["message"], "request rejected");
        let second = &lines[1];
        assert!(
            second.get("logging.googleapis.com/trace").is_none(),
            "{text}"
        );
        assert!(second.get("user").is_none(), "{text}");
        assert_eq!(second["path"], "/x");
        assert_eq!(second["severity"], "ERROR");
    }
}
