//! Configuration from flags and environment (the configuration table in README.md is the table), shared by
//! `serve`, `dev` and `render`.

use std::time::Duration;

use clap::Args;

use crate::auth::identity::IdentityMode;
use crate::gce::catalog;
use crate::telemetry::LogFormat;
use crate::translate::VmSettings;

/// Parses `90s`, `10m`, `4h`, `1d` or plain seconds.
pub(crate) fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, mult) = match s.chars().last() {
        Some('s') => (&s[..s.len() - 1], 1),
        Some('m') => (&s[..s.len() - 1], 60),
        Some('h') => (&s[..s.len() - 1], 3600),
        Some('d') => (&s[..s.len() - 1], 86400),
        _ => (s, 1),
    };
    let n: f64 = num
        .parse()
        .map_err(|_| format!("invalid duration {s:?}: use e.g. 90s, 10m, 4h"))?;
    if !(0.0..=1e9).contains(&n) {
        return Err(format!("invalid duration {s:?}"));
    }
    Ok(Duration::from_secs_f64(n * f64::from(mult)))
}

/// `value` when it is set and not empty (an empty flag or variable counts as unset).
fn given(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|v| !v.is_empty())
}

fn list(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(str::to_string)
        .collect()
}

/// Settings common to `serve`, `dev` and `render`.
#[derive(Debug, Clone, Args)]
pub struct ServiceArgs {
    /// Address to listen on (default 0.0.0.0:$PORT or 0.0.0.0:8080; dev: 127.0.0.1:8080).
    #[arg(long, env = "K8SLESS_LISTEN")]
    pub listen: Option<String>,
    /// Google Cloud project of the VMs.
    #[arg(long, env = "K8SLESS_PROJECT")]
    pub project: Option<String>,
    /// Region of the VMs.
    #[arg(long, env = "K8SLESS_REGION", default_value = "us-central1")]
    pub region: String,
    /// Default zone (default: <region>-a).
    #[arg(long, env = "K8SLESS_ZONE")]
    pub zone: Option<String>,
    /// Allowed zones in fallback order, comma-separated (default: the region's zones).
    #[arg(long, env = "K8SLESS_ZONES")]
    pub zones: Option<String>,
    /// Cloud Storage bucket of pod records and logs.
    #[arg(long, env = "K8SLESS_BUCKET")]
    pub bucket: Option<String>,
    /// This deployment's id: the `k8sless-deployment` label of its VMs and the tag in their
    /// names (default: the bucket name, label-sanitized).
    #[arg(long, env = "K8SLESS_DEPLOYMENT")]
    pub deployment: Option<String>,
    /// Pub/Sub topic guests publish to (projects/P/topics/T).
    #[arg(long, env = "K8SLESS_TOPIC")]
    pub topic: Option<String>,
    /// The service's own URL (token audience).
    #[arg(long, env = "K8SLESS_SERVICE_URL")]
    pub service_url: Option<String>,
    /// Machine families sizing may choose from.
    #[arg(
        long,
        env = "K8SLESS_MACHINE_FAMILIES",
        default_value = "e2,n2d,n2,c3,c4"
    )]
    pub machine_families: String,
    /// Machine type of pods that state no CPU or memory.
    #[arg(
        long,
        env = "K8SLESS_DEFAULT_MACHINE_TYPE",
        default_value = "e2-standard-2"
    )]
    pub default_machine_type: String,
    /// Let sizing choose e2/n2/n2d custom machine types when cheaper.
    #[arg(long, env = "K8SLESS_CUSTOM_MACHINE_TYPES", default_value_t = false, action = clap::ArgAction::Set)]
    pub custom_machine_types: bool,
    /// Accelerator for GPU pods without a gke-accelerator selector.
    #[arg(long, env = "K8SLESS_DEFAULT_ACCELERATOR")]
    pub default_accelerator: Option<String>,
    /// Cap on a VM's run time.
    #[arg(long, env = "K8SLESS_MAX_RUNTIME", default_value = "4h", value_parser = parse_duration)]
    pub max_runtime: Duration,
    /// The VMs' service account (default: the project's default compute account).
    #[arg(long, env = "K8SLESS_GUEST_SERVICE_ACCOUNT")]
    pub guest_service_account: Option<String>,
    /// Other service accounts pods may ask for, comma-separated.
    #[arg(long, env = "K8SLESS_ALLOWED_SERVICE_ACCOUNTS", default_value = "")]
    pub allowed_service_accounts: String,
    /// Email in the OIDC tokens of Pub/Sub pushes, Cloud Scheduler and Eventarc.
    #[arg(long, env = "K8SLESS_PUSH_SERVICE_ACCOUNT")]
    pub push_service_account: Option<String>,
    /// VM network.
    #[arg(
        long,
        env = "K8SLESS_NETWORK",
        default_value = "global/networks/default"
    )]
    pub network: String,
    /// VM subnetwork (regions/R/subnetworks/S).
    #[arg(long, env = "K8SLESS_SUBNETWORK")]
    pub subnetwork: Option<String>,
    /// Give VMs an ephemeral external IP (off behind Cloud NAT).
    #[arg(long, env = "K8SLESS_EXTERNAL_IP", default_value_t = true, action = clap::ArgAction::Set)]
    pub external_ip: bool,
    /// Boot image of the VMs.
    #[arg(
        long,
        env = "K8SLESS_IMAGE",
        default_value = "projects/cos-cloud/global/images/family/cos-121-lts"
    )]
    pub image: String,
    /// Boot disk type.
    #[arg(long, env = "K8SLESS_DISK_TYPE", default_value = "pd-balanced")]
    pub disk_type: String,
    /// How the VMs' cloud-init `user-data` travels: `gzip-base64` (a third of the size, with
    /// `user-data-encoding: base64`, which cloud-init's GCE datasource decodes) or `plain`.
    /// docs/guest.md "The user-data".
    #[arg(
        long,
        env = "K8SLESS_USER_DATA_ENCODING",
        value_enum,
        default_value = "gzip-base64"
    )]
    pub user_data_encoding: crate::guest::UserDataEncoding,
    /// Largest request body in bytes.
    #[arg(long, env = "K8SLESS_BODY_LIMIT", default_value_t = 3 * 1024 * 1024)]
    pub body_limit: usize,
    /// Compute Engine API base URL.
    #[arg(
        long,
        env = "K8SLESS_COMPUTE_ENDPOINT",
        default_value = "https://compute.googleapis.com/compute/v1"
    )]
    pub compute_endpoint: String,
    /// Cloud Storage JSON API base URL.
    #[arg(
        long,
        env = "K8SLESS_STORAGE_ENDPOINT",
        default_value = "https://storage.googleapis.com"
    )]
    pub storage_endpoint: String,
    /// Cloud Logging API base URL (running pods' container logs).
    #[arg(
        long,
        env = "K8SLESS_LOGGING_ENDPOINT",
        default_value = "https://logging.googleapis.com"
    )]
    pub logging_endpoint: String,
    /// Compute Engine mutations per second (client-side limit).
    #[arg(long, env = "K8SLESS_COMPUTE_QPS", default_value_t = 20.0)]
    pub compute_qps: f64,
    /// How long a finished pod's VM is kept before collection deletes it.
    #[arg(long, env = "K8SLESS_FINISHED_GRACE", default_value = "60s", value_parser = parse_duration)]
    pub finished_grace: Duration,
    /// A VM that never reports within this is failed and deleted.
    #[arg(long, env = "K8SLESS_BOOT_TIMEOUT", default_value = "10m", value_parser = parse_duration)]
    pub boot_timeout: Duration,
    /// A k8sless VM that no pod record claims is deleted once this old.
    #[arg(long, env = "K8SLESS_ORPHAN_GRACE", default_value = "5m", value_parser = parse_duration)]
    pub orphan_grace: Duration,
    /// `dev`: how often the service runs collection itself (serve relies on Cloud Scheduler
    /// calling POST /gc).
    #[arg(long, env = "K8SLESS_COLLECT_INTERVAL", default_value = "5s", value_parser = parse_duration)]
    pub collect_interval: Duration,
    /// How often `kubectl logs -f` reads a running container's lines (Cloud Logging allows 60
    /// `entries:list` calls per minute per project; 5 s is about 12 per follower).
    #[arg(long, env = "K8SLESS_LOG_FOLLOW_INTERVAL", default_value = "5s", value_parser = parse_duration)]
    pub log_follow_interval: Duration,
    /// Verify the OIDC tokens of /pubsub/push, /gc and /events/* and the instance identity
    /// tokens in reports (default: true for serve, false for dev).
    #[arg(long, env = "K8SLESS_VERIFY_TOKENS", action = clap::ArgAction::Set)]
    pub verify_tokens: Option<bool>,
    /// Create a namespace on its first pod instead of answering 404 `namespaces "x" not
    /// found` as Kubernetes does (default: true for dev, where trying things matters more
    /// than typos; false for serve, where namespaces carry policy and quotas an admin sets).
    #[arg(long, env = "K8SLESS_CREATE_NAMESPACES", action = clap::ArgAction::Set)]
    pub create_namespaces: Option<bool>,
    /// Where Google's token signing keys are published (a JWKS).
    #[arg(
        long,
        env = "K8SLESS_JWKS_URL",
        default_value = "https://www.googleapis.com/oauth2/v3/certs"
    )]
    pub jwks_url: String,
    /// The service's own service account: VM deletions it makes are not reported as events.
    #[arg(long, env = "K8SLESS_SERVICE_ACCOUNT")]
    pub service_account: Option<String>,
    /// Log format.
    #[arg(long, env = "K8SLESS_LOG_FORMAT", value_enum)]
    pub log_format: Option<LogFormat>,
    /// How API callers are identified: `cloud-run` (the token Cloud Run IAM checked; serve's
    /// default), `google` (verify Google ID tokens in process), `dev` (`dev:EMAIL` tokens, else
    /// the dev admin; dev's default). docs/teams.md.
    #[arg(long, env = "K8SLESS_IDENTITY", value_enum)]
    pub identity: Option<IdentityMode>,
    /// The admins: emails (users or service accounts) bound to `cluster-admin`, comma-separated.
    #[arg(long, env = "K8SLESS_ADMINS", default_value = "")]
    pub admins: String,
    /// Audiences accepted on ID tokens verified in process (`--identity google`, or an unstripped
    /// token under `cloud-run`) besides the service URL, comma-separated.
    #[arg(long, env = "K8SLESS_TOKEN_AUDIENCES", default_value = "")]
    pub token_audiences: String,
    /// How the service reaches each pod's kubelet: `vpc` (Direct VPC egress into the VMs'
    /// subnet; needs --kubelet-source-ranges) or `none` (exec, attach, port-forward and top
    /// answer 405; logs come from the archive and Cloud Logging). `dev`: the kubelet stand-in.
    #[arg(
        long,
        env = "K8SLESS_KUBELET_ACCESS",
        value_enum,
        default_value = "none"
    )]
    pub kubelet_access: KubeletAccessMode,
    /// CIDRs the VMs' host firewall admits to kubelet's port 10250: the service's Direct VPC
    /// egress subnet (comma-separated; never 0.0.0.0/0).
    #[arg(long, env = "K8SLESS_KUBELET_SOURCE_RANGES")]
    pub kubelet_source_ranges: Option<String>,
}

