package dev.llmplatform.engine.quant;

import dev.llmplatform.engine.arch.Batch;
import dev.llmplatform.engine.arch.DecoderModel;
import dev.llmplatform.engine.cpu.KvCache;
import java.util.ArrayList;
import java.util.List;

/**
 * How far a quantized model's next-token distributions are from a reference model's on the same tokens: mean KL
 * divergence KL(reference || candidate) in nats, top-1 agreement (same argmax), and each model's perplexity on the
 * text. The tokens are cut into windows of {@code window} positions, each starting with BOS (the models' context
 * is finite and kjv-demo's is 1024); every position after the BOS is scored.
 */
public final class AccuracyBenchmark {

    /** One model's figures against the reference. */
    public record Result(String name, long positions, double meanKl, double top1Agreement, double perplexity) {
    }

    private final DecoderModel reference;
    private final List<DecoderModel> candidates;
    private final List<String> names;

    public AccuracyBenchmark(DecoderModel reference, List<String> names, List<DecoderModel> candidates) {
        this.reference = reference;
        this.names = names;
        this.candidates = candidates;
        for (DecoderModel c : candidates) {
            if (c.vocabSize() != reference.vocabSize()) {
                throw new IllegalArgumentException("model " + c.name() + " has " + c.vocabSize() + " logits, the reference "
                        + reference.vocabSize());
            }
        }
    }

    /** Scores {@code tokens} (without BOS) in windows of {@code window} positions; the first result is the reference's. */
    public List<Result> run(int[] tokens, int bos, int window) {
        int vocab = reference.vocabSize();
        int n = candidates.size();
        double[] kl = new double[n];
        long[] agree = new long[n];
        double[] nll = new double[n];
        double refNll = 0;
        long positions = 0;
        int per = window - 1;
        float[] refLogits = new float[window * vocab];
        float[] logits = new float[window * vocab];
        double[] refLogp = new double[vocab];
        for (int start = 0; start + 1 < tokens.length; start += per) {
            int len = Math.min(per, tokens.length - start);
            int[] ids = new int[len + 1];
            ids[0] = bos;
            System.arraycopy(tokens, start, ids, 1, len);
            forward(reference, ids, refLogits);
            float[][] cand = new float[n][];
            for (int c = 0; c < n; c++) {
                forward(candidates.get(c), ids, logits);
                cand[c] = logits.clone();
            }
            // Position i predicts ids[i + 1]; the last position has no next token in this window.
            for (int i = 0; i < len; i++) {
                int next = i + 1 < ids.length ? ids[i + 1] : -1;
                if (next < 0) {
                    continue;
                }
                logSoftmax(refLogits, i * vocab, vocab, refLogp);
                refNll -= refLogp[next];
                int refTop = argmax(refLogits, i * vocab, vocab);
                for (int c = 0; c < n; c++) {
                    double[] lp = logSoftmax(cand[c], i * vocab, vocab, new double[vocab]);
                    double d = 0;
                    for (int v = 0; v < vocab; v++) {
                        d += Math.exp(refLogp[v]) * (refLogp[v] - lp[v]);
                    }
                    kl[c] += d;
                    nll[c] -= lp[next];
                    if (argmax(cand[c], i * vocab, vocab) == refTop) {
                        agree[c]++;
                    }
                }
                positions++;
            }
        }
        List<Result> out = new ArrayList<>();
        out.add(new Result("reference", positions, 0, 1, Math.exp(refNll / positions)));
        for (int c = 0; c < n; c++) {
            out.add(new Result(names.get(c), positions, kl[c] / positions, (double) agree[c] / positions, Math.exp(nll[c] / positions)));
        }
        return out;
    }

    private static void forward(DecoderModel m, int[] ids, float[] logits) {
        KvCache cache = m.newCache();
        Batch batch = new Batch(ids.length);
        m.forward(batch.addSequence(ids, 0, ids.length, 0, cache, true), logits);
    }

    private static double[] logSoftmax(float[] x, int off, int n, double[] out) {
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) {
            max = Math.max(max, x[off + i]);
        }
        double sum = 0;
        for (int i = 0; i < n; i++) {
            sum += Math.exp(x[off + i] - max);
        }
        double log = max + Math.log(sum);
        for (int i = 0; i < n; i++) {
            out[i] = x[off + i] - log;
        }
        return out;
    }

    private static int argmax(float[] x, int off, int n) {
        int best = 0;
        for (int i = 1; i < n; i++) {
            if (x[off + i] > x[off + best]) {
                best = i;
            }
        }
        return best;
    }
}
