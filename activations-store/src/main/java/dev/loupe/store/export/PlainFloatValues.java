package dev.loupe.store.export;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.apache.parquet.bytes.BytesInput;
import org.apache.parquet.column.ColumnDescriptor;
import org.apache.parquet.column.Encoding;
import org.apache.parquet.column.values.ValuesWriter;
import org.apache.parquet.column.values.factory.DefaultValuesWriterFactory;
import org.apache.parquet.schema.PrimitiveType.PrimitiveTypeName;

/**
 * Parquet Java's values writers, except for FLOAT columns without a dictionary: those get a
 * {@link ValuesWriter} that stores each value with one {@code putFloat} into a growing little-endian
 * buffer. The bytes are the PLAIN encoding Parquet Java's own {@code PlainValuesWriter} produces
 * (4-byte little-endian IEEE 754 per value); that writer pushes every float through a stream as
 * four single-byte writes, which was 70% of a Parquet export's CPU time. Pages, levels, statistics,
 * dictionaries and the file are still Parquet Java's; its reader reads these pages back in the tests.
 */
final class PlainFloatValues extends DefaultValuesWriterFactory {
    @Override
    public ValuesWriter newValuesWriter(ColumnDescriptor column) {
        ValuesWriter stock = super.newValuesWriter(column);
        boolean plainFloat = column.getPrimitiveType().getPrimitiveTypeName() == PrimitiveTypeName.FLOAT
                && stock.getEncoding() == Encoding.PLAIN;
        return plainFloat ? new Writer() : stock;
    }

    private static final class Writer extends ValuesWriter {
        private ByteBuffer values = ByteBuffer.allocate(1 << 20).order(ByteOrder.LITTLE_ENDIAN);

        @Override
        public void writeFloat(float v) {
            if (values.remaining() < Float.BYTES) grow();
            values.putFloat(v);
        }

        private void grow() {
            ByteBuffer bigger = ByteBuffer.allocate(values.capacity() * 2).order(ByteOrder.LITTLE_ENDIAN);
            bigger.put(values.flip());
            values = bigger;
        }

        @Override
        public long getBufferedSize() {
            return values.position();
        }

        /** A view of the buffer: the page writer copies it before {@link #reset}, as with Parquet Java's writers. */
        @Override
        public BytesInput getBytes() {
            return BytesInput.from(values.array(), 0, values.position());
        }

        @Override
        public Encoding getEncoding() {
            return Encoding.PLAIN;
        }

        @Override
        public void reset() {
            values.clear();
        }

        @Override
        public long getAllocatedSize() {
            return values.capacity();
        }

        @Override
        public String memUsageString(String prefix) {
            return prefix + " PLAIN FLOAT " + values.capacity() + " bytes";
        }
    }
}
