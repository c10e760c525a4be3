package dev.loupe.engine.model;

import dev.loupe.engine.LoupeException;
import dev.loupe.engine.tokenizer.Tokenizer;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.ops.transforms.Transforms;
import tech.tablesaw.api.DoubleColumn;
import tech.tablesaw.api.IntColumn;
import tech.tablesaw.api.StringColumn;
import tech.tablesaw.api.Table;

/**
 * What TransformerLens's {@code utils.test_prompt} prints, as data: how the model ranks each token
 * of an answer after a prompt. Made by {@link HookedTransformer#testPrompt}.
 *
 * @param promptTokens the prompt's tokens as text (BOS first when prepended)
 * @param answers      one entry per answer token, in order
 */
public record PromptTest(List<String> promptTokens, List<AnswerToken> answers) {

    /**
     * One answer token: its rank among all tokens at the position before it (0 = the model's top
     * choice), its logit and probability there, and the {@code top} tokens there, best first.
     */
    public record AnswerToken(String token, int id, int rank, double logit, double prob, List<Candidate> top) {}

    /** A token the model predicts, with its logit and probability. */
    public record Candidate(String token, int id, double logit, double prob) {}

    static PromptTest run(
            HookedTransformer model,
            String prompt,
            String answer,
            boolean prependSpaceToAnswer,
            boolean prependBos,
            int topK) {
        if (answer == null || answer.isEmpty()) throw new LoupeException("testPrompt: the answer is empty");
        if (topK < 0) throw new LoupeException("testPrompt: topK must be >= 0, got " + topK);
        if (prependSpaceToAnswer && !answer.startsWith(" ")) answer = " " + answer;
        Tokenizer tok = model.tokenizer();
        // As TransformerLens: prompt and answer tokenized together; the answer's tokens are those after the prompt's.
        int[] ids = tok.toTokens(prompt + answer, prependBos);
        List<String> promptTokens = model.toStrTokens(prompt, prependBos);
        int promptLength = promptTokens.size(), answerLength = tok.toTokens(answer, false).length;
        if (promptLength == 0)
            throw new LoupeException("testPrompt: the prompt has no tokens (give text, or prependBos)");
        if (promptLength + answerLength != ids.length)
            throw new LoupeException("testPrompt: prompt + answer tokenize to " + ids.length + " tokens, not the "
                    + promptLength + " + " + answerLength + " of prompt and answer apart");
        INDArray logits = model.run(Tokens.of(ids)).slice(0); // [pos, d_vocab]
        INDArray probs = Transforms.softmax(logits.castTo(org.nd4j.linalg.api.buffer.DataType.DOUBLE), true);
        List<AnswerToken> answers = new ArrayList<>();
        for (int index = promptLength; index < ids.length; index++) {
            int id = ids[index];
            INDArray p = probs.getRow(index - 1); // the position before predicts this token
            INDArray l = logits.getRow(index - 1);
            double prob = p.getDouble(id);
            // rank: how many tokens are more likely (ties broken by id, as a stable descending sort)
            int rank = p.gt(prob)
                    .castTo(org.nd4j.linalg.api.buffer.DataType.INT)
                    .sumNumber()
                    .intValue();
            INDArray order = Nd4j.sortWithIndices(p.dup(), 0, false)[0];
            List<Candidate> top = new ArrayList<>();
            for (int k = 0; k < Math.min(topK, order.length()); k++) {
                int c = order.getInt(k);
                top.add(new Candidate(tok.decode(new int[] {c}), c, l.getDouble(c), p.getDouble(c)));
            }
            answers.add(new AnswerToken(tok.decode(new int[] {id}), id, rank, l.getDouble(id), prob, List.copyOf(top)));
        }
        return new PromptTest(List.copyOf(promptTokens), List.copyOf(answers));
    }

    /** The answer's ranks in order: TransformerLens's "Ranks of the answer tokens". */
    public int[] ranks() {
        return answers.stream().mapToInt(AnswerToken::rank).toArray();
    }

    /** One row per answer token: token, id, rank, logit, prob. */
    public Table table() {
        Table t = Table.create("answer tokens");
        t.addColumns(
                StringColumn.create("token", answers.stream().map(AnswerToken::token)),
                IntColumn.create(
                        "id", answers.stream().mapToInt(AnswerToken::id).toArray()),
                IntColumn.create("rank", ranks()),
                DoubleColumn.create("logit", answers.stream().mapToDouble(AnswerToken::logit)),
                DoubleColumn.create("prob", answers.stream().mapToDouble(AnswerToken::prob)));
        return t;
    }

    /** The top tokens at the position before answer token {@code i}: token, id, logit, prob. */
    public Table topTable(int i) {
        if (i < 0 || i >= answers.size())
            throw new LoupeException("topTable: answer token " + i + " out of range [0, " + answers.size() + ")");
        List<Candidate> top = answers.get(i).top();
        Table t = Table.create("top tokens before |" + answers.get(i).token() + "|");
        t.addColumns(
                StringColumn.create("token", top.stream().map(Candidate::token)),
                IntColumn.create("id", top.stream().mapToInt(Candidate::id).toArray()),
                DoubleColumn.create("logit", top.stream().mapToDouble(Candidate::logit)),
                DoubleColumn.create("prob", top.stream().mapToDouble(Candidate::prob)));
        return t;
    }

    /** The text TransformerLens prints. */
    @Override
    public String toString() {
        StringBuilder s = new StringBuilder();
        s.append("Tokenized prompt: ").append(quoted(promptTokens)).append('\n');
        s.append("Tokenized answer: ")
                .append(quoted(answers.stream().map(AnswerToken::token).toList()))
                .append('\n');
        List<String> ranks = new ArrayList<>();
        for (AnswerToken a : answers) {
            s.append(String.format(
                    Locale.ROOT,
                    "Performance on answer token:%nRank: %-8d Logit: %5.2f Prob: %6.2f%% Token: |%s|%n",
                    a.rank(),
                    a.logit(),
                    100 * a.prob(),
                    a.token()));
            for (int k = 0; k < a.top().size(); k++) {
                Candidate c = a.top().get(k);
                s.append(String.format(
                        Locale.ROOT,
                        "Top %dth token. Logit: %5.2f Prob: %6.2f%% Token: |%s|%n",
                        k,
                        c.logit(),
                        100 * c.prob(),
                        c.token()));
            }
            ranks.add("('" + a.token() + "', " + a.rank() + ")");
        }
        s.append("Ranks of the answer tokens: [")
                .append(String.join(", ", ranks))
                .append(']');
        return s.toString();
    }

    private static String quoted(List<String> tokens) {
        return tokens.stream().map(t -> "'" + t + "'").toList().toString();
    }
}
