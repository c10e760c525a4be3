/**
 * Loading models from other formats into a {@link dev.loupe.engine.model.HookedTransformer}:
 * {@link dev.loupe.engine.loaders.ModelLoader} picks the format from the path;
 * {@link dev.loupe.engine.loaders.HuggingFaceModel} reads Hugging Face model folders (gpt2,
 * gpt_neox, llama, mistral, qwen2, gemma2). One {@code *Family} class per Hugging Face
 * {@code model_type} maps its config keys and tensors onto Loupe's config and weight names; see
 * {@code docs/models.md}.
 */
package dev.loupe.engine.loaders;
