//! Unit tests of the envconfig loader: every case passes its own variables, never the
//! process environment, and writes its files under a fresh temp directory.

use std::ops::Deref;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::file::config_dir;
use super::*;
use crate::connection::options::{Pem, TlsMode};
use std::path::PathBuf;

fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(key, value)| (key.to_string(), value.to_string()))
        .collect()
}

/// A directory under the system temp dir, unique per test and process, removed on drop
/// so test runs leave nothing behind.
struct TempDir(PathBuf);

impl Deref for TempDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn fresh_dir(tag: &str) -> TempDir {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!(
        "legwork-envconfig-{}-{n}-{tag}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    TempDir(dir)
}

/// A `temporal.toml` in its own temp directory, which lives as long as it does.
struct TempFile {
    path: PathBuf,
    _dir: TempDir,
}

impl Deref for TempFile {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.path
    }
}

fn write_config(tag: &str, text: &str) -> TempFile {
    let dir = fresh_dir(tag);
    let path = dir.join("temporal.toml");
    std::fs::write(&path, text).unwrap();
    TempFile { path, _dir: dir }
}

/// No HOME, no XDG_CONFIG_HOME: the real user's file can never be read.
fn load_file(
    file: &Path,
    profile: Option<&str>,
    pairs: &[(&str, &str)],
) -> Result<ConnectionOptions, EnvConfigError> {
    load(Some(file), profile, &vars(pairs))
}

const PROFILES: &str = r#"
[profile.default]
address = "file-default:7233"
namespace = "file-ns"
api_key = "file-key"

[profile.staging]
address = "staging:7233"
namespace = "staging-ns"
"#;

#[test]
fn environment_overrides_file_address_namespace_and_api_key() {
    let file = write_config("precedence", PROFILES);
    let options = load_file(
        &file,
        None,
        &[
            ("TEMPORAL_ADDRESS", "env:7233"),
            ("TEMPORAL_NAMESPACE", "env-ns"),
            ("TEMPORAL_API_KEY", "env-key"),
        ],
    )
    .unwrap();
    assert_eq!(options.address, "env:7233");
    assert_eq!(options.namespace, "env-ns");
    assert_eq!(options.api_key.unwrap().expose(), "env-key");
}

#[test]
fn file_values_apply_when_environment_is_silent_or_empty() {
    let file = write_config("file-values", PROFILES);
    // An empty variable counts as unset, so the file's address stays.
    let options = load_file(&file, None, &[("TEMPORAL_ADDRESS", "")]).unwrap();
    assert_eq!(options.address, "file-default:7233");
    assert_eq!(options.namespace, "file-ns");
    assert_eq!(options.api_key.unwrap().expose(), "file-key");
}

#[test]
fn profile_argument_beats_temporal_profile() {
    let file = write_config("profile-arg", PROFILES);
    let options = load_file(&file, Some("staging"), &[("TEMPORAL_PROFILE", "nope")]).unwrap();
    assert_eq!(options.address, "staging:7233");
    assert_eq!(options.namespace, "staging-ns");
    assert_eq!(options.api_key, None);
}

#[test]
fn profile_selected_by_temporal_profile() {
    let file = write_config("profile-var", PROFILES);
    let options = load_file(&file, None, &[("TEMPORAL_PROFILE", "staging")]).unwrap();
    assert_eq!(options.namespace, "staging-ns");
}

#[test]
fn default_profile_when_none_is_named() {
    let file = write_config("profile-default", PROFILES);
    let options = load_file(&file, None, &[("TEMPORAL_PROFILE", "")]).unwrap();
    assert_eq!(options.namespace, "file-ns");
}

