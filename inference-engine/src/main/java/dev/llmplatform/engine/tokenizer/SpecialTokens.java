package dev.llmplatform.engine.tokenizer;

import java.util.Optional;
import java.util.OptionalInt;

/**
 * The bos/eos/unk/pad tokens named in tokenizer_config.json, with their ids in the tokenizer. A token
 * is absent when the config does not name it (or there is no config); its id is absent when the
 * tokenizer does not know the string.
 */
public final class SpecialTokens {

    static final SpecialTokens NONE = new SpecialTokens(null, null, null, null, null, null, null, null);

    private final String bos;
    private final String eos;
    private final String unk;
    private final String pad;
    private final Integer bosId;
    private final Integer eosId;
    private final Integer unkId;
    private final Integer padId;

    private SpecialTokens(String bos, Integer bosId, String eos, Integer eosId, String unk, Integer unkId, String pad, Integer padId) {
        this.bos = bos;
        this.eos = eos;
        this.unk = unk;
        this.pad = pad;
        this.bosId = bosId;
        this.eosId = eosId;
        this.unkId = unkId;
        this.padId = padId;
    }

    /** Resolves the strings' ids with {@code tokenizer}. */
    static SpecialTokens of(String bos, String eos, String unk, String pad, Tokenizer tokenizer) {
        return new SpecialTokens(bos, id(bos, tokenizer), eos, id(eos, tokenizer), unk, id(unk, tokenizer), pad, id(pad, tokenizer));
    }

    private static Integer id(String token, Tokenizer tokenizer) {
        if (token == null) {
            return null;
        }
        OptionalInt id = tokenizer.tokenId(token);
        return id.isPresent() ? id.getAsInt() : null;
    }

    public Optional<String> bosToken() {
        return Optional.ofNullable(bos);
    }

    public OptionalInt bosId() {
        return bosId == null ? OptionalInt.empty() : OptionalInt.of(bosId);
    }

    public Optional<String> eosToken() {
        return Optional.ofNullable(eos);
    }

    public OptionalInt eosId() {
        return eosId == null ? OptionalInt.empty() : OptionalInt.of(eosId);
    }

    public Optional<String> unkToken() {
        return Optional.ofNullable(unk);
    }

    public OptionalInt unkId() {
        return unkId == null ? OptionalInt.empty() : OptionalInt.of(unkId);
    }

    public Optional<String> padToken() {
        return Optional.ofNullable(pad);
    }

    public OptionalInt padId() {
        return padId == null ? OptionalInt.empty() : OptionalInt.of(padId);
    }

    @Override
    public String toString() {
        return "SpecialTokens[bos=" + bos + "(" + bosId + "), eos=" + eos + "(" + eosId + "), unk=" + unk + "(" + unkId
                + "), pad=" + pad + "(" + padId + ")]";
    }
}
