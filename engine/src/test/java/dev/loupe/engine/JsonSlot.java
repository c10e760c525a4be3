package dev.loupe.engine;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;

/** One value position in a JSON tree (an object field or an array element), for fuzzers that mutate it. */
public record JsonSlot(JsonNode parent, String key, int index) {

    /**
     * Every value position below {@code root}. With {@code arraySamples > 0}, only about that many
     * elements of each array are visited, so long arrays (byte tokens) don't drown the rest.
     */
    public static List<JsonSlot> all(JsonNode root, int arraySamples) {
        List<JsonSlot> out = new ArrayList<>();
        collect(root, arraySamples, out);
        return out;
    }

    private static void collect(JsonNode node, int arraySamples, List<JsonSlot> out) {
        if (node instanceof ObjectNode o) {
            List<String> names = new ArrayList<>();
            o.fieldNames().forEachRemaining(names::add);
            for (String n : names) {
                out.add(new JsonSlot(o, n, -1));
                collect(o.get(n), arraySamples, out);
            }
        } else if (node instanceof ArrayNode a) {
            int step = arraySamples > 0 ? Math.max(1, a.size() / arraySamples) : 1;
            for (int i = 0; i < a.size(); i += step) {
                out.add(new JsonSlot(a, null, i));
                collect(a.get(i), arraySamples, out);
            }
        }
    }

    /** A value's JSON text, cut to {@code max} characters for failure logs. */
    public static String abbreviate(JsonNode v, int max) {
        String s = v.toString();
        return s.length() > max ? s.substring(0, max - 3) + "..." : s;
    }

    public JsonNode get() {
        return key != null ? parent.get(key) : parent.get(index);
    }

    public void set(JsonNode v) {
        if (key != null) ((ObjectNode) parent).set(key, v);
        else ((ArrayNode) parent).set(index, v);
    }

    public void remove() {
        if (key != null) ((ObjectNode) parent).remove(key);
        else ((ArrayNode) parent).remove(index);
    }

    @Override
    public String toString() {
        return key != null ? "." + key : "[" + index + "]";
    }
}
