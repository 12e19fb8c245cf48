//! The topic state as a workspace stores it (`topic_state.json`), read back for the next run.

use std::path::Path;

use super::TopicState;
use crate::error::{Error, Result};

impl TopicState {
    /// Parses a stored state (`text`, read from `path`). Fails when its topics were built from
    /// another encoder's vectors (`fingerprint` is this run's encoder): their centroids cannot be
    /// compared with this encoder's. A state written before encoders were recorded passes.
    pub fn from_stored(text: &str, path: &Path, fingerprint: &str) -> Result<TopicState> {
        let state: TopicState = serde_json::from_str(text).map_err(|source| Error::Json {
            path: path.to_path_buf(),
            source,
        })?;
        match &state.encoder {
            Some(built) if built != fingerprint => Err(Error::Invalid(format!(
                "{}: the workspace's topics were built with the encoder {built}, this config's is \
                 {fingerprint}; set embed.model back or start a new workspace",
                path.display()
            ))),
            _ => Ok(state),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn topics_of_another_encoder_are_refused() {
        let path = Path::new("topic_state.json");
        // A state from before encoders were recorded passes.
        let minilm = "all-MiniLM-L6-v2/max_tokens=128";
        assert!(TopicState::from_stored(r#"{"next_id":0,"topics":[]}"#, path, minilm).is_ok());
        let state = r#"{"next_id":0,"topics":[],"encoder":"all-MiniLM-L6-v2/max_tokens=128"}"#;
        let read = TopicState::from_stored(state, path, minilm).unwrap();
        assert_eq!(read.encoder.as_deref(), Some(minilm));
        let error = TopicState::from_stored(state, path, "multilingual-e5-small/max_tokens=128")
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("all-MiniLM-L6-v2") && error.contains("multilingual-e5-small"),
            "{error}"
        );
    }
}
