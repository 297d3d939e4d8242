//! The gRPC metadata legwork puts on every call: who is calling, the namespace (only on
//! calls that carry one), the API key (replaceable while running) and the user's headers.

use std::sync::{Arc, RwLock};

use tonic::metadata::{AsciiMetadataKey, AsciiMetadataValue, MetadataValue};
use tonic::{GrpcMethod, Request, Status};

use super::error::ConnectError;
use super::options::Secret;

/// Calls of the workflow service that carry no namespace. Temporal Cloud routes by
/// `temporal-namespace`, and refuses `GetSystemInfo` when it carries one.
const NAMESPACELESS: &[&str] = &["GetSystemInfo", "GetClusterInfo", "ListNamespaces"];

/// The API key every call sends; shared by all clones of a connection so that replacing it
/// ([`ApiKeySlot::set`]) takes effect on the next call, without reconnecting.
#[derive(Clone, Debug, Default)]
pub(crate) struct ApiKeySlot(Arc<RwLock<Option<AsciiMetadataValue>>>);

impl ApiKeySlot {
    pub(crate) fn new(key: Option<&Secret>) -> Result<Self, ConnectError> {
        let slot = ApiKeySlot::default();
        slot.set(key)?;
        Ok(slot)
    }

    /// Replaces the key (or removes it with `None`) for every later call.
    pub(crate) fn set(&self, key: Option<&Secret>) -> Result<(), ConnectError> {
        let value = key.map(bearer).transpose()?;
        *self.0.write().unwrap_or_else(|poison| poison.into_inner()) = value;
        Ok(())
    }

    fn get(&self) -> Option<AsciiMetadataValue> {
        self.0
            .read()
            .unwrap_or_else(|poison| poison.into_inner())
            .clone()
    }
}

/// `Bearer <key>`, marked sensitive so that `http`'s own `Debug` hides it too.
fn bearer(key: &Secret) -> Result<AsciiMetadataValue, ConnectError> {
    let mut value: AsciiMetadataValue = format!("Bearer {}", key.expose())
        .parse()
        .map_err(|_| ConnectError::InvalidApiKey)?;
    value.set_sensitive(true);
    Ok(value)
}

/// Adds legwork's headers to every call.
#[derive(Clone)]
pub struct Headers {
    namespace: AsciiMetadataValue,
    api_key: ApiKeySlot,
    extra: Arc<[(AsciiMetadataKey, AsciiMetadataValue)]>,
}

impl Headers {
    pub(crate) fn new(
        namespace: &str,
        api_key: ApiKeySlot,
        extra: &[(String, String)],
    ) -> Result<Self, ConnectError> {
        let namespace = namespace
            .parse()
            .map_err(|_| ConnectError::InvalidNamespace(namespace.to_owned()))?;
        let extra = extra
            .iter()
            .map(|(key, value)| {
                let invalid = || ConnectError::InvalidHeader(key.clone());
                let key = AsciiMetadataKey::from_bytes(key.as_bytes()).map_err(|_| invalid())?;
                let value = value.parse().map_err(|_| invalid())?;
                Ok((key, value))
            })
            .collect::<Result<_, ConnectError>>()?;
        Ok(Headers {
            namespace,
            api_key,
            extra,
        })
    }
}

impl std::fmt::Debug for Headers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Headers")
            .field("namespace", &self.namespace)
            .field("extra", &self.extra.len())
            .finish_non_exhaustive()
    }
}

impl tonic::service::Interceptor for Headers {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        let namespaced = request
            .extensions()
            .get::<GrpcMethod>()
            .is_none_or(|method| !NAMESPACELESS.contains(&method.method()));
        let metadata = request.metadata_mut();
        for (key, value) in self.extra.iter() {
            metadata.insert(key.clone(), value.clone());
        }
        metadata.insert("client-name", MetadataValue::from_static("legwork"));
        metadata.insert(
            "client-version",
            MetadataValue::from_static(env!("CARGO_PKG_VERSION")),
        );
        if namespaced {
            metadata.insert("temporal-namespace", self.namespace.clone());
        }
        // A header the user set explicitly (`grpc_meta`) wins over the API key, as in
        // sdk-core and Go.
        if !metadata.contains_key("authorization") {
            if let Some(key) = self.api_key.get() {
                metadata.insert("authorization", key);
            }
        }
        Ok(request)
    }
}

#[cfg(test)]
mod tests {
    use tonic::service::Interceptor;

    use super::*;

    fn call(headers: &mut Headers, method: &'static str) -> tonic::metadata::MetadataMap {
        let mut request = Request::new(());
        request.extensions_mut().insert(GrpcMethod::new(
            "temporal.api.workflowservice.v1.WorkflowService",
            method,
        ));
        headers.call(request).unwrap().into_parts().0
    }

    #[test]
    fn namespace_only_on_namespaced_calls() {
        let mut headers = Headers::new("orders", ApiKeySlot::default(), &[]).unwrap();
        let polled = call(&mut headers, "PollActivityTaskQueue");
        assert_eq!(polled.get("temporal-namespace").unwrap(), "orders");
        assert_eq!(polled.get("client-name").unwrap(), "legwork");
        let system = call(&mut headers, "GetSystemInfo");
        assert!(system.get("temporal-namespace").is_none());
        assert!(system.get("authorization").is_none());
    }

    #[test]
    fn api_key_is_a_bearer_token_and_can_be_replaced() {
        let slot = ApiKeySlot::new(Some(&Secret::new("first"))).unwrap();
        let mut headers = Headers::new("default", slot.clone(), &[]).unwrap();
        let first = call(&mut headers, "GetSystemInfo");
        assert_eq!(first.get("authorization").unwrap(), "Bearer first");
        assert!(!format!("{first:?}").contains("first"), "{first:?}");
        slot.set(Some(&Secret::new("second"))).unwrap();
        let second = call(&mut headers, "PollActivityTaskQueue");
        assert_eq!(second.get("authorization").unwrap(), "Bearer second");
        slot.set(None).unwrap();
        assert!(call(&mut headers, "GetSystemInfo")
            .get("authorization")
            .is_none());
    }

    #[test]
    fn user_headers_are_sent_and_an_explicit_authorization_wins() {
        let slot = ApiKeySlot::new(Some(&Secret::new("key"))).unwrap();
        let extra = [
            ("x-team".to_owned(), "payments".to_owned()),
            ("authorization".to_owned(), "Custom abc".to_owned()),
        ];
        let mut headers = Headers::new("default", slot, &extra).unwrap();
        let sent = call(&mut headers, "PollActivityTaskQueue");
        assert_eq!(sent.get("x-team").unwrap(), "payments");
        assert_eq!(sent.get("authorization").unwrap(), "Custom abc");
    }

    #[test]
    fn invalid_header_names_the_key_not_the_value() {
        let extra = [("bad key".to_owned(), "secret-value".to_owned())];
        let error = Headers::new("default", ApiKeySlot::default(), &extra).unwrap_err();
        let message = error.to_string();
        assert!(message.contains("bad key"), "{message}");
        assert!(!message.contains("secret-value"), "{message}");
    }
}
