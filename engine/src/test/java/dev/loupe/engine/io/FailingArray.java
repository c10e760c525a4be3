package dev.loupe.engine.io;

import com.google.flatbuffers.FlatBufferBuilder;
import org.nd4j.linalg.api.buffer.DataBuffer;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.BaseNDArray;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.shape.LongShapeDescriptor;
import org.nd4j.linalg.factory.Nd4j;

/**
 * An 'f'-ordered FLOAT array whose conversion to c order fails — the writers' serialisation step —
 * so tests can make a write fail halfway through, after earlier tensors reached the disk.
 * Backend-independent: it extends ND4J's API base class, not a backend's array class.
 */
final class FailingArray extends BaseNDArray {

    static final String MESSAGE = "simulated failure while serialising";

    FailingArray(long rows, long columns) {
        super(
                Nd4j.createBuffer(new float[(int) (rows * columns)]),
                new long[] {rows, columns},
                new long[] {1, rows},
                0,
                'f',
                DataType.FLOAT);
    }

    @Override
    public INDArray dup(char order) {
        throw new IllegalStateException(MESSAGE);
    }

    @Override
    protected int stringBuffer(FlatBufferBuilder builder, DataBuffer buffer) {
        throw new UnsupportedOperationException();
    }

    @Override
    public INDArray unsafeDuplication() {
        throw new IllegalStateException(MESSAGE);
    }

    @Override
    public INDArray unsafeDuplication(boolean blocking) {
        throw new IllegalStateException(MESSAGE);
    }

    @Override
    public LongShapeDescriptor shapeDescriptor() {
        return LongShapeDescriptor.fromShape(shape(), stride(), elementWiseStride(), ordering(), dataType(), false);
    }

    @Override
    public String getString(long index) {
        throw new UnsupportedOperationException();
    }
}
