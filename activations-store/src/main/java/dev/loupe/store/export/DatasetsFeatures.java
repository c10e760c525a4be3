package dev.loupe.store.export;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.arrow.vector.types.FloatingPointPrecision;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.FieldType;
import org.apache.arrow.vector.types.pojo.Schema;

/**
 * Hugging Face {@code datasets} features ({@code datasets.Features}) of an exported dataset, and the
 * Arrow schema {@code datasets} derives from them. Declared once here, for both exports: the JSON is
 * {@code Features.to_dict()} as {@code datasets} 3.x writes it into {@code dataset_info.json} and
 * into the schema metadata under {@code "huggingface"}; the Arrow types are those of
 * {@code Features.arrow_schema} ({@code get_nested_type}): every field nullable, list children named
 * {@code item}.
 *
 * <p>{@code Sequence} is spelled as {@code datasets} 3.x spells it ({@code "_type": "Sequence"});
 * {@code datasets} 4 and 5 read it as {@code List(..., length=n)} (same Arrow type), while 3.x cannot
 * read 4.x's {@code "List"}: so every {@code datasets} SAELens accepts ({@code >=3.1}) loads the export.
 */
final class DatasetsFeatures {
    /** The name pyarrow registers {@code datasets.features.Array2D}'s extension type under. */
    static final String ARRAY2D_EXTENSION = "datasets.features.features.Array2DExtensionType";

    static final String ARROW_EXTENSION_NAME = "ARROW:extension:name";
    static final String ARROW_EXTENSION_METADATA = "ARROW:extension:metadata";

    /** One feature type: its {@code to_dict()} JSON and its Arrow field. */
    sealed interface Feature permits Value, Sequence, Array2D {
        ObjectNode json();

        Field arrow(String name);
    }

    /** {@code Value(dtype)}: float32, float16, int32, int64. */
    record Value(String dtype) implements Feature {
        Value {
            arrowType(dtype);
        }

        @Override
        public ObjectNode json() {
            ObjectNode o = PythonJson.object();
            o.put("dtype", dtype);
            o.put("_type", "Value");
            return o;
        }

        @Override
        public Field arrow(String name) {
            return new Field(name, FieldType.nullable(arrowType(dtype)), null);
        }
    }

    /** {@code Sequence(feature, length=n)}: a fixed-size list, {@code pa.list_(type, n)}. */
    record Sequence(Feature feature, int length) implements Feature {
        @Override
        public ObjectNode json() {
            ObjectNode o = PythonJson.object();
            o.set("feature", feature.json());
            o.put("length", length);
            o.put("_type", "Sequence");
            return o;
        }

        @Override
        public Field arrow(String name) {
            return new Field(
                    name, FieldType.nullable(new ArrowType.FixedSizeList(length)), List.of(feature.arrow("item")));
        }
    }

    /**
     * {@code Array2D(shape=(rows, cols), dtype)}: the extension type {@code datasets} registers with
     * pyarrow, whose storage is a list of lists ({@code list<item: list<item: dtype>>}, variable-size:
     * {@code _ArrayXDExtensionType._generate_dtype}); on the wire an extension type is its storage type
     * plus two field metadata keys, the name and {@code json.dumps((shape, dtype))}.
     */
    record Array2D(int rows, int cols, String dtype) implements Feature {
        Array2D {
            arrowType(dtype);
        }

        @Override
        public ObjectNode json() {
            ObjectNode o = PythonJson.object();
            o.putArray("shape").add(rows).add(cols);
            o.put("dtype", dtype);
            o.put("_type", "Array2D");
            return o;
        }

        /** {@code __arrow_ext_serialize__}: {@code json.dumps((self.shape, self.value_type))}. */
        String extensionMetadata() {
            var shapeAndType = PythonJson.object().arrayNode();
            shapeAndType.addArray().add(rows).add(cols);
            shapeAndType.add(dtype);
            return PythonJson.dumps(shapeAndType);
        }

        @Override
        public Field arrow(String name) {
            Map<String, String> ext = new LinkedHashMap<>();
            ext.put(ARROW_EXTENSION_NAME, ARRAY2D_EXTENSION);
            ext.put(ARROW_EXTENSION_METADATA, extensionMetadata());
            Field values = new Field("item", FieldType.nullable(arrowType(dtype)), null);
            Field row = new Field("item", FieldType.nullable(ArrowType.List.INSTANCE), List.of(values));
            return new Field(name, new FieldType(true, ArrowType.List.INSTANCE, null, ext), List.of(row));
        }
    }

    private final Map<String, Feature> columns;

    /** Columns in order (a {@code datasets.Features} dict keeps insertion order). */
    DatasetsFeatures(Map<String, Feature> columns) {
        this.columns = new LinkedHashMap<>(columns);
    }

    Map<String, Feature> columns() {
        return columns;
    }

    /** {@code Features.to_dict()}. */
    ObjectNode json() {
        ObjectNode o = PythonJson.object();
        columns.forEach((name, f) -> o.set(name, f.json()));
        return o;
    }

    /**
     * The schema metadata {@code datasets}' {@code ArrowWriter} writes ({@code _build_metadata}):
     * {@code {"huggingface": json.dumps({"info": {"features": ...}})}}.
     */
    Map<String, String> schemaMetadata() {
        ObjectNode info = PythonJson.object();
        info.putObject("info").set("features", json());
        Map<String, String> m = new LinkedHashMap<>();
        m.put("huggingface", PythonJson.dumps(info));
        return m;
    }

    /** {@code Features.arrow_schema}: the Arrow fields plus {@link #schemaMetadata()}. */
    Schema arrowSchema() {
        List<Field> fields = new ArrayList<>();
        columns.forEach((name, f) -> fields.add(f.arrow(name)));
        return new Schema(fields, schemaMetadata());
    }

    /**
     * {@code dataset_info.json} as {@code Dataset.save_to_disk} writes it for a dataset made by
     * {@code Dataset.from_dict(..., features=...)} (SAELens's {@code CacheActivationsRunner}):
     * {@code asdict(DatasetInfo(features=...))} drops fields equal to their default, keeps the four
     * empty strings, and the top-level keys are sorted.
     */
    String datasetInfoJson() {
        ObjectNode o = PythonJson.object();
        o.put("citation", "");
        o.put("description", "");
        o.set("features", json());
        o.put("homepage", "");
        o.put("license", "");
        return PythonJson.dumpsIndented(o);
    }

    static ArrowType arrowType(String dtype) {
        return switch (dtype) {
            case "float32" -> new ArrowType.FloatingPoint(FloatingPointPrecision.SINGLE);
            case "float16" -> new ArrowType.FloatingPoint(FloatingPointPrecision.HALF);
            case "int32" -> new ArrowType.Int(32, true);
            case "int64" -> new ArrowType.Int(64, true);
            default -> throw new IllegalArgumentException("no datasets dtype '" + dtype + "' here");
        };
    }
}