#[test]
fn named_profile_missing_is_an_error_naming_it_the_file_and_the_choices() {
    let file = write_config("profile-missing", PROFILES);
    let error = load_file(&file, None, &[("TEMPORAL_PROFILE", "prod")]).unwrap_err();
    assert!(
        matches!(error, EnvConfigError::ProfileNotFound { .. }),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(message.contains("`prod`"), "{message}");
    assert!(message.contains("TEMPORAL_PROFILE"), "{message}");
    assert!(message.contains(&file.display().to_string()), "{message}");
    assert!(message.contains("`default`, `staging`"), "{message}");
}

#[test]
fn named_profile_without_a_file_is_an_error() {
    let home = fresh_dir("profile-no-file");
    let home = home.to_str().unwrap();
    let error = load(
        None,
        Some("prod"),
        &vars(&[("HOME", home), ("XDG_CONFIG_HOME", home)]),
    )
    .unwrap_err();
    let message = error.to_string();
    assert!(message.contains("`prod`"), "{message}");
    assert!(message.contains("no config file at"), "{message}");
}

#[test]
fn missing_default_profile_gives_defaults() {
    let file = write_config("no-default", "[profile.other]\naddress = \"x:1\"\n");
    let options = load_file(&file, None, &[]).unwrap();
    assert_eq!(options, ConnectionOptions::default());
}

#[test]
fn missing_default_file_gives_defaults() {
    let home = fresh_dir("no-default-file");
    let home = home.to_str().unwrap();
    let options = load(None, None, &vars(&[("HOME", home), ("APPDATA", home)])).unwrap();
    assert_eq!(options, ConnectionOptions::default());
    assert_eq!(options.address, "127.0.0.1:7233");
    assert_eq!(options.namespace, "default");
}

#[test]
fn explicit_missing_file_is_an_error_naming_it() {
    let missing = fresh_dir("missing-file").join("nope.toml");
    let error = load_file(&missing, None, &[]).unwrap_err();
    assert!(
        matches!(error, EnvConfigError::ReadFile { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains(&missing.display().to_string()));

    let error = load(
        None,
        None,
        &vars(&[("TEMPORAL_CONFIG_FILE", missing.to_str().unwrap())]),
    )
    .unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains(&missing.display().to_string()),
        "{message}"
    );
    assert!(message.contains("TEMPORAL_CONFIG_FILE"), "{message}");
}

#[test]
fn environment_data_replaces_file_path() {
    let file = write_config(
            "path-vs-data",
            "[profile.default.tls]\nclient_cert_path = \"/file/cert.pem\"\nclient_key_path = \"/file/key.pem\"\n",
        );
    let options = load_file(
        &file,
        None,
        &[("TEMPORAL_TLS_CLIENT_CERT_DATA", "CERT PEM")],
    )
    .unwrap();
    let certificate = options.client_certificate.unwrap();
    assert_eq!(certificate.cert, Pem::data("CERT PEM"));
    assert_eq!(certificate.key, Pem::path("/file/key.pem"));
}

#[test]
fn path_and_data_in_the_file_is_an_error_naming_both() {
    let file = write_config(
        "both-in-file",
        "[profile.default.tls]\nserver_ca_cert_path = \"/ca.pem\"\nserver_ca_cert_data = \"CA\"\n",
    );
    let message = load_file(&file, None, &[]).unwrap_err().to_string();
    assert!(message.contains("server_ca_cert_path"), "{message}");
    assert!(message.contains("server_ca_cert_data"), "{message}");
    assert!(message.contains(&file.display().to_string()), "{message}");
}

#[test]
fn path_and_data_in_the_environment_is_an_error_naming_both() {
    let file = write_config("both-in-env", "");
    let error = load_file(
        &file,
        None,
        &[
            ("TEMPORAL_TLS_CLIENT_KEY_PATH", "/key.pem"),
            ("TEMPORAL_TLS_CLIENT_KEY_DATA", "KEY"),
        ],
    )
    .unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains("TEMPORAL_TLS_CLIENT_KEY_PATH"),
        "{message}"
    );
    assert!(
        message.contains("TEMPORAL_TLS_CLIENT_KEY_DATA"),
        "{message}"
    );
}

#[test]
fn temporal_tls_false_turns_tls_off_despite_a_tls_table() {
    let file = write_config(
        "tls-false",
        "[profile.default]\napi_key = \"k\"\n[profile.default.tls]\nserver_name = \"s\"\n",
    );
    let options = load_file(&file, None, &[("TEMPORAL_TLS", "FALSE")]).unwrap();
    assert_eq!(options.tls, TlsMode::Off);
    assert!(!options.tls_enabled());
    assert_eq!(load_file(&file, None, &[]).unwrap().tls, TlsMode::On);
}

#[test]
fn tls_disabled_in_the_file_is_off() {
    let file = write_config("tls-disabled", "[profile.default.tls]\ndisabled = true\n");
    assert_eq!(load_file(&file, None, &[]).unwrap().tls, TlsMode::Off);
    let options = load_file(&file, None, &[("TEMPORAL_TLS", "1")]).unwrap();
    assert_eq!(options.tls, TlsMode::On);
}

#[test]
fn temporal_tls_maybe_is_an_error_naming_the_variable_and_the_choices() {
    let file = write_config("tls-maybe", "");
    let error = load_file(&file, None, &[("TEMPORAL_TLS", "maybe")]).unwrap_err();
    assert!(
        matches!(error, EnvConfigError::InvalidBool { .. }),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(message.contains("TEMPORAL_TLS="), "{message}");
    assert!(message.contains("true, false, 1 or 0"), "{message}");

    let error = load_file(
        &file,
        None,
        &[("TEMPORAL_TLS_DISABLE_HOST_VERIFICATION", "yes")],
    )
    .unwrap_err();
    assert!(error
        .to_string()
        .contains("TEMPORAL_TLS_DISABLE_HOST_VERIFICATION"));
}

#[test]
fn any_tls_variable_turns_tls_on() {
    let file = write_config("tls-var", "");
    let options = load_file(&file, None, &[("TEMPORAL_TLS_SERVER_NAME", "front")]).unwrap();
    assert_eq!(options.tls, TlsMode::On);
    assert_eq!(options.server_name.as_deref(), Some("front"));

    let options = load_file(
        &file,
        None,
        &[("TEMPORAL_TLS_DISABLE_HOST_VERIFICATION", "true")],
    )
    .unwrap();
    assert_eq!(options.tls, TlsMode::On);
    assert!(options.disable_host_verification);
}

#[test]
fn api_key_without_tls_settings_leaves_tls_auto_and_enabled() {
    let file = write_config("api-key-auto", "");
    let options = load_file(&file, None, &[("TEMPORAL_API_KEY", "k")]).unwrap();
    assert_eq!(options.tls, TlsMode::Auto);
    assert!(options.tls_enabled());
}

#[test]
fn grpc_meta_from_the_file_is_normalised_and_sorted() {
    let file = write_config(
        "grpc-meta",
        "[profile.default.grpc_meta]\nZ_Last = \"z\"\nMy_Header = \"v\"\n",
    );
    let options = load_file(&file, None, &[]).unwrap();
    assert_eq!(
        options.headers,
        vec![
            ("my-header".to_owned(), "v".to_owned()),
            ("z-last".to_owned(), "z".to_owned()),
        ]
    );
}

#[test]
fn empty_grpc_meta_variable_removes_the_header_the_file_set() {
    let file = write_config(
        "grpc-meta-remove",
        "[profile.default.grpc_meta]\nx_trace = \"file\"\nkeep = \"k\"\n",
    );
    let options = load_file(
        &file,
        None,
        &[
            ("TEMPORAL_GRPC_META_X_TRACE", ""),
            ("TEMPORAL_GRPC_META_TENANT_ID", "acme"),
        ],
    )
    .unwrap();
    assert_eq!(
        options.headers,
        vec![
            ("keep".to_owned(), "k".to_owned()),
            ("tenant-id".to_owned(), "acme".to_owned()),
        ]
    );
}

#[test]
fn syntax_error_names_the_file_and_the_line() {
    let file = write_config(
        "syntax",
        "[profile.default]\naddress = \"a:1\"\napi_key = \"sk-s3cr3t\" oops\n",
    );
    let error = load_file(&file, None, &[]).unwrap_err();
    let EnvConfigError::Parse { line, .. } = &error else {
        panic!("not a parse error: {error:?}");
    };
    assert_eq!(*line, 3);
    let message = error.to_string();
    assert!(message.contains(&file.display().to_string()), "{message}");
    assert!(message.contains("line 3, column"), "{message}");
    assert!(!message.contains('\n'), "{message}");
    assert!(!message.contains("s3cr3t"), "{message}");
}

#[test]
fn wrong_type_names_the_line_and_hides_the_value() {
    let file = write_config(
        "wrong-type",
        "[profile.default]\nnamespace = \"n\"\ntls = \"s3cr3t\"\n",
    );
    let error = load_file(&file, None, &[]).unwrap_err();
    let message = error.to_string();
    assert!(message.contains("line 3"), "{message}");
    assert!(message.contains("invalid type: string"), "{message}");
    assert!(!message.contains("s3cr3t"), "{message}");
}

#[test]
fn unknown_keys_are_ignored_and_codec_is_parsed() {
    let file = write_config(
            "unknown-keys",
            "top = 1\n[profile.default]\nfuture = true\n[profile.default.codec]\nendpoint = \"http://c\"\nauth = \"a\"\n[profile.default.tls]\nnew_thing = 2\n",
        );
    assert_eq!(load_file(&file, None, &[]).unwrap().tls, TlsMode::On);
}

#[test]
fn client_certificate_without_key_is_an_error() {
    let file = write_config(
        "cert-no-key",
        "[profile.default.tls]\nclient_cert_path = \"/c.pem\"\n",
    );
    let error = load_file(&file, None, &[]).unwrap_err();
    assert!(
        matches!(error, EnvConfigError::MissingClientKey),
        "{error:?}"
    );
    assert!(error.to_string().contains("no client key"));

    let error = load_file(
        &write_config("key-no-cert", ""),
        None,
        &[("TEMPORAL_TLS_CLIENT_KEY_DATA", "KEY")],
    )
    .unwrap_err();
    assert!(matches!(error, EnvConfigError::MissingClientCertificate));
}

#[test]
fn secrets_never_appear_in_debug_or_errors() {
    let file = write_config(
            "secrets",
            "[profile.default]\napi_key = \"sk-file-s3cr3t\"\n[profile.default.tls]\nclient_cert_data = \"CERT\"\nclient_key_data = \"KEY-s3cr3t\"\n",
        );
    let options = load_file(&file, None, &[]).unwrap();
    assert_eq!(options.api_key.as_ref().unwrap().expose(), "sk-file-s3cr3t");
    let debug = format!("{options:?}");
    assert!(!debug.contains("s3cr3t"), "{debug}");

    // An error from the same configuration: the key comes without its certificate.
    let error = load_file(
        &write_config(
            "secrets-error",
            "[profile.default]\napi_key = \"sk-s3cr3t\"\n",
        ),
        None,
        &[
            ("TEMPORAL_API_KEY", "sk-env-s3cr3t"),
            ("TEMPORAL_TLS_CLIENT_KEY_DATA", "KEY-s3cr3t"),
        ],
    )
    .unwrap_err();
    for text in [error.to_string(), format!("{error:?}")] {
        assert!(!text.contains("s3cr3t"), "{text}");
    }

    let error = load_file(
        &file,
        None,
        &[
            ("TEMPORAL_TLS_CLIENT_KEY_PATH", "/k.pem"),
            ("TEMPORAL_TLS_CLIENT_KEY_DATA", "KEY-s3cr3t"),
        ],
    )
    .unwrap_err();
    for text in [error.to_string(), format!("{error:?}")] {
        assert!(!text.contains("s3cr3t"), "{text}");
    }
}

#[cfg(all(unix, not(target_os = "macos")))]
#[test]
fn config_dir_prefers_xdg_config_home_then_home() {
    let env = vars(&[("HOME", "/home/u"), ("XDG_CONFIG_HOME", "/xdg")]);
    assert_eq!(config_dir(&Env(&env)), Some(PathBuf::from("/xdg")));

    let env = vars(&[("HOME", "/home/u"), ("XDG_CONFIG_HOME", "")]);
    assert_eq!(
        config_dir(&Env(&env)),
        Some(PathBuf::from("/home/u/.config"))
    );

    // A relative XDG_CONFIG_HOME is ignored, as the XDG spec and `dirs` say.
    let env = vars(&[("HOME", "/home/u"), ("XDG_CONFIG_HOME", "rel")]);
    assert_eq!(
        config_dir(&Env(&env)),
        Some(PathBuf::from("/home/u/.config"))
    );

    assert_eq!(config_dir(&Env(&[])), None);
}

#[cfg(all(unix, not(target_os = "macos")))]
#[test]
fn default_file_is_found_under_xdg_config_home_or_home() {
    let text = "[profile.default]\nnamespace = \"from-default-file\"\n";
    let xdg = fresh_dir("xdg");
    std::fs::create_dir_all(xdg.join("temporalio")).unwrap();
    std::fs::write(xdg.join("temporalio/temporal.toml"), text).unwrap();
    let env = vars(&[
        ("HOME", "/nonexistent-home"),
        ("XDG_CONFIG_HOME", xdg.to_str().unwrap()),
    ]);
    assert_eq!(
        load(None, None, &env).unwrap().namespace,
        "from-default-file"
    );

    let home = fresh_dir("home");
    std::fs::create_dir_all(home.join(".config/temporalio")).unwrap();
    std::fs::write(home.join(".config/temporalio/temporal.toml"), text).unwrap();
    let env = vars(&[("HOME", home.to_str().unwrap())]);
    assert_eq!(
        load(None, None, &env).unwrap().namespace,
        "from-default-file"
    );
}
