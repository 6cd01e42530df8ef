package dev.llmplatform.engine.cli;

/** Parses {@code --prompt-ids 1,2,3}. */
final class TokenIds {
    private TokenIds() {
    }

    static int[] parse(String csv) {
        String[] parts = csv.trim().split("[,\\s]+");
        if (csv.isBlank()) {
            throw new IllegalArgumentException("--prompt-ids is empty: expected comma-separated token ids like 1,2,3");
        }
        int[] ids = new int[parts.length];
        for (int i = 0; i < parts.length; i++) {
            try {
                ids[i] = Integer.parseInt(parts[i]);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("--prompt-ids: '" + parts[i] + "' is not a token id (expected comma-separated integers)");
            }
        }
        return ids;
    }
}
