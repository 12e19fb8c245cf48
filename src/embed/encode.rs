//! Encoding texts with a loaded [`Encoder`]: tokenising, splitting long texts into sentence
//! windows, cutting length-sorted batches, running them on the backend's workers, and pooling a
//! text's windows (and removing the center) into its vector.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use rayon::prelude::*;

use super::Encoder;
use crate::error::{Error, Result};
use crate::types::Lang;

/// Cuts windows sorted by length (ascending) into consecutive batches of at most `max_windows`
/// windows and at most `max_tokens` word pieces once padded to the batch's longest window (always
/// at least one window). Returns the index ranges of the batches.
pub(super) fn token_batches(
    sorted_lengths: &[usize],
    max_windows: usize,
    max_tokens: usize,
) -> Vec<std::ops::Range<usize>> {
    let mut batches = Vec::new();
    let mut start = 0;
    while start < sorted_lengths.len() {
        let mut end = start + 1;
        while end < sorted_lengths.len()
            && end - start < max_windows
            && (end + 1 - start) * sorted_lengths[end] <= max_tokens
        {
            end += 1;
        }
        batches.push(start..end);
        start = end;
    }
    batches
}

impl Encoder {
    /// Tokenises `text` into one or more windows (at most `max_windows`, when that is set) of at
    /// most `max_tokens` ids, each framed by the tokenizer's special tokens.
    #[cfg(test)]
    pub(super) fn windows(&self, text: &str) -> Result<Vec<Vec<u32>>> {
        self.split(text).map(|(windows, _)| windows)
    }

    /// [`Encoder::windows`], and whether the text went past the last window allowed.
    pub(super) fn split(&self, text: &str) -> Result<(Vec<Vec<u32>>, bool)> {
        let prefixed;
        let text = if self.prefix.is_empty() {
            text
        } else {
            prefixed = format!("{}{text}", self.prefix);
            prefixed.as_str()
        };
        let encoding = self
            .tokenizer
            .encode(text, true)
            .map_err(|error| Error::Tokenizer(error.to_string()))?;
        let ids = encoding.get_ids();
        if ids.len() <= self.max_tokens {
            return Ok((vec![ids.to_vec()], false));
        }
        let special = encoding.get_special_tokens_mask();
        let mut head = special.iter().take_while(|&&s| s == 1).count();
        // Every window starts with the prefix.
        if !self.prefix_ids.is_empty() && ids[head..].starts_with(&self.prefix_ids) {
            head += self.prefix_ids.len();
        }
        let tail = special.iter().rev().take_while(|&&s| s == 1).count();
        let (prefix, body, suffix) = (
            &ids[..head],
            &ids[head..ids.len() - tail],
            &ids[ids.len() - tail..],
        );
        let offsets = &encoding.get_offsets()[head..ids.len() - tail];
        let room = self.max_tokens.saturating_sub(head + tail).max(1);
        let ends_sentence = |index: usize| {
            let (start, end) = offsets[index];
            matches!(text.get(start..end), Some("." | "!" | "?" | "…"))
        };
        let mut windows = Vec::new();
        let mut start = 0;
        while start < body.len() && (self.max_windows == 0 || windows.len() < self.max_windows) {
            let mut end = (start + room).min(body.len());
            if end < body.len() {
                // Prefer to end at the last sentence end in the window's second half.
                if let Some(cut) = (start + room / 2..end).rev().find(|&i| ends_sentence(i)) {
                    end = cut + 1;
                }
            }
            let mut window = Vec::with_capacity(end - start + head + tail);
            window.extend_from_slice(prefix);
            window.extend_from_slice(&body[start..end]);
            window.extend_from_slice(suffix);
            windows.push(window);
            start = end;
        }
        Ok((windows, start < body.len()))
    }

    /// Embeds `texts`; `progress` is called with the number of texts finished as batches finish
    /// (a text split into windows counts when its first window is done).
    /// The result has one L2-normalised vector per text, in the order given.
    pub fn embed(
        &self,
        texts: &[&str],
        progress: &(dyn Fn(usize) + Sync),
    ) -> Result<Vec<Vec<f32>>> {
        self.embed_in(texts, None, progress)
    }

