//! [`ConnectError`]: why a connection could not be made, as one line naming the cause
//! and the fix.

/// Why a connection could not be made. Each message is one line that names the cause and
/// how to fix it; none contains a secret.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    #[error("invalid server address `{address}`: {reason}")]
    /// The server address cannot be parsed as `host:port` or a URL.
    InvalidAddress {
        /// The address as it was given.
        address: String,
        /// What is wrong with it.
        reason: String,
    },
    #[error("invalid namespace `{0}`: it must be printable ASCII")]
    /// The namespace (the value given) cannot be sent in a gRPC header.
    InvalidNamespace(String),
    #[error("invalid gRPC header `{0}`: keys are lower-case ASCII letters, digits, `-`, `_` or `.`, values printable ASCII; fix --grpc-meta or TEMPORAL_GRPC_META_*")]
    /// A user header (the key given) is not a valid gRPC metadata key or value.
    InvalidHeader(String),
    #[error("the API key cannot be sent in a header: it must be printable ASCII; check --api-key or TEMPORAL_API_KEY")]
    /// The API key cannot be sent in a header; the key itself is not kept.
    InvalidApiKey,
    #[error("invalid TLS server name `{0}`; fix --tls-server-name or TEMPORAL_TLS_SERVER_NAME")]
    /// The TLS server name (the value given) is not a valid DNS name or IP address.
    InvalidServerName(String),
    #[error("disable_host_verification is not supported: legwork always verifies the server's certificate; give the CA that signed it (--tls-ca-path or TEMPORAL_TLS_SERVER_CA_CERT_PATH) and, if it was issued for another name, --tls-server-name")]
    /// A profile asked to skip verifying the server's certificate, which legwork never does.
    HostVerificationUnsupported,
    #[error("cannot read the {kind} at {}: {source}; fix {setting}", path.display())]
    /// A PEM file (CA, client certificate or key) could not be read.
    ReadPem {
        /// What the file should hold, e.g. "server CA certificate".
        kind: &'static str,
        /// The flag and the variable that name the file.
        setting: &'static str,
        /// The file.
        path: std::path::PathBuf,
        /// Why reading failed.
        source: std::io::Error,
    },
    #[error("the {kind} ({origin}) does not hold PEM of that kind; fix {setting}")]
    /// A PEM setting does not hold PEM of the expected kind (a swapped or empty file).
    NotPem {
        /// What the setting should hold, e.g. "client private key".
        kind: &'static str,
        /// The flag and the variable that set it.
        setting: &'static str,
        /// Where it came from: the file's path, or "inline data" (never the data itself).
        origin: String,
    },
    #[error("invalid TLS settings: {0}")]
    /// The TLS stack refused the settings (the message says why).
    InvalidTlsSettings(String),
    #[error("TLS is on and no CA was given, but this system has no CA certificates: install them (apt-get install ca-certificates) or give the server's CA with --tls-ca-path or TEMPORAL_TLS_SERVER_CA_CERT_PATH")]
    /// TLS is on without a CA, and the system trust store is empty.
    NoNativeRoots,
    #[error("cannot reach the Temporal server at {address}: {cause}; check the address (--address or TEMPORAL_ADDRESS) and that the server is running")]
    /// Nothing answered at the address (refused, unresolvable, reset).
    Unreachable {
        /// The server address.
        address: String,
        /// The innermost cause, e.g. "connection refused: nothing listens there".
        cause: String,
    },
    #[error("no answer from {address} in time; check the address (--address or TEMPORAL_ADDRESS) and that nothing between drops the traffic")]
    /// No answer in time: dialing and the TLS handshake get 10 s, the first call 4 s.
    Timeout {
        /// The server address.
        address: String,
    },
    #[error("the server at {address} is not trusted: {detail}; give the CA that signed its certificate with --tls-ca-path or TEMPORAL_TLS_SERVER_CA_CERT_PATH")]
    /// The server's certificate is not signed by a trusted CA.
    UntrustedCertificate {
        /// The server address.
        address: String,
        /// rustls' reason.
        detail: String,
    },
    #[error("the certificate of {address} is not valid for the name checked: {detail}; set the name it was issued for with --tls-server-name or TEMPORAL_TLS_SERVER_NAME")]
    /// The server's certificate was issued for another name than the one checked.
    WrongServerName {
        /// The server address.
        address: String,
        /// rustls' reason.
        detail: String,
    },
    #[error("the server at {address} does not speak TLS; turn TLS off (--tls=false or TEMPORAL_TLS=false) or use the server's TLS port")]
    /// TLS is on, and the server answered in plaintext.
    NotTls {
        /// The server address.
        address: String,
    },
    #[error("the server at {address} does not answer plaintext gRPC: it expects TLS; turn TLS on (--tls or TEMPORAL_TLS=true) and give its CA if it is private (--tls-ca-path)")]
    /// TLS is off, and the server expects TLS.
    ExpectsTls {
        /// The server address.
        address: String,
    },
    #[error("the server at {address} did not agree to HTTP/2 over TLS (ALPN h2); point --address at a gRPC endpoint")]
    /// The TLS server did not negotiate HTTP/2 (ALPN `h2`), so it is no gRPC endpoint.
    NoHttp2 {
        /// The server address.
        address: String,
    },
    #[error("the TLS handshake with {address} failed: {detail}")]
    /// The TLS handshake failed for another reason.
    TlsHandshake {
        /// The server address.
        address: String,
        /// rustls' reason.
        detail: String,
    },
    #[error("the server at {address} requires a client certificate ({detail}); give one with --tls-cert-path and --tls-key-path (or TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH)")]
    /// The server asks for a client certificate (mTLS) and none was given.
    ClientCertificateRequired {
        /// The server address.
        address: String,
        /// The TLS alert or error received.
        detail: String,
    },
    #[error("the server at {address} rejected the client certificate ({message}); use a certificate signed by the CA the server trusts for this namespace (--tls-cert-path, --tls-key-path)")]
    /// The server refused the client certificate given.
    ClientCertificateRejected {
        /// The server address.
        address: String,
        /// The server's message.
        message: String,
    },
    #[error("the server at {address} rejected the API key ({message}); check --api-key or TEMPORAL_API_KEY: it may be wrong, expired, or for another namespace")]
    /// The server refused the API key (`Unauthenticated` with a key given).
    ApiKeyRejected {
        /// The server address.
        address: String,
        /// The server's message (it never contains the key).
        message: String,
    },
    #[error("the server at {address} requires credentials ({message}); give an API key (--api-key or TEMPORAL_API_KEY) or a client certificate (--tls-cert-path and --tls-key-path)")]
    /// The server requires credentials and none were given.
    CredentialsRequired {
        /// The server address.
        address: String,
        /// The server's message.
        message: String,
    },
    #[error("the server at {address} denied access ({message}); the credentials are valid but not allowed here: check the namespace and the key's or certificate's permissions")]
    /// The credentials were accepted but are not allowed this namespace or call.
    PermissionDenied {
        /// The server address.
        address: String,
        /// The server's message.
        message: String,
    },
    #[error("the Temporal server at {address} answered {code:?}: {message}")]
    /// The first call failed with another gRPC status.
    Rpc {
        /// The server address.
        address: String,
        /// The gRPC status code.
        code: tonic::Code,
        /// The server's message.
        message: String,
    },
}
