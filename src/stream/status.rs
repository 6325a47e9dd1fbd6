//! The error stream's `Status` (remotecommand v4), as kubelet's streaming server writes it
//! (k8s.io/kubelet/pkg/cri/streaming/remotecommand: `Success`; a non-zero exit as reason
//! `NonZeroExitCode` with a cause of reason `ExitCode` whose message is the code; anything
//! else an InternalError), and as client-go and the Python client read it back.

use bytes::Bytes;
use serde_json::json;

/// `{"metadata":{},"status":"Success"}`.
pub(crate) fn success() -> Bytes {
    Bytes::from(json!({"metadata": {}, "status": "Success"}).to_string())
}

/// The process exited with `code` (non-zero); `command` as run, for the message.
pub(crate) fn exited(command: &[String], code: i32) -> Bytes {
    let message = format!(
        "command terminated with non-zero exit code: error executing command [{}], exit code {code}",
        command.join(" ")
    );
    Bytes::from(
        json!({
            "metadata": {},
            "status": "Failure",
            "message": message,
            "reason": "NonZeroExitCode",
            "details": {"causes": [{"reason": "ExitCode", "message": code.to_string()}]},
        })
        .to_string(),
    )
}

/// The command could not run (kubelet: `error executing command in container: ...`).
pub(crate) fn internal(message: &str) -> Bytes {
    Bytes::from(
        json!({
            "metadata": {},
            "status": "Failure",
            "message": format!("Internal error occurred: error executing command in container: {message}"),
            "reason": "InternalError",
            "details": {"causes": [{"message": format!("error executing command in container: {message}")}]},
            "code": 500,
        })
        .to_string(),
    )
}

/// The exit code a client reads from a `Status`: 0 for Success, the ExitCode cause, else 1
/// (as kubectl exits on any other failure); `None` when it is not a Status.
#[cfg(test)]
pub(crate) fn exit_code(status: &[u8]) -> Option<i32> {
    let v: serde_json::Value = serde_json::from_slice(status).ok()?;
    if v.get("status")?.as_str()? == "Success" {
        return Some(0);
    }
    let causes = v.pointer("/details/causes").and_then(|c| c.as_array());
    let code = causes
        .into_iter()
        .flatten()
        .find(|c| c.get("reason").and_then(|r| r.as_str()) == Some("ExitCode"))
        .and_then(|c| c.get("message")?.as_str()?.parse().ok());
    Some(code.unwrap_or(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_read_back_as_the_exit_codes_clients_return() {
        assert_eq!(exit_code(&success()), Some(0));
        let three = exited(&["sh".into(), "-c".into(), "exit 3".into()], 3);
        assert_eq!(exit_code(&three), Some(3));
        let text = String::from_utf8_lossy(&three).to_string();
        assert!(
            text.contains("error executing command [sh -c exit 3], exit code 3"),
            "{text}"
        );
        assert_eq!(exit_code(&internal("no such file")), Some(1));
        assert_eq!(exit_code(b"not json"), None);
    }
}