    /// [`Encoder::embed`] for texts of known languages (`langs[i]` is the language of
    /// `texts[i]`): a model centred per language removes each text's own language's mean.
    pub fn embed_in(
        &self,
        texts: &[&str],
        langs: Option<&[Lang]>,
        progress: &(dyn Fn(usize) + Sync),
    ) -> Result<Vec<Vec<f32>>> {
        let (windows, cut): (Vec<Vec<Vec<u32>>>, Vec<bool>) = texts
            .par_iter()
            .map(|text| self.split(text))
            .collect::<Result<Vec<_>>>()?
            .into_iter()
            .unzip();
        let cut = cut.iter().filter(|&&cut| cut).count();
        self.cut_texts.fetch_add(cut, Ordering::Relaxed);
        if cut > 0 {
            tracing::debug!(
                texts = cut,
                max_windows = self.max_windows,
                max_tokens = self.max_tokens,
                "texts longer than the windows allowed: encoded from their first windows"
            );
        }
        // Every window, as (text, window) pairs.
        let units: Vec<(usize, usize)> = windows
            .iter()
            .enumerate()
            .flat_map(|(text, list)| (0..list.len()).map(move |window| (text, window)))
            .collect();
        // Length-sorted batches: ties broken by position, so batch composition is deterministic.
        let mut order: Vec<usize> = (0..units.len()).collect();
        order.sort_by_key(|&unit| {
            let (text, window) = units[unit];
            (windows[text][window].len(), unit)
        });
        let lengths: Vec<usize> = order
            .iter()
            .map(|&unit| {
                let (text, window) = units[unit];
                windows[text][window].len()
            })
            .collect();
        let batches: Vec<&[usize]> = token_batches(&lengths, self.batch_size, self.batch_tokens)
            .into_iter()
            .map(|range| &order[range])
            .collect();
        let results: Vec<Mutex<Option<Vec<Vec<f32>>>>> =
            batches.iter().map(|_| Mutex::new(None)).collect();
        let run = |worker: usize, batch_index: usize| -> Result<()> {
            let batch = batches[batch_index];
            let ids: Vec<&[u32]> = batch
                .iter()
                .map(|&unit| {
                    let (text, window) = units[unit];
                    windows[text][window].as_slice()
                })
                .collect();
            let vectors = self.runner.encode_batch(worker, &ids)?;
            let first_windows = batch.iter().filter(|&&unit| units[unit].1 == 0).count();
            *results[batch_index].lock().expect("no panics while held") = Some(vectors);
            progress(first_windows);
            Ok(())
        };
        let workers = self.runner.workers().clamp(1, batches.len().max(1));
        if workers == 1 {
            for batch_index in 0..batches.len() {
                run(0, batch_index)?;
            }
        } else {
            // Each worker pulls the next batch; the first error stops the others.
            let next = AtomicUsize::new(0);
            let failed: Mutex<Option<Error>> = Mutex::new(None);
            std::thread::scope(|scope| {
                for worker in 0..workers {
                    let (next, failed, run, batches) = (&next, &failed, &run, &batches);
                    scope.spawn(move || loop {
                        let batch_index = next.fetch_add(1, Ordering::Relaxed);
                        if batch_index >= batches.len() {
                            break;
                        }
                        if let Err(error) = run(worker, batch_index) {
                            failed
                                .lock()
                                .expect("no panics while held")
                                .get_or_insert(error);
                            next.store(batches.len(), Ordering::Relaxed);
                            break;
                        }
                    });
                }
            });
            if let Some(error) = failed.into_inner().expect("no panics while held") {
                return Err(error);
            }
        }
        // Gather: one window is the text's vector; several are averaged by their token counts.
        let mut unit_vectors: Vec<Vec<f32>> = vec![Vec::new(); units.len()];
        for (batch, result) in batches.iter().zip(results) {
            let vectors = result
                .into_inner()
                .expect("no panics while held")
                .expect("every batch ran");
            for (&unit, vector) in batch.iter().zip(vectors) {
                unit_vectors[unit] = vector;
            }
        }
        let mut output: Vec<Vec<f32>> = Vec::with_capacity(texts.len());
        let mut unit = 0;
        for list in &windows {
            if list.len() == 1 {
                output.push(std::mem::take(&mut unit_vectors[unit]));
            } else {
                let mut sum = vec![0f32; self.dim];
                for (window, vector) in list.iter().zip(&unit_vectors[unit..unit + list.len()]) {
                    let weight = window.len() as f32;
                    for (s, v) in sum.iter_mut().zip(vector) {
                        *s += weight * v;
                    }
                }
                let norm = sum.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
                sum.iter_mut().for_each(|x| *x /= norm);
                output.push(sum);
            }
            unit += list.len();
        }
        if let Some(center) = &self.center {
            for (index, vector) in output.iter_mut().enumerate() {
                center.apply(vector, langs.map(|langs| langs[index]));
            }
        }
        Ok(output)
    }
}