/// `--kubelet-access`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum KubeletAccessMode {
    /// The service does not reach kubelets.
    None,
    /// Over the VPC, to each VM's internal IP, port 10250, with mutual TLS.
    Vpc,
}

impl ServiceArgs {
    /// The default zone.
    pub fn zone(&self) -> String {
        self.zone
            .clone()
            .unwrap_or_else(|| format!("{}-a", self.region))
    }

    /// Allowed zones.
    pub fn zones(&self) -> Vec<String> {
        match &self.zones {
            Some(z) => list(z),
            None => catalog::zones_of(&self.region),
        }
    }

    /// Checks what `serve` cannot start without.
    pub fn require_for_serve(&self) -> Result<(), String> {
        let mut missing = Vec::new();
        for (flag, value) in [
            ("--project / K8SLESS_PROJECT", &self.project),
            ("--bucket / K8SLESS_BUCKET", &self.bucket),
            ("--topic / K8SLESS_TOPIC", &self.topic),
            ("--service-url / K8SLESS_SERVICE_URL", &self.service_url),
        ] {
            if given(value).is_none() {
                missing.push(flag);
            }
        }
        if missing.is_empty() {
            Ok(())
        } else {
            Err(format!("missing required settings: {}", missing.join(", ")))
        }
    }

    /// How kubelets are reached, from `--kubelet-access` and `--kubelet-source-ranges`;
    /// `dial` is the stand-in's address in `dev` and tests.
    pub fn kubelet_access(
        &self,
        dial: Option<std::net::SocketAddr>,
    ) -> Result<crate::kubelet::KubeletAccess, String> {
        let ranges = list(self.kubelet_source_ranges.as_deref().unwrap_or(""));
        if let Some(bad) = ranges.iter().find(|r| !crate::guest::is_cidr(r)) {
            return Err(format!(
                "--kubelet-source-ranges: {bad:?} is not a CIDR (a range like 10.8.0.0/26; never 0.0.0.0/0)"
            ));
        }
        match self.kubelet_access {
            KubeletAccessMode::None => Ok(crate::kubelet::KubeletAccess::None),
            KubeletAccessMode::Vpc if ranges.is_empty() && dial.is_none() => Err(
                "--kubelet-access vpc needs --kubelet-source-ranges: the service's Direct VPC egress subnet range".into(),
            ),
            KubeletAccessMode::Vpc => Ok(crate::kubelet::KubeletAccess::Vpc {
                source_ranges: ranges,
                dial,
            }),
        }
    }

