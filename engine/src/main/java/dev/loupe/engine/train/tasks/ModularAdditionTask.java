package dev.loupe.engine.train.tasks;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.autograd.Graph;
import dev.loupe.engine.model.HookedTransformer;
import dev.loupe.engine.model.Losses;
import dev.loupe.engine.model.ModelConfig;
import dev.loupe.engine.model.Tokens;
import dev.loupe.engine.train.Task;
import dev.loupe.engine.train.TaskBatch;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Modular addition, the grokking setup of Nanda et al. (2023): the input is {@code a b =} (tokens
 * {@code a}, {@code b} in {@code [0, p)} and {@code =} = {@code p}) and the model predicts
 * {@code (a + b) mod p} at the last position. A fixed, seeded fraction of all p² pairs is the
 * training set; the rest is held out. Trained full-batch (batch size = training set) with strong
 * weight decay, the model first memorises, then generalises.
 *
 * @param p             the modulus (113 in the paper)
 * @param trainFraction the share of the p² pairs used for training
 * @param splitSeed     seeds the train/test split
 */
public record ModularAdditionTask(int p, double trainFraction, long splitSeed) implements Task {

    public ModularAdditionTask {
        if (p < 2) throw new LoupeException("modular addition: p must be >= 2, got " + p);
        if (!(trainFraction > 0 && trainFraction < 1))
            throw new LoupeException("modular addition: train_fraction must be in (0, 1), got " + trainFraction);
    }

    @Override
    public String name() {
        return "modadd";
    }

    /** Vocabulary size the model needs: the p residues and '='. */
    public int dVocab() {
        return p + 1;
    }

    /** Every pair index {@code a * p + b}, shuffled by the split seed; the first part trains. */
    private int[] shuffledPairs() {
        int[] pairs = new int[p * p];
        for (int i = 0; i < pairs.length; i++) pairs[i] = i;
        SplittableRandom rng = new SplittableRandom(splitSeed);
        for (int i = pairs.length - 1; i > 0; i--) {
            int j = rng.nextInt(i + 1), t = pairs[i];
            pairs[i] = pairs[j];
            pairs[j] = t;
        }
        return pairs;
    }

    public int trainSize() {
        return (int) Math.round(trainFraction * p * p);
    }

    public int[] trainPairs() {
        return Arrays.copyOf(shuffledPairs(), trainSize());
    }

    public int[] testPairs() {
        return Arrays.copyOfRange(shuffledPairs(), trainSize(), p * p);
    }

    /** The batch of these pairs, in order. */
    public TaskBatch pairs(int[] pairs) {
        int[][] ids = new int[pairs.length][];
        int[][] targets = new int[pairs.length][];
        for (int i = 0; i < pairs.length; i++) {
            int a = pairs[i] / p, b = pairs[i] % p;
            ids[i] = new int[] {a, b, p};
            targets[i] = new int[] {Losses.IGNORE, Losses.IGNORE, (a + b) % p};
        }
        return new TaskBatch(Tokens.of(ids), targets);
    }

    /** The whole training set when {@code batchSize} equals it (full batch), else a random sample of it. */
    @Override
    public TaskBatch batch(int batchSize, SplittableRandom rng) {
        int[] train = trainPairs();
        if (batchSize > train.length)
            throw new LoupeException("modular addition: batch size " + batchSize + " is larger than the training set ("
                    + train.length + " pairs)");
        if (batchSize == train.length) return pairs(train);
        int[] sample = new int[batchSize];
        for (int i = 0; i < batchSize; i++) sample[i] = train[rng.nextInt(train.length)];
        return pairs(sample);
    }

    @Override
    public void validate(ModelConfig model, int batchSize) {
        if (batchSize > trainSize())
            throw new LoupeException("modular addition: batch size " + batchSize + " is larger than the training set ("
                    + trainSize() + " pairs of " + p * p + ")");
        if (model.nCtx() < 3)
            throw new LoupeException("modular addition: the model's n_ctx must be >= 3, got " + model.nCtx());
        if (model.dVocab() < dVocab())
            throw new LoupeException(
                    "modular addition: the model's d_vocab " + model.dVocab() + " is smaller than p + 1 = " + dVocab());
    }

    /** Loss and accuracy on the training and the held-out pairs. */
    @Override
    public Map<String, Double> evaluate(HookedTransformer model) {
        Map<String, Double> out = new LinkedHashMap<>();
        double[] train = lossAndAccuracy(model, trainPairs()), test = lossAndAccuracy(model, testPairs());
        out.put("train_loss", train[0]);
        out.put("train_accuracy", train[1]);
        out.put("test_loss", test[0]);
        out.put("test_accuracy", test[1]);
        return out;
    }

    /** {mean loss, accuracy} at the answer position over these pairs. */
    public double[] lossAndAccuracy(HookedTransformer model, int[] pairs) {
        double loss = 0;
        long correct = 0;
        for (int from = 0; from < pairs.length; from += 4096) {
            int[] chunk = Arrays.copyOfRange(pairs, from, Math.min(pairs.length, from + 4096));
            TaskBatch batch = pairs(chunk);
            try (Graph g = Graph.inference()) {
                INDArray logits = model.run(batch.tokens()); // [n, 3, d_vocab]
                loss += Losses.crossEntropy(g.constant(logits), batch.targets()).item() * chunk.length;
                INDArray answer = logits.get(
                        org.nd4j.linalg.indexing.NDArrayIndex.all(),
                        org.nd4j.linalg.indexing.NDArrayIndex.point(2),
                        org.nd4j.linalg.indexing.NDArrayIndex.interval(0, p)); // [n, p]
                int[] predicted = answer.argMax(1).toIntVector();
                for (int i = 0; i < chunk.length; i++) if (predicted[i] == batch.targets()[i][2]) correct++;
            }
        }
        return new double[] {loss / pairs.length, (double) correct / pairs.length};
    }
}
