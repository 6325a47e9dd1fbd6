//! `k8sless render`: the `instances.insert` body a pod becomes, or its user-data, printed.

use std::process::ExitCode;

use crate::config::ServiceArgs;

#[derive(clap::Args)]
pub(super) struct RenderArgs {
    /// The pod (YAML or JSON; `-` for standard input).
    #[arg(short = 'f', long = "filename")]
    file: String,
    /// Print only the cloud-init user-data, decoded: the `#cloud-config` document cloud-init
    /// runs (the body carries it gzip-compressed and base64-encoded).
    #[arg(long, conflicts_with = "user_data_raw")]
    user_data: bool,
    /// Print only the `user-data` metadata value as the body carries it (gzip, then base64).
    #[arg(long)]
    user_data_raw: bool,
    #[command(flatten)]
    args: ServiceArgs,
}

pub(super) fn render(args: RenderArgs) -> Result<ExitCode, String> {
    let text = if args.file == "-" {
        std::io::read_to_string(std::io::stdin())
            .map_err(|e| format!("reading standard input: {e}"))?
    } else {
        std::fs::read_to_string(&args.file).map_err(|e| format!("{}: {e}", args.file))?
    };
    args.args.check()?;
    let kubelet = args.args.kubelet_access(None)?;
    let (out, code) = match crate::pods::render(&text, &args.args.vm_settings(), &kubelet) {
        Ok(instance) => {
            let raw = instance.metadata_value("user-data").unwrap_or("");
            let out = if args.user_data {
                let encoding = instance.metadata_value(crate::guest::USER_DATA_ENCODING_KEY);
                crate::guest::decode_user_data(raw, encoding).map_err(|e| e.to_string())?
            } else if args.user_data_raw {
                format!("{raw}\n")
            } else {
                serde_json::to_string_pretty(&instance).map_err(|e| e.to_string())? + "\n"
            };
            (out, ExitCode::SUCCESS)
        }
        Err(e) => (
            serde_json::to_string_pretty(&e.to_status()).map_err(|e| e.to_string())? + "\n",
            ExitCode::from(1),
        ),
    };
    write_stdout(&out)?;
    Ok(code)
}

/// Writes `text` to standard output; a reader that went away (`k8sless render | head`) is not
/// an error, where `print!` would panic on the broken pipe.
fn write_stdout(text: &str) -> Result<(), String> {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(format!("writing: {e}")),
        _ => Ok(()),
    }
}
