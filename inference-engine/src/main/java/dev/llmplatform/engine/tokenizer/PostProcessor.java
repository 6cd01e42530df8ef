package dev.llmplatform.engine.tokenizer;

import java.util.List;
import java.util.Map;

/** tokenizer.json "post_processor": adds special tokens around an encoded sequence when asked to. */
sealed interface PostProcessor {

    int[] process(int[] ids, boolean addSpecialTokens);

    /** TemplateProcessing's "single" template: a list of special tokens and the sequence ($A). */
    record Template(List<Item> single, Map<String, int[]> specialTokens) implements PostProcessor {

        /** One template item: a special token (by its key in special_tokens) or, when null, the sequence. */
        record Item(String specialTokenKey) {
        }

        @Override
        public int[] process(int[] ids, boolean addSpecialTokens) {
            if (!addSpecialTokens) {
                return ids;
            }
            int[] out = new int[0];
            for (Item item : single) {
                out = concat(out, item.specialTokenKey() == null ? ids : specialTokens.get(item.specialTokenKey()));
            }
            return out;
        }
    }

    /** BertProcessing and RobertaProcessing: {@code cls ids sep} for a single sequence. */
    record ClsSep(int clsId, int sepId) implements PostProcessor {
        @Override
        public int[] process(int[] ids, boolean addSpecialTokens) {
            return addSpecialTokens ? concat(concat(new int[] {clsId}, ids), new int[] {sepId}) : ids;
        }
    }

    /** ByteLevel as a post-processor only trims offsets, which ids do not have. */
    record Identity() implements PostProcessor {
        @Override
        public int[] process(int[] ids, boolean addSpecialTokens) {
            return ids;
        }
    }

    record Sequence(List<PostProcessor> steps) implements PostProcessor {
        @Override
        public int[] process(int[] ids, boolean addSpecialTokens) {
            for (PostProcessor p : steps) {
                ids = p.process(ids, addSpecialTokens);
            }
            return ids;
        }
    }

    private static int[] concat(int[] a, int[] b) {
        int[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