    /// Checks values that must agree with each other.
    pub fn check(&self) -> Result<(), String> {
        let zones = self.zones();
        let zone = self.zone();
        let mut all = std::iter::once(&zone).chain(&zones);
        if let Some(z) = all.find(|z| catalog::region_of(z) != self.region) {
            return Err(format!("zone {z} is not in region {}", self.region));
        }
        if catalog::lookup(&self.default_machine_type).is_none() {
            return Err(format!(
                "unknown default machine type {:?}",
                self.default_machine_type
            ));
        }
        Ok(())
    }

    /// The address to listen on, honouring Cloud Run's PORT.
    pub fn listen_addr(&self, dev: bool) -> String {
        if let Some(l) = &self.listen {
            return l.clone();
        }
        let port = std::env::var("PORT")
            .ok()
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| "8080".into());
        if dev {
            format!("127.0.0.1:{port}")
        } else {
            format!("0.0.0.0:{port}")
        }
    }

    /// Lifecycle settings (collection, events).
    pub fn lifecycle(&self) -> crate::pods::lifecycle::collect::Lifecycle {
        crate::pods::lifecycle::collect::Lifecycle {
            collect: crate::pods::lifecycle::collect::CollectSettings::new(
                self.finished_grace,
                self.boot_timeout,
                self.orphan_grace,
            ),
            clock: crate::pods::clock::Clock::new(),
            service_account: given(&self.service_account).map(str::to_string),
        }
    }

    /// The token verifier: checking unless `verify` is false.
    pub fn verifier(&self, verify: bool) -> Result<crate::auth::oidc::Verifier, String> {
        if !verify {
            return Ok(crate::auth::oidc::Verifier::disabled());
        }
        if given(&self.push_service_account).is_none() {
            return Err(
                "token verification needs --push-service-account / K8SLESS_PUSH_SERVICE_ACCOUNT (or --verify-tokens=false, for local use only)"
                    .into(),
            );
        }
        crate::auth::oidc::Verifier::new(&crate::auth::oidc::VerifierSettings {
            jwks_url: self.jwks_url.clone(),
            service_url: self.vm_settings().service_url,
            push_service_account: self.push_service_account.clone(),
        })
    }

    /// The admins (`--admins`).
    pub fn admins(&self) -> Vec<String> {
        list(&self.admins)
    }

    /// Who is calling: `--identity`, else `default` (serve: cloud-run, dev: dev).
    pub(crate) fn authenticator(
        &self,
        default: IdentityMode,
    ) -> Result<crate::auth::identity::Authenticator, String> {
        let service_url = self.vm_settings().service_url;
        let service_url = service_url.trim_end_matches('/');
        let mut audiences = vec![service_url.to_string(), format!("{service_url}/")];
        audiences.extend(list(&self.token_audiences));
        crate::auth::identity::Authenticator::new(
            self.identity.unwrap_or(default),
            &self.jwks_url,
            audiences,
        )
    }

    /// This deployment's id: `--deployment`, else the bucket's name (`k8sless-dev` without
    /// one), as a label value.
    pub fn deployment(&self) -> String {
        let id = given(&self.deployment)
            .or_else(|| given(&self.bucket))
            .unwrap_or("k8sless-dev");
        crate::gce::labels::sanitize_value(id)
    }

    /// Pod → VM settings.
    pub fn vm_settings(&self) -> VmSettings {
        let project = self.project.clone().unwrap_or_else(|| "k8sless-dev".into());
        VmSettings {
            topic: self
                .topic
                .clone()
                .unwrap_or_else(|| format!("projects/{project}/topics/k8sless")),
            bucket: self.bucket.clone().unwrap_or_else(|| "k8sless-dev".into()),
            deployment: self.deployment(),
            service_url: self
                .service_url
                .clone()
                .unwrap_or_else(|| "http://127.0.0.1:8080".into()),
            project,
            zone: self.zone(),
            zones: self.zones(),
            machine_families: list(&self.machine_families),
            default_machine_type: self.default_machine_type.clone(),
            custom_machine_types: self.custom_machine_types,
            max_runtime: self.max_runtime,
            boot_allowance: Duration::from_secs(300),
            guest_service_account: self.guest_service_account.clone(),
            allowed_service_accounts: list(&self.allowed_service_accounts),
            network: self.network.clone(),
            subnetwork: self.subnetwork.clone(),
            external_ip: self.external_ip,
            image: self.image.clone(),
            disk_type: self.disk_type.clone(),
            default_accelerator: self.default_accelerator.clone(),
            user_data_encoding: self.user_data_encoding,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("4h"), Ok(Duration::from_secs(14400)));
        assert_eq!(parse_duration("30"), Ok(Duration::from_secs(30)));
        assert!(parse_duration("soon").is_err());
    }

    #[test]
    fn kubelet_access_needs_private_source_ranges() {
        use crate::kubelet::KubeletAccess;
        let mut args = crate::testing::default_args();
        assert_eq!(args.kubelet_access(None), Ok(KubeletAccess::None));
        args.kubelet_access = KubeletAccessMode::Vpc;
        let missing = args.kubelet_access(None).unwrap_err();
        assert!(missing.contains("--kubelet-source-ranges"), "{missing}");
        args.kubelet_source_ranges = Some("10.8.0.0/26, 0.0.0.0/0".into());
        let wide = args.kubelet_access(None).unwrap_err();
        assert!(wide.contains("\"0.0.0.0/0\""), "{wide}");
        args.kubelet_source_ranges = Some("10.8.0.0/26".into());
        assert_eq!(
            args.kubelet_access(None),
            Ok(KubeletAccess::Vpc {
                source_ranges: vec!["10.8.0.0/26".into()],
                dial: None
            })
        );
    }
}
