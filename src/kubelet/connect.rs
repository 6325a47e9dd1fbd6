//! The mutually authenticated connection from the service to one pod's kubelet.
//!
//! [`KubeletClient`] holds what one connection needs: the address (the VM's internal IP and
//! port 10250 in production; the stand-in's loopback address in tests and `dev`), the name
//! the serving certificate must carry (`VM.ZONE.c.PROJECT.internal`, sent as SNI and checked
//! by webpki), and a rustls client configuration whose **only** root is the pod's own CA and
//! whose client certificate is the pod's client certificate. A kubelet of another pod, a
//! machine on the VPC or the workload on the VM has no certificate signed by that CA with
//! `serverAuth`, so the handshake fails before a byte of HTTP.
//!
//! Every step is bounded: the TCP connect by [`CONNECT_TIMEOUT`], the TLS handshake by
//! [`HANDSHAKE_TIMEOUT`], and a plain request's answer (status and headers) by
//! [`ANSWER_TIMEOUT`]; a streamed body (`follow=true`) is as long as kubelet keeps it open.
//!
//! For streaming verbs (exec, attach, port-forward), [`KubeletClient::connect`] gives the raw
//! TLS stream to speak an upgrade on; plain GETs use [`KubeletClient::get`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use super::pki::PodPki;

/// Longest wait for kubelet's port to accept.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Longest wait for the TLS handshake.
pub(crate) const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest wait for the status line and headers of an answer.
pub(crate) const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest error body read from kubelet (it goes into a message).
const ERROR_BODY_MAX: usize = 4096;

/// Why kubelet could not be reached or did not answer as asked.
#[derive(Debug, thiserror::Error)]
pub(crate) enum KubeletError {
    /// The pod's certificates do not parse (a corrupt record).
    #[error("the pod's kubelet certificates are unusable")]
    Credentials {
        /// What rustls or the PEM parser said.
        #[source]
        source: crate::error::Source,
    },
    /// The TCP connection failed (refused, unreachable).
    #[error("connecting to kubelet at {addr}")]
    Connect {
        /// Where.
        addr: SocketAddr,
        /// The socket error.
        #[source]
        source: std::io::Error,
    },
    /// A step took longer than its bound.
    #[error("kubelet at {addr}: no {step} within {after:?}")]
    Timeout {
        /// Where.
        addr: SocketAddr,
        /// `connection`, `TLS handshake` or `answer`.
        step: &'static str,
        /// The bound.
        after: Duration,
    },
    /// The TLS handshake failed (wrong certificate either way).
    #[error("TLS handshake with kubelet at {addr}")]
    Handshake {
        /// Where.
        addr: SocketAddr,
        /// rustls' error, wrapped in io.
        #[source]
        source: std::io::Error,
    },
    /// HTTP failed on an established connection.
    #[error("HTTP with kubelet at {addr}")]
    Http {
        /// Where.
        addr: SocketAddr,
        /// hyper's error.
        #[source]
        source: hyper::Error,
    },
    /// kubelet answered, but not 2xx.
    #[error("kubelet answered {status} to {path}: {body}")]
    Status {
        /// The HTTP status.
        status: u16,
        /// What was asked.
        path: String,
        /// The start of the body.
        body: String,
    },
}

fn credentials(source: impl Into<crate::error::Source>) -> KubeletError {
    KubeletError::Credentials {
        source: source.into(),
    }
}

/// The rustls client configuration of one pod: trusts only the pod's CA, presents the pod's
/// client certificate. Built per connection target; cheap (one parse of three PEMs).
pub(crate) fn client_config(pki: &PodPki) -> Result<Arc<rustls::ClientConfig>, KubeletError> {
    let ca = CertificateDer::from_pem_slice(pki.ca_cert.as_bytes()).map_err(credentials)?;
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca).map_err(credentials)?;
    let cert = CertificateDer::from_pem_slice(pki.client_cert.as_bytes()).map_err(credentials)?;
    let key = PrivateKeyDer::from_pem_slice(pki.client_key.as_bytes()).map_err(credentials)?;
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(credentials)?
    .with_root_certificates(roots)
    .with_client_auth_cert(vec![cert], key)
    .map_err(credentials)?;
    Ok(Arc::new(config))
}

/// One pod's kubelet, ready to connect to.
#[derive(Clone)]
pub(crate) struct KubeletClient {
    addr: SocketAddr,
    server_name: ServerName<'static>,
    tls: Arc<rustls::ClientConfig>,
}

