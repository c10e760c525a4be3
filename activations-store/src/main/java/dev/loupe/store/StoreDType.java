package dev.loupe.store;

import dev.loupe.engine.LoupeException;
import org.nd4j.linalg.api.buffer.DataType;

/** How activations are stored on disk. Compute is always float32; rows are rounded once, when written. */
public enum StoreDType {
    F32("f32", "F32", DataType.FLOAT),
    F16("f16", "F16", DataType.HALF),
    BF16("bf16", "BF16", DataType.BFLOAT16);

    private final String label;
    private final String safetensors;
    private final DataType nd4j;

    StoreDType(String label, String safetensors, DataType nd4j) {
        this.label = label;
        this.safetensors = safetensors;
        this.nd4j = nd4j;
    }

    /** As written in the manifest and on the command line: f32, f16, bf16. */
    public String label() {
        return label;
    }

    /** The safetensors dtype name (F32, F16, BF16). */
    public String safetensorsName() {
        return safetensors;
    }

    public DataType nd4j() {
        return nd4j;
    }

    /** Bytes per element. */
    public int width() {
        return nd4j.width();
    }

    /** f32/float32, f16/float16/half, bf16/bfloat16 (case-insensitive). */
    public static StoreDType parse(String s) {
        switch (s == null ? "" : s.toLowerCase(java.util.Locale.ROOT)) {
            case "f32", "float32", "float" -> {
                return F32;
            }
            case "f16", "float16", "half", "fp16" -> {
                return F16;
            }
            case "bf16", "bfloat16" -> {
                return BF16;
            }
            default -> throw new LoupeException("dtype '" + s + "': expected f32, f16 or bf16");
        }
    }
}
