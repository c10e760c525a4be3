package dev.loupe.saes.io;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;

/** The saes module's one JSON mapper (cfg.json, training state); pretty-printed output. */
public final class SaeJson {
    public static final ObjectMapper MAPPER = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private SaeJson() {}
}
