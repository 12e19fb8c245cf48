//! Where the model files are: one resolver that every command uses, and the committed model files
//! that `xsignal models fetch` installs next to the fetched ones.
//!
//! Order: the `--models` flag, then the `XSIGNAL_MODELS` environment variable, then the `models`
//! folder of the source checkout the binary was built in (found by walking up from the executable
//! to a folder that holds `Cargo.toml` and `models/`, as `target/release/xsignal` is), then the
//! per-user data folder `$XDG_DATA_HOME/xsignal/models` (`~/.local/share/xsignal/models` when
//! `XDG_DATA_HOME` is unset or not absolute). So an installed binary finds its models from any
//! working directory, and a binary run from a checkout keeps using the checkout's.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The environment variable that names the models folder.
pub const MODELS_ENV: &str = "XSIGNAL_MODELS";

/// The committed model files that builds of the model folders read (the sentiment adapters, the
/// trained heads (the sentiment model's refit, the frozen-MiniLM baseline), the calibration, the
/// centers of the sentiment model and of the plain multilingual encoder), compiled into the binary
/// so that an installed binary can put them into any models folder. Names are relative to the
/// folder.
pub const COMMITTED_FILES: &[(&str, &[u8])] = &[
    (
        super::SENTIMENT_ADAPTERS,
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/models/sentiment-e5-lora.safetensors"
        )),
    ),
    (
        super::SENTIMENT_CENTER,
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/models/sentiment-e5-center.json"
        )),
    ),
    (
        super::BASE_E5_CENTER,
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/models/multilingual-e5-small-center.json"
        )),
    ),
    (
        super::SENTIMENT_HEAD,
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/models/sentiment-e5-head.json"
        )),
    ),
    (
        "sentiment-e5-calibration.json",
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/models/sentiment-e5-calibration.json"
        )),
    ),
    (
        "sentiment-head.json",
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/models/sentiment-head.json"
        )),
    ),
];

/// Where the models folder was found, and by which rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelsDir {
    /// The folder.
    pub path: PathBuf,
    /// Which rule chose it.
    pub from: ModelsDirSource,
}

/// The rule that chose a [`ModelsDir`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModelsDirSource {
    /// The `--models` flag.
    Flag,
    /// The `XSIGNAL_MODELS` environment variable.
    Environment,
    /// The `models` folder of the checkout that holds the executable.
    Checkout,
    /// The per-user data folder.
    UserData,
}

impl ModelsDirSource {
    /// How messages name the rule.
    pub fn describe(self) -> &'static str {
        match self {
            ModelsDirSource::Flag => "--models",
            ModelsDirSource::Environment => MODELS_ENV,
            ModelsDirSource::Checkout => "the checkout of the executable",
            ModelsDirSource::UserData => "the per-user data folder",
        }
    }
}

/// What the resolver reads from the process: kept apart so that tests can give their own.
#[derive(Clone, Debug, Default)]
pub struct ModelsDirInputs {
    /// The `--models` flag.
    pub flag: Option<PathBuf>,
    /// `XSIGNAL_MODELS`.
    pub env: Option<OsString>,
    /// The running executable.
    pub exe: Option<PathBuf>,
    /// `XDG_DATA_HOME`.
    pub xdg_data_home: Option<OsString>,
    /// `HOME`.
    pub home: Option<OsString>,
}

impl ModelsDirInputs {
    /// The inputs of this process, with the `--models` flag given.
    pub fn from_process(flag: Option<&Path>) -> ModelsDirInputs {
        ModelsDirInputs {
            flag: flag.map(Path::to_path_buf),
            env: std::env::var_os(MODELS_ENV),
            // The resolved path, so that a symlink to the binary (e.g. in ~/bin) still finds its
            // checkout.
            exe: std::env::current_exe()
                .ok()
                .map(|exe| std::fs::canonicalize(&exe).unwrap_or(exe)),
            xdg_data_home: std::env::var_os("XDG_DATA_HOME"),
            home: std::env::var_os("HOME"),
        }
    }
}

/// The models folder of this process (see the module doc for the order).
pub fn resolve_models_dir(flag: Option<&Path>) -> ModelsDir {
    resolve_models_dir_from(&ModelsDirInputs::from_process(flag))
}

/// The models folder for `inputs`: flag, environment, checkout, per-user data folder.
pub fn resolve_models_dir_from(inputs: &ModelsDirInputs) -> ModelsDir {
    let chosen = |path: PathBuf, from| ModelsDir { path, from };
    if let Some(flag) = &inputs.flag {
        return chosen(flag.clone(), ModelsDirSource::Flag);
    }
    if let Some(env) = inputs.env.as_ref().filter(|value| !value.is_empty()) {
        return chosen(PathBuf::from(env), ModelsDirSource::Environment);
    }
    if let Some(checkout) = inputs.exe.as_deref().and_then(checkout_of) {
        return chosen(checkout.join("models"), ModelsDirSource::Checkout);
    }
    let absolute = |value: &Option<OsString>| {
        value
            .as_ref()
            .map(PathBuf::from)
            .filter(|path| path.is_absolute())
    };
    let data_home = absolute(&inputs.xdg_data_home)
        .or_else(|| absolute(&inputs.home).map(|home| home.join(".local/share")))
        // No home at all (a bare service account): the working directory's `models`.
        .unwrap_or_default();
    let path = if data_home.as_os_str().is_empty() {
        PathBuf::from("models")
    } else {
        data_home.join("xsignal/models")
    };
    chosen(path, ModelsDirSource::UserData)
}

