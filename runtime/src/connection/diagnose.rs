//! Turns a failed connect or start-up call into one [`ConnectError`] that names the cause
//! and the fix, instead of a chain of transport errors.
//!
//! rustls' own error is found in the chain and read by variant; everything else falls
//! back to the innermost message, so an unforeseen failure is still one readable line.

use std::error::Error as StdError;
use std::io;

use rustls::{AlertDescription, CertificateError};
use tonic::Code;

use super::error::ConnectError;
use super::options::ConnectionOptions;

/// What was tried, for choosing the hint.
pub(super) struct Attempt<'a> {
    pub(super) options: &'a ConnectionOptions,
    pub(super) tls: bool,
}

impl Attempt<'_> {
    fn address(&self) -> String {
        self.options.address.clone()
    }

    /// Dialing (TCP, then the TLS handshake) failed.
    pub(super) fn transport(&self, error: &(dyn StdError + 'static)) -> ConnectError {
        self.classify(error)
            .unwrap_or_else(|| ConnectError::Unreachable {
                address: self.address(),
                cause: innermost(error),
            })
    }

    /// The first call (`GetSystemInfo`) failed.
    pub(super) fn status(&self, status: &tonic::Status) -> ConnectError {
        if let Some(error) = self.classify(status) {
            return error;
        }
        let address = self.address();
        let message = one_line(status.message());
        match status.code() {
            Code::Unauthenticated if self.options.api_key.is_some() => {
                ConnectError::ApiKeyRejected { address, message }
            }
            Code::Unauthenticated if self.options.client_certificate.is_some() => {
                ConnectError::ClientCertificateRejected { address, message }
            }
            Code::Unauthenticated => ConnectError::CredentialsRequired { address, message },
            Code::PermissionDenied => ConnectError::PermissionDenied { address, message },
            // A plaintext HTTP/2 preface sent to a TLS port gets an HTTP/1 error page or a
            // closed connection back, which the client reports as a protocol error.
            Code::Unknown | Code::Internal if !self.tls => ConnectError::ExpectsTls { address },
            Code::DeadlineExceeded => ConnectError::Timeout { address },
            code => ConnectError::Rpc {
                address,
                code,
                message,
            },
        }
    }

    /// The causes recognised anywhere in the chain.
    fn classify(&self, error: &(dyn StdError + 'static)) -> Option<ConnectError> {
        let address = self.address();
        for cause in chain(error) {
            if let Some(tls) = rustls_error(cause) {
                return Some(self.tls_failure(tls));
            }
            if let Some(io) = cause.downcast_ref::<io::Error>() {
                match io.kind() {
                    io::ErrorKind::ConnectionRefused => {
                        return Some(ConnectError::Unreachable {
                            address,
                            cause: "connection refused: nothing listens there".to_owned(),
                        })
                    }
                    io::ErrorKind::TimedOut => return Some(ConnectError::Timeout { address }),
                    _ => {}
                }
            }
            let text = cause.to_string();
            if text.contains("no native certs found") {
                return Some(ConnectError::NoNativeRoots);
            }
            if text.contains("HTTP/2 was not negotiated") {
                return Some(ConnectError::NoHttp2 { address });
            }
            if text.contains("timed out") || text.contains("handshake timeout") {
                return Some(ConnectError::Timeout { address });
            }
        }
        None
    }

    fn tls_failure(&self, error: &rustls::Error) -> ConnectError {
        let address = self.address();
        let detail = error.to_string();
        match error {
            rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            ) => ConnectError::WrongServerName { address, detail },
            rustls::Error::InvalidCertificate(_) => {
                ConnectError::UntrustedCertificate { address, detail }
            }
            rustls::Error::InvalidMessage(_) => ConnectError::NotTls { address },
            rustls::Error::AlertReceived(
                AlertDescription::CertificateRequired | AlertDescription::HandshakeFailure,
            ) if self.options.client_certificate.is_none() => {
                ConnectError::ClientCertificateRequired { address, detail }
            }
            rustls::Error::AlertReceived(
                AlertDescription::BadCertificate
                | AlertDescription::UnknownCA
                | AlertDescription::CertificateUnknown
                | AlertDescription::CertificateExpired
                | AlertDescription::DecryptError,
            ) => ConnectError::ClientCertificateRejected {
                address,
                message: detail,
            },
            _ => ConnectError::TlsHandshake { address, detail },
        }
    }
}

/// The error and its sources, looking inside `io::Error`s, whose `source()` skips the
/// error they wrap.
fn chain<'a>(
    error: &'a (dyn StdError + 'static),
) -> impl Iterator<Item = &'a (dyn StdError + 'static)> {
    let mut next = Some(error);
    std::iter::from_fn(move || {
        let current = next?;
        next = match current.downcast_ref::<io::Error>() {
            Some(io) => io.get_ref().map(|inner| inner as &(dyn StdError + 'static)),
            None => current.source(),
        };
        Some(current)
    })
}

fn rustls_error<'a>(error: &'a (dyn StdError + 'static)) -> Option<&'a rustls::Error> {
    error.downcast_ref::<rustls::Error>()
}

/// The deepest message in the chain: the one that says what happened.
fn innermost(error: &(dyn StdError + 'static)) -> String {
    chain(error)
        .last()
        .map(|cause| one_line(&cause.to_string()))
        .unwrap_or_default()
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt(options: &ConnectionOptions) -> Attempt<'_> {
        Attempt {
            options,
            tls: options.tls_enabled(),
        }
    }

    #[test]
    fn rustls_errors_are_found_inside_io_errors() {
        let options = ConnectionOptions::new("h:1");
        let io = io::Error::new(
            io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer),
        );
        let error = attempt(&options).transport(&io);
        assert!(
            matches!(error, ConnectError::UntrustedCertificate { .. }),
            "{error}"
        );
        assert!(error.to_string().contains("--tls-ca-path"), "{error}");
    }

    #[test]
    fn unauthenticated_hint_depends_on_what_was_sent() {
        let mut options = ConnectionOptions::new("h:1");
        let status = tonic::Status::unauthenticated("invalid API key");
        let error = attempt(&options).status(&status).to_string();
        assert!(error.contains("--api-key"), "{error}");
        assert!(error.contains("--tls-cert-path"), "{error}");
        options.api_key = Some("k-1".into());
        let error = attempt(&options).status(&status);
        assert!(
            matches!(error, ConnectError::ApiKeyRejected { .. }),
            "{error}"
        );
        assert!(!error.to_string().contains("k-1"));
    }

    #[test]
    fn messages_are_one_line() {
        let options = ConnectionOptions::new("h:1");
        let status = tonic::Status::failed_precondition("first\nsecond");
        let error = attempt(&options).status(&status).to_string();
        assert!(!error.contains('\n'), "{error}");
    }
}