impl std::fmt::Debug for KubeletClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeletClient")
            .field("addr", &self.addr)
            .field("server_name", &self.server_name)
            .finish_non_exhaustive()
    }
}

/// `step` of an exchange with the kubelet at `addr`, bounded by `after`: its own result, or
/// [`KubeletError::Timeout`] once the bound passes.
async fn within<T>(
    addr: SocketAddr,
    step: &'static str,
    after: Duration,
    step_future: impl std::future::Future<Output = T>,
) -> Result<T, KubeletError> {
    tokio::time::timeout(after, step_future)
        .await
        .map_err(|_| KubeletError::Timeout { addr, step, after })
}

impl KubeletClient {
    /// kubelet at `addr`, whose serving certificate must name `server_name` and chain to the
    /// pod's CA.
    pub(crate) fn new(
        pki: &PodPki,
        addr: SocketAddr,
        server_name: &str,
    ) -> Result<Self, KubeletError> {
        let server_name = ServerName::try_from(server_name.to_string()).map_err(credentials)?;
        Ok(KubeletClient {
            addr,
            server_name,
            tls: client_config(pki)?,
        })
    }

    /// A new TLS connection, both sides authenticated (connect and handshake bounded).
    pub(crate) async fn connect(&self) -> Result<TlsStream<TcpStream>, KubeletError> {
        let addr = self.addr;
        let tcp = within(
            addr,
            "connection",
            CONNECT_TIMEOUT,
            TcpStream::connect(addr),
        )
        .await?
        .map_err(|source| KubeletError::Connect { addr, source })?;
        let _ = tcp.set_nodelay(true);
        let connector = TlsConnector::from(self.tls.clone());
        within(
            addr,
            "TLS handshake",
            HANDSHAKE_TIMEOUT,
            connector.connect(self.server_name.clone(), tcp),
        )
        .await?
        .map_err(|source| KubeletError::Handshake { addr, source })
    }

    /// `GET path_and_query` on a new connection: the answer once its headers arrive (within
    /// [`ANSWER_TIMEOUT`]), its body streaming; a non-2xx answer is [`KubeletError::Status`].
    pub(crate) async fn get(
        &self,
        path_and_query: &str,
    ) -> Result<hyper::Response<Incoming>, KubeletError> {
        let addr = self.addr;
        let stream = self.connect().await?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|source| KubeletError::Http { addr, source })?;
        tokio::spawn(async move {
            // Ends when the response body is done or dropped.
            let _ = conn.await;
        });
        let request = hyper::Request::get(path_and_query)
            .header(hyper::header::HOST, self.host_header())
            .body(Empty::<Bytes>::new())
            .map_err(credentials)?;
        let response = within(addr, "answer", ANSWER_TIMEOUT, sender.send_request(request))
            .await?
            .map_err(|source| KubeletError::Http { addr, source })?;
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status().as_u16();
        let body = match Limited::new(response.into_body(), ERROR_BODY_MAX)
            .collect()
            .await
        {
            Ok(b) => String::from_utf8_lossy(&b.to_bytes()).trim().to_string(),
            Err(_) => String::new(),
        };
        Err(KubeletError::Status {
            status,
            path: path_and_query.split('?').next().unwrap_or("").to_string(),
            body,
        })
    }

    /// `GET path_and_query`, the whole body (at most `max` bytes).
    pub(crate) async fn get_bytes(
        &self,
        path_and_query: &str,
        max: usize,
    ) -> Result<Bytes, KubeletError> {
        let addr = self.addr;
        let response = self.get(path_and_query).await?;
        let body = within(
            addr,
            "answer",
            ANSWER_TIMEOUT,
            Limited::new(response.into_body(), max).collect(),
        )
        .await?;
        body.map(|b| b.to_bytes())
            .map_err(|e| KubeletError::Status {
                status: 200,
                path: path_and_query.split('?').next().unwrap_or("").to_string(),
                body: format!("unreadable or over {max} bytes: {e}"),
            })
    }

    /// The Host header: the server name and port, as kube-apiserver's proxy sends it.
    pub(crate) fn host_header(&self) -> String {
        let name = match &self.server_name {
            ServerName::DnsName(d) => d.as_ref().to_string(),
            ServerName::IpAddress(ip) => std::net::IpAddr::from(*ip).to_string(),
            _ => self.addr.ip().to_string(),
        };
        format!("{name}:{}", self.addr.port())
    }
}