/// The source checkout that holds `exe`: the nearest folder above it with a `Cargo.toml` and a
/// `models` folder.
pub fn checkout_of(exe: &Path) -> Option<PathBuf> {
    exe.ancestors()
        .skip(1)
        .find(|dir| dir.join("Cargo.toml").is_file() && dir.join("models").is_dir())
        .map(Path::to_path_buf)
}

/// Writes the [`COMMITTED_FILES`] into `models_dir` where they are missing; an existing file (a
/// checkout's, or one retrained there) is kept. Returns the names written.
pub fn install_committed_files(models_dir: &Path) -> Result<Vec<&'static str>> {
    std::fs::create_dir_all(models_dir).map_err(|source| Error::io(models_dir, source))?;
    let mut written = Vec::new();
    for (name, bytes) in COMMITTED_FILES {
        let path = models_dir.join(name);
        if path.is_file() {
            continue;
        }
        std::fs::write(&path, bytes).map_err(|source| Error::io(&path, source))?;
        written.push(*name);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake checkout with a binary under `target/release`, and a home folder.
    fn layout() -> (tempfile::TempDir, PathBuf, PathBuf) {
        let root = tempfile::tempdir().unwrap();
        let checkout = root.path().join("src/xsignal");
        std::fs::create_dir_all(checkout.join("models")).unwrap();
        std::fs::create_dir_all(checkout.join("target/release")).unwrap();
        std::fs::write(checkout.join("Cargo.toml"), "[package]\n").unwrap();
        let exe = checkout.join("target/release/xsignal");
        std::fs::write(&exe, "").unwrap();
        let home = root.path().join("home");
        std::fs::create_dir_all(&home).unwrap();
        (root, checkout, exe)
    }

    #[test]
    fn flag_then_environment_then_checkout_then_user_data() {
        let (root, checkout, exe) = layout();
        let home = root.path().join("home");
        let mut inputs = ModelsDirInputs {
            flag: Some(PathBuf::from("/flag/models")),
            env: Some(OsString::from("/env/models")),
            exe: Some(exe.clone()),
            xdg_data_home: Some(OsString::from("/xdg")),
            home: Some(home.clone().into_os_string()),
        };
        let resolved = resolve_models_dir_from(&inputs);
        assert_eq!(resolved.path, PathBuf::from("/flag/models"));
        assert_eq!(resolved.from, ModelsDirSource::Flag);

        inputs.flag = None;
        let resolved = resolve_models_dir_from(&inputs);
        assert_eq!(resolved.path, PathBuf::from("/env/models"));
        assert_eq!(resolved.from, ModelsDirSource::Environment);

        // An empty variable counts as unset.
        inputs.env = Some(OsString::new());
        let resolved = resolve_models_dir_from(&inputs);
        assert_eq!(resolved.path, checkout.join("models"));
        assert_eq!(resolved.from, ModelsDirSource::Checkout);

        // An installed binary (no checkout above it): the per-user data folder.
        let installed = root.path().join("home/.cargo/bin/xsignal");
        std::fs::create_dir_all(installed.parent().unwrap()).unwrap();
        inputs.exe = Some(installed);
        let resolved = resolve_models_dir_from(&inputs);
        assert_eq!(resolved.path, PathBuf::from("/xdg/xsignal/models"));
        assert_eq!(resolved.from, ModelsDirSource::UserData);

        // A relative XDG_DATA_HOME is ignored, as the XDG spec says.
        inputs.xdg_data_home = Some(OsString::from("relative"));
        assert_eq!(
            resolve_models_dir_from(&inputs).path,
            home.join(".local/share/xsignal/models")
        );
        inputs.xdg_data_home = None;
        inputs.home = None;
        assert_eq!(
            resolve_models_dir_from(&inputs).path,
            PathBuf::from("models")
        );
    }

    #[test]
    fn a_folder_without_models_is_not_a_checkout() {
        let (_root, checkout, exe) = layout();
        assert_eq!(checkout_of(&exe), Some(checkout.clone()));
        std::fs::remove_dir(checkout.join("models")).unwrap();
        assert_eq!(checkout_of(&exe), None);
    }

    #[test]
    fn committed_files_are_installed_once_and_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let models = dir.path().join("user/models");
        let written = install_committed_files(&models).unwrap();
        assert_eq!(written.len(), COMMITTED_FILES.len());
        for (name, bytes) in COMMITTED_FILES {
            assert_eq!(&std::fs::read(models.join(name)).unwrap(), bytes, "{name}");
        }
        std::fs::write(models.join("sentiment-head.json"), "{}").unwrap();
        assert!(install_committed_files(&models).unwrap().is_empty());
        assert_eq!(
            std::fs::read_to_string(models.join("sentiment-head.json")).unwrap(),
            "{}"
        );
    }
}
