/**
 * Tokenizers that reproduce their references id for id: byte-level BPE (GPT-2, GPT-NeoX, Llama 3,
 * Qwen2) and SentencePiece-style BPE (Llama 2, Mistral, Gemma) from Hugging Face files, and
 * llama2.c's {@code tokenizer.bin}. Start at {@link dev.loupe.engine.tokenizer.Tokenizers#load};
 * the API ({@link dev.loupe.engine.tokenizer.Tokenizer}) uses TransformerLens's names.
 *
 * <p>Every malformed or unsupported file, and every invalid input (unpaired surrogates, invalid
 * UTF-8 bytes, unknown ids), is a {@link dev.loupe.engine.LoupeException} whose message names the
 * file or input and what was expected. See docs/tokenizers.md for formats, conventions and the
 * golden files that prove exactness.
 */
package dev.loupe.engine.tokenizer;
