/**
 * Hugging Face Hub access: resolving {@code fromPretrained("gpt2")}-style names to local folders
 * through the standard Hugging Face cache, downloading what is missing.
 *
 * <p>{@link dev.loupe.engine.hub.Pretrained#resolve(String)} is the entry point;
 * {@link dev.loupe.engine.hub.HubClient} downloads (resumable, size- and SHA-256-verified, with a
 * terminal progress bar); {@link dev.loupe.engine.hub.HubCache} reads and writes the cache layout
 * huggingface_hub uses ({@code models--org--name/{refs,blobs,snapshots}}), so Python and Loupe share
 * downloads; {@link dev.loupe.engine.hub.HubSettings} reads {@code HF_HOME}, {@code HF_HUB_CACHE},
 * {@code HF_ENDPOINT}, {@code HF_TOKEN}, {@code HF_HUB_OFFLINE} and friends from an explicit
 * environment map. Only the JDK's {@link java.net.http.HttpClient} is used. See
 * {@code docs/pretrained.md}.
 */
package dev.loupe.engine.hub;
