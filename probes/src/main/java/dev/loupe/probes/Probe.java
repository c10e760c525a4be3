package dev.loupe.probes;

import java.nio.file.Path;
import java.util.Map;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * A linear probe: scores {@code z = x W + b} on activations {@code x [n, d]}. Classifier probes
 * ({@link LogisticProbe}, {@link MassMeanProbe}, {@link CcsProbe}) turn the scores into class
 * probabilities with a softmax over {@code W [d, classes]}; {@link RidgeProbe} predicts the scores
 * themselves. Every probe saves to and loads from a probe folder ({@link ProbeFolder}).
 */
public interface Probe {

    /** "logistic", "ridge", "mass-mean" or "ccs". */
    String kind();

    /** The hook point the probe reads (null when fitted on arrays with no hook named). */
    String hook();

    /** Feature dimension d. */
    int d();

    /** Class labels, sorted (scikit-learn's {@code classes_}); null for a regression probe. */
    int[] classes();

    /** W [d, k]: k = the number of classes (classifiers) or targets (ridge). float32. */
    INDArray weights();

    /** b [k]. float32. */
    INDArray bias();

    /** {@code x W + b}, [n, k], float32. */
    INDArray decisionFunction(INDArray x);

    /** Classifiers: the predicted class label of each row, int32 [n]; ridge: the predictions, float32 [n] (one target) or [n, t]. */
    INDArray predict(INDArray x);

    /** Class probabilities, float32 [n, classes], columns in {@link #classes()} order. */
    INDArray predictProba(INDArray x);

    /** Classifiers: accuracy on (x, y); ridge: the coefficient of determination R². */
    double score(INDArray x, int[] y);

    /**
     * The direction the probe reads, [d], in activation space: for two classes the direction of the
     * second class ({@code W[:, 1] − W[:, 0]}, scikit-learn's {@code coef_} in raw units); for a
     * mass-mean probe exactly the difference of the class means. Not normalised; see
     * {@link #unitDirection()}.
     */
    INDArray direction();

    /** {@link #direction()} scaled to unit L2 norm. */
    default INDArray unitDirection() {
        INDArray d = direction();
        return d.div(d.norm2Number());
    }

    /** Metrics recorded with the probe (train_accuracy, test_accuracy, ...), in the order recorded. */
    Map<String, Double> metrics();

    /** Records a metric; it is saved with the probe. */
    void putMetric(String name, double value);

    /** Writes the probe folder {@code dir}: probe.json and probe.safetensors, each atomically. */
    void save(Path dir);

    /** Reads a probe folder written by {@link #save}. */
    static Probe load(Path dir) {
        return ProbeFolder.load(dir);
    }
}
