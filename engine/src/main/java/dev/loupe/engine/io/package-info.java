/**
 * Reading and writing tensors in the interchange formats Loupe meets in practice: Hugging Face
 * <a href="https://github.com/huggingface/safetensors">safetensors</a> (model weights) and numpy
 * {@code .npy} (golden outputs, single arrays exchanged with Python).
 *
 * <p>Every failure caused by a malformed file or an unsupported array is a
 * {@link dev.loupe.engine.LoupeException} whose message names the file (and the tensor, where one
 * is concerned) and says what was expected; I/O failures are wrapped the same way, with the
 * {@link java.io.IOException} as cause. Writers are crash-safe: they write a temporary file next to
 * the target, force it to disk and rename it over the target atomically
 * ({@link dev.loupe.engine.io.AtomicFileWriter}), so a reader never sees a half-written file.
 *
 * <p>All data is little-endian and arrays are returned in c (row-major) order.
 */
package dev.loupe.engine.io;
